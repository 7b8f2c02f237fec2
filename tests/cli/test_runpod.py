"""`make runpod-up|down|ssh` and `mjpod runpod …` end to end: Make variables -> the mjpod command -> the
real runpod SDK -> a local server speaking Runpod's GraphQL API."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.cli_runner import run_mjpod
from tests.cloud.runpod_api import SSH_IP, SSH_PORT, FakeRunpod
from tests.docker.appliance import ROOT


@pytest.fixture
def api():
    with FakeRunpod() as fake:
        yield fake


@pytest.fixture
def home(tmp_path):
    """A HOME with one SSH key pair and no Runpod credentials file."""
    (tmp_path / ".ssh").mkdir()
    key = tmp_path / ".ssh" / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return tmp_path


def env_for(api: FakeRunpod, home, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_KEY", "RUNPOD_API_KEY")}
    return {
        **env,
        "HOME": str(home),
        "RUNPOD_API_BASE_URL": api.url,
        "RUNPOD_REST_BASE_URL": api.rest_url,
        "RUNPOD_API_KEY": api.api_key,
        **extra,
    }


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, env={**env, "COLUMNS": "200"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_make_runpod_up_creates_the_pod_and_prints_ssh_and_vs_code_config(api, home):
    key = home / ".ssh" / "id_ed25519"
    result = make(
        "runpod-up", "IMAGE=docker.io/me/mjpod", "TAG=0.1", f"SSH_PUBKEY={key}.pub", env=env_for(api, home)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (call,) = api.fields("podFindAndDeployOnDemand")
    sent = call.args["input"]
    assert sent["imageName"] == "docker.io/me/mjpod:0.1"
    assert sent["gpuTypeId"] == "NVIDIA GeForce RTX 4090"
    assert sent["cloudType"] == "SECURE"
    assert sent["ports"] == "22/tcp"
    assert {"key": "PUBLIC_KEY", "value": key.with_suffix(".pub").read_text().strip()} in sent["env"]
    out = result.stdout
    assert f"ssh root@{SSH_IP} -p {SSH_PORT} -i {key}" in out
    assert "Host mjpod-mjpod" in out and f"Port {SSH_PORT}" in out and "IdentityFile ~/.ssh/id_ed25519" in out


def test_missing_api_key_is_named_before_anything_is_sent(api, home):
    env = env_for(api, home)
    del env["RUNPOD_API_KEY"]
    result = run_mjpod("runpod", "up", "--image", "docker.io/me/mjpod:0.1", **{**env, "RUNPOD_API_KEY": ""})
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "RUNPOD_API_KEY is not set" in message and "API Keys" in message
    assert not api.calls


def test_api_error_is_reported_with_its_fix(api, home):
    api.graphql_error = "There are no longer any instances available with the requested specifications."
    result = run_mjpod(
        "runpod", "up", "--image", "docker.io/me/mjpod:0.1", "--cloud", "secure", **env_for(api, home)
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # rich wraps long lines
    assert "no longer any instances available" in message and "--cloud ALL" in message


def test_ssh_and_down_find_the_pod_by_name(api, home):
    pod_id = api.add_pod("mjpod")
    env = env_for(api, home)
    shown = run_mjpod("runpod", "ssh", **env)
    assert shown.returncode == 0, shown.stderr
    assert f"ssh root@{SSH_IP} -p {SSH_PORT}" in shown.stdout
    assert f"HostKeyAlias mjpod-{pod_id}" in shown.stdout
    ended = make("runpod-down", env=env)
    assert ended.returncode == 0, ended.stderr
    assert f"pod {pod_id} (mjpod) terminated" in ended.stdout
    assert pod_id not in api.pods


def test_gpus_lists_the_type_ids_that_gpu_takes(api, home):
    result = run_mjpod("runpod", "gpus", **env_for(api, home))
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert lines == [  # id, memory, display name; smallest memory first
        ["NVIDIA", "GeForce", "RTX", "4090", "24", "GB", "RTX", "4090"],
        ["NVIDIA", "A40", "48", "GB", "A40"],
        ["NVIDIA", "H100", "80GB", "HBM3", "80", "GB", "H100", "SXM"],
    ]
    assert [c.field for c in api.calls] == ["gpuTypes"]


def test_make_runpod_down_with_stop_keeps_the_pod_and_its_volume(api, home):
    pod_id = api.add_pod("mjpod")
    ended = make("runpod-down", "ARGS=--stop", env=env_for(api, home))
    assert ended.returncode == 0, ended.stderr
    assert f"pod {pod_id} (mjpod) stopped" in ended.stdout
    assert pod_id in api.pods, "terminated instead of stopped"
    assert api.pods[pod_id]["desiredStatus"] == "EXITED"
    assert [c.args["input"] for c in api.fields("podStop")] == [{"podId": pod_id}]
    assert not api.fields("podTerminate")


def test_up_spot_says_the_price_it_got(api, home):
    result = run_mjpod(
        "runpod", "up", "--image", "docker.io/me/mjpod:0.1", "--spot", "--bid", "0.45", "--wait", "0",
        **env_for(api, home),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "creating a spot pod 'mjpod'" in out
    assert "spot price: $0.450/hr for 1 GPU(s)" in out
    assert "note: a spot pod keeps /workspace on its own pod volume" in out  # no network volume given
    assert [c.field for c in api.calls if c.field.startswith("pod")] == ["podRentInterruptable"]


def test_down_says_what_a_network_volume_keeps(api, home):
    volume = api.add_volume("mjpod-data", "EU-RO-1")
    pod_id = api.add_pod("mjpod", networkVolumeId=volume, volumeInGb=0)
    ended = run_mjpod("runpod", "down", **env_for(api, home))
    assert ended.returncode == 0, ended.stderr
    out = " ".join(ended.stdout.split())
    assert f"pod {pod_id} (mjpod) terminated" in out
    assert (
        f"kept: network volume mjpod-data ({volume}, 50 GB, EU-RO-1) with /workspace (videos, sweep results"
        in out
    )
    assert f"the next pod mounts it with --network-volume {volume}" in out
    assert "lost: the container disk" in out


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((), "lost: the pod's 20 GB volume at /workspace"),
        (("--stop",), "kept: the pod's 20 GB volume at /workspace"),
    ],
)
def test_down_says_what_a_pod_volume_loses_or_keeps(api, home, args, line):
    api.add_pod("mjpod", volumeInGb=20)
    ended = run_mjpod("runpod", "down", *args, **env_for(api, home))
    assert ended.returncode == 0, ended.stderr
    assert line in " ".join(ended.stdout.split())


def test_volumes_lists_id_data_centre_size_and_name(api, home):
    first = api.add_volume("sweeps", "US-KS-2", size=100)
    second = api.add_volume("mjpod-data", "EU-RO-1")
    listed = run_mjpod("runpod", "volumes", **env_for(api, home))
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    assert rows == [[second, "EU-RO-1", "50", "GB", "mjpod-data"], [first, "US-KS-2", "100", "GB", "sweeps"]]
