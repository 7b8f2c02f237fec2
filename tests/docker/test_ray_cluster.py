"""The cluster configs, checked statically (no Docker engine or Kubernetes here): the compose Ray
profile against the Compose specification, the KubeRay manifest for the fields and values that keep
Ray private and authenticated, and both for one GPU per worker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.ray.yaml"
KUBERAY = ROOT / "deploy" / "kuberay" / "raycluster.yaml"
CHECK = [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]


def locked_ray() -> str:
    return re.search(r"^ray==(\S+)", (ROOT / "requirements.lock").read_text(), re.M).group(1)


def test_compose_ray_profile_validates_against_the_compose_spec():
    result = subprocess.run([*CHECK, str(COMPOSE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def services(profile: str) -> dict[str, dict]:
    """The services `docker compose --profile PROFILE up` starts (anchors and merge keys resolved)."""
    every = yaml.safe_load(COMPOSE.read_text())["services"]
    return {n: s for n, s in every.items() if not s.get("profiles") or profile in s["profiles"]}


@pytest.mark.parametrize("gpus", [1, 4, 8])
def test_compose_starts_a_head_and_one_worker_per_gpu(gpus):
    started = services(f"gpus-{gpus}")
    workers = {n: s for n, s in started.items() if n != "ray-head"}
    assert len(workers) == gpus
    devices = sorted(
        s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0] for s in workers.values()
    )
    assert devices == [str(i) for i in range(gpus)]  # each GPU once
    for s in workers.values():
        assert "--address=ray-head:6379" in s["command"] and "--num-gpus=1" in s["command"]


def test_compose_ray_publishes_nothing_and_keeps_token_auth():
    for name, s in {**services("gpus-8"), **services("cpu")}.items():
        assert "ports" not in s and s.get("network_mode") != "host", name
        assert s["environment"]["RAY_AUTH_MODE"] == "token", name
        assert (
            s["environment"]["RAY_AUTH_TOKEN_PATH"] == "/run/secrets/ray_token"
            and "ray_token" in s["secrets"]
        )
        assert s["volumes"] == ["workspace:/workspace"], name  # one shared output folder
    head = services("cpu")["ray-head"]["command"]
    assert "--head" in head and "--include-dashboard=false" in head
    assert ".ray-token" in (ROOT / ".gitignore").read_text()


def kuberay() -> tuple[dict, dict]:
    docs = list(yaml.safe_load_all(KUBERAY.read_text()))
    cluster = next(d for d in docs if d["kind"] == "RayCluster")
    claim = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    return cluster, claim


# RayClusterSpec fields of KubeRay's ray.io/v1 API (its CRD reference); a typo here would be dropped silently
RAYCLUSTER_SPEC = {
    "authOptions", "autoscalerOptions", "enableInTreeAutoscaling", "gcsFaultToleranceOptions",
    "headGroupSpec", "headServiceAnnotations", "managedBy", "rayVersion", "suspend", "upgradeStrategy",
    "workerGroupSpecs",
}  # fmt: skip
HEAD_GROUP = {"enableIngress", "headService", "rayStartParams", "serviceType", "template", "resources"}
WORKER_GROUP = {
    "groupName", "replicas", "minReplicas", "maxReplicas", "idleTimeoutSeconds", "rayStartParams",
    "scaleStrategy", "suspend", "template", "numOfHosts", "resources",
}  # fmt: skip


def test_kuberay_manifest_keeps_ray_private_authenticated_and_on_the_locked_version():
    cluster, claim = kuberay()
    spec = cluster["spec"]
    assert cluster["apiVersion"] == "ray.io/v1"
    assert set(spec) <= RAYCLUSTER_SPEC and set(spec["headGroupSpec"]) <= HEAD_GROUP
    assert all(set(g) <= WORKER_GROUP for g in spec["workerGroupSpecs"])
    assert spec["authOptions"] == {"mode": "token"}
    assert spec["rayVersion"] == locked_ray()
    assert spec["headGroupSpec"]["serviceType"] == "ClusterIP"
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    for group in groups:
        assert all(isinstance(v, str) for v in group["rayStartParams"].values()), "rayStartParams are strings"
        pod = group["template"]["spec"]
        assert not pod.get("hostNetwork")
        (container,) = pod["containers"]
        assert "ports" not in container or all("hostPort" not in p for p in container["ports"])
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert (
            volumes[mounts["/workspace"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        )
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every pod writes the sweep's output
    for group in spec["workerGroupSpecs"]:
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == "1"  # one GPU per worker: one GPU job per worker
