"""Static checks of the appliance image that run anywhere (no Docker engine): the Dockerfile lints
clean, everything it copies is in the build context, and it agrees with compose.yaml, the Makefile
and the entrypoint. Each test names the failure it guards against."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(str(ROOT / "Dockerfile"))


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load((ROOT / "compose.yaml").read_text())


def instructions(df: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in df.structure if i["instruction"] == name]


def exec_form(value: str) -> list[str]:
    return json.loads(value)


def test_hadolint_passes_with_the_committed_config():
    """Dockerfile mistakes (unpinned bases, shell pitfalls in RUN, untrusted registries) fail here."""
    result = subprocess.run(
        [str(BIN / "hadolint"), "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_hadolint_config_is_in_force(tmp_path):
    """A config hadolint silently ignored would make the test above pass on anything: with the
    failure threshold at style, even an info-level finding (a `cd` instead of WORKDIR) fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text((ROOT / "Dockerfile").read_text().replace("WORKDIR /opt/mjpod", "RUN cd /opt/mjpod"))
    result = subprocess.run(
        [str(BIN / "hadolint"), "--config", str(ROOT / ".hadolint.yaml"), str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "DL3003" in result.stdout


def test_every_ignored_hadolint_rule_carries_a_reason():
    text = (ROOT / ".hadolint.yaml").read_text()
    ignored = YAML(typ="safe").load(text).get("ignored") or []
    for rule in ignored:
        before = text[: text.index(f"- {rule}")].rstrip().splitlines()[-1]
        assert before.strip().startswith("#") and rule in before, f"{rule} is ignored without a reason"


def _ignored_by_dockerignore(path: str) -> bool:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(c, p) or (p.startswith("**/") and fnmatch.fnmatch(Path(c).name, p[3:]))
        for p in patterns
        for c in candidates
    )


def test_every_copy_source_exists_in_the_build_context(dockerfile):
    """A renamed file breaks `docker build` only on a machine with Docker; it fails here first."""
    sources = []
    for value in instructions(dockerfile, "COPY"):
        words = shlex.split(value)
        if any(w.startswith("--from=") for w in words):
            continue
        sources += [w for w in words if not w.startswith("--")][:-1]
    assert sources, "no COPY from the build context found"
    for src in sources:
        if src == ".":
            continue
        assert (ROOT / src).exists(), f"COPY source {src} does not exist"
        assert not _ignored_by_dockerignore(src), f"COPY source {src} is excluded by .dockerignore"


def test_the_build_context_leaves_out_local_state_and_keys():
    for path in (".venv", ".git", "videos", "bench/results", ".env", "x/id_ed25519", "deploy/key.pem",
                 ".ray-token", "sweeps/run/table.csv", ".devstage/p00"):  # fmt: skip
        assert _ignored_by_dockerignore(path), f"{path} would be sent to the Docker daemon"
    for path in (
        "app/mjpod/cli/__init__.py",
        "requirements.lock",
        "scripts/bench.sh",
        "docker/entrypoint.sh",
        "tests",
    ):
        assert not _ignored_by_dockerignore(path), f"{path} is needed in the image"


def test_entrypoint_healthcheck_and_scripts_are_in_the_image_and_executable(dockerfile):
    entry = exec_form(instructions(dockerfile, "ENTRYPOINT")[0])
    assert entry[:3] == ["/usr/bin/tini", "-g", "--"]  # PID 1 forwards docker stop's SIGTERM and reaps
    health = instructions(dockerfile, "HEALTHCHECK")[0]
    workdir = instructions(dockerfile, "WORKDIR")[-1]
    for in_image in (entry[3], re.search(r'CMD \["([^"]+)"', health).group(1)):
        assert in_image.startswith(workdir + "/"), f"{in_image} is not under WORKDIR {workdir} (COPY . .)"
        local = ROOT / Path(in_image).relative_to(workdir)
        assert local.is_file() and local.stat().st_mode & 0o111, f"{local} missing or not executable"
    for script in ("bench.sh", "record.sh", "stream.sh", "check-docker.sh"):
        assert (ROOT / "scripts" / script).stat().st_mode & 0o111


def test_environment_renders_with_egl_on_the_nvidia_driver(dockerfile):
    """Without graphics in NVIDIA_DRIVER_CAPABILITIES the toolkit mounts no EGL driver."""
    env = dockerfile.envs
    caps = set(env["NVIDIA_DRIVER_CAPABILITIES"].split(","))
    assert {"compute", "utility", "graphics", "video"} <= caps
    assert env["MUJOCO_GL"] == "egl" and env["PYOPENGL_PLATFORM"] == "egl"
    vendor_copy = next(v for v in instructions(dockerfile, "COPY") if "egl_vendor.d" in v)
    src, dest = vendor_copy.split()
    assert dest == "/usr/share/glvnd/egl_vendor.d/10_nvidia.json"
    assert json.loads((ROOT / src).read_text())["ICD"]["library_path"] == "libEGL_nvidia.so.0"


def test_venv_workspace_and_caches_agree_with_the_makefile_and_entrypoint(dockerfile):
    env = dockerfile.envs
    workdir = instructions(dockerfile, "WORKDIR")[-1]
    makefile = (ROOT / "Makefile").read_text()
    venv = re.search(r"^VENV \?= (\S+)", makefile, re.M).group(1)
    assert env["VIRTUAL_ENV"] == f"{workdir}/{venv}"  # `make` in the container finds the image's venv
    assert env["PATH"].split(":")[0] == f"{env['VIRTUAL_ENV']}/bin"
    assert exec_form(instructions(dockerfile, "VOLUME")[0]) == [env["MJPOD_WORKSPACE"]]
    assert env["WARP_CACHE_PATH"].startswith(env["MJPOD_WORKSPACE"] + "/")  # kernels survive the container
    assert "MENAGERIE_ROOT" not in env  # the prefetched package cache is used, not a folder
    lock_python = re.search(r"--python-version (\S+)", makefile).group(1)
    assert dockerfile.args["PYTHON_VERSION"] == lock_python  # the lock is resolved for this Python


def test_build_args_base_image_warp_and_the_offline_panda(dockerfile):
    """BASE_IMAGE defaults to a plain CUDA runtime on Ubuntu (made GL-capable here, no cudagl); the
    Panda is fetched at build time into a cache outside the /workspace volume (a bind mount there
    would hide it), and MENAGERIE_ROBOTS= turns the fetch off instead of failing the build."""
    args = dict(
        i["value"].split("=", 1)
        for i in dockerfile.structure
        if i["instruction"] == "ARG" and "=" in i["value"]
    )
    assert re.fullmatch(r"nvidia/cuda:[\d.]+-runtime-ubuntu(22|24)\.04", args["BASE_IMAGE"])
    assert instructions(dockerfile, "FROM")[-1] == "${BASE_IMAGE} AS appliance"
    assert (
        dockerfile.args["WARP_CUDA"] == "13" and dockerfile.args["MENAGERIE_ROBOTS"] == "franka_emika_panda"
    )
    prefetch = re.sub(
        r"^(--\S+\s+)+", "", next(v for v in instructions(dockerfile, "RUN") if "prefetch" in v)
    )
    assert "${MENAGERIE_ROBOTS}" in prefetch and "--no-run-if-empty" in prefetch
    cache = dockerfile.envs["MENAGERIE_CACHE_DIR"]
    assert not cache.startswith(dockerfile.envs["MJPOD_WORKSPACE"])
    for robots, fetched in (("", ""), ("franka_emika_panda", "fetch prefetch franka_emika_panda")):
        result = subprocess.run(
            ["bash", "-c", prefetch.replace("mujoco-menagerie", "echo fetch")],
            cwd=ROOT,  # the image's WORKDIR holds the project: docker/with-ca.sh
            env={"MENAGERIE_ROBOTS": robots, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and result.stdout.strip() == fetched


def test_every_download_step_can_trust_a_proxy_ca_and_keeps_its_caches_out(dockerfile):
    """Behind a TLS-intercepting proxy apt, uv and the robot fetch fail without its CA: every RUN that
    downloads mounts the build secret `ca` and runs its downloads through docker/with-ca.sh. apt's
    and uv's downloads stay in build caches, not in the image."""
    downloads = [v for v in instructions(dockerfile, "RUN") if re.search(r"provision\.sh|uv |prefetch", v)]
    assert len(downloads) == 5
    for step in downloads:
        assert "--mount=type=secret,id=ca" in step, step
        for command in re.split(r"&&|;|\|", step):
            if re.search(r"provision\.sh|\buv (venv|pip)|mujoco-menagerie", command):
                assert "with-ca.sh" in command, command
    provision = next(v for v in downloads if "provision.sh" in v)
    assert "--mount=type=cache,target=/var/lib/apt/lists" in provision
    assert "--mount=type=cache,target=/var/cache/apt" in provision
    for step in downloads:
        if "uv pip" in step:
            assert "--mount=type=cache,target=/root/.cache/uv" in step, step


def test_no_frontend_is_pulled_and_no_registry_is_hard_wired(dockerfile):
    """`# syntax=` pulls a Dockerfile frontend from Docker Hub on every build; the built-in one does.
    Every image the build starts from is a build arg, so BASE=debian needs no registry."""
    assert not (ROOT / "Dockerfile").read_text().lower().startswith("# syntax")
    assert instructions(dockerfile, "FROM") == ["${UV_IMAGE} AS uv", "${BASE_IMAGE} AS appliance"]


def test_host_keys_are_not_baked_into_the_image(dockerfile):
    provision_run = next(v for v in instructions(dockerfile, "RUN") if "provision.sh" in v)
    assert "rm -f /etc/ssh/ssh_host_*" in provision_run


def test_exposed_ports_match_compose_and_stream_ports_stay_on_loopback(dockerfile, compose):
    exposed = {int(p.split("/")[0]) for p in instructions(dockerfile, "EXPOSE")[0].split()}
    assert exposed == {22, 7000, 8080, 8888}
    ports = compose["services"]["appliance"]["ports"]
    published = {int(spec.rsplit(":", 1)[1]): spec.rsplit(":", 1)[0] for spec in ports}
    assert set(published) == exposed
    # SSH: this host only unless MJPOD_SSH_BIND (make up: SSH_BIND) opens it to others (keys only)
    assert published[22] == "${MJPOD_SSH_BIND:-127.0.0.1}:${MJPOD_SSH_PORT:-2222}"
    for port in (7000, 8080, 8888):
        assert published[port].startswith("127.0.0.1:"), f"port {port} would be open to the network"
    for spec in compose["services"]["serve"]["ports"]:
        assert spec.startswith("127.0.0.1:")
    # Docker delivers published ports on the container's interfaces, not its loopback: mjpod serve
    # started in an SSH session must listen there (the host side stays 127.0.0.1 only, above)
    assert compose["services"]["appliance"]["environment"]["MJSTREAM_HOST"] == "0.0.0.0"
    assert compose["services"]["appliance"]["environment"]["JUPYTER_IP"] == "0.0.0.0"  # (token required)


def test_compose_keeps_the_image_environment_and_reserves_gpus_only_in_the_gpu_file(compose):
    """compose.yaml asks for no GPU (on a host without one every service failed to start);
    compose.gpu.yaml adds the reservation, with `gpu` alone: a longer capabilities list replaces
    NVIDIA_DRIVER_CAPABILITIES and EGL breaks."""
    gpu = YAML(typ="safe").load((ROOT / "compose.gpu.yaml").read_text())
    for name, service in compose["services"].items():
        assert "deploy" not in service, name
        env = service.get("environment") or {}
        assert not {"NVIDIA_DRIVER_CAPABILITIES", "MUJOCO_GL", "PYOPENGL_PLATFORM"} & set(env), name
        assert any(v.endswith(":/workspace") for v in service["volumes"]), name
        (device,) = gpu["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert device == {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}, name
    assert set(gpu["services"]) <= set(compose["services"])
    assert compose["services"]["appliance"]["environment"]["PUBLIC_KEY"] == "${PUBLIC_KEY:-}"
    assert "compose.gpu.yaml" in (ROOT / "Makefile").read_text()  # make up adds it when GPUS is set


def test_compose_jobs_run_through_the_image_entrypoint_and_existing_scripts(dockerfile, compose):
    entry = exec_form(instructions(dockerfile, "ENTRYPOINT")[0])
    for name in ("bench", "record", "serve"):
        service = compose["services"][name]
        assert service["profiles"] == [name]
        assert service["entrypoint"][:-1] == entry
        assert (ROOT / service["entrypoint"][-1]).is_file()


def test_labels_name_the_project_version_and_license(dockerfile):
    """The image's OCI labels say what pyproject.toml says (a release bump must not leave them behind)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    labels = dockerfile.labels
    assert labels["org.opencontainers.image.title"] == project["name"]
    assert labels["org.opencontainers.image.version"] == project["version"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]
