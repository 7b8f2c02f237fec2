"""scripts/check-docker.sh, the host check every Docker-using Make target runs first, with the real
docker CLI: against no engine at all, and against a local engine (tests/docker/docker_engine.py)
with and without the NVIDIA Container Toolkit registered as a runtime."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.docker.docker_engine import NVIDIA, RUNC, FakeDockerEngine, cli_major, lacks_buildx

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check-docker.sh"

pytestmark = pytest.mark.skipif(not shutil.which("docker"), reason="needs the docker CLI")


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "MJPOD_SKIP_GPU_CHECK")}
    return subprocess.run(
        argv,
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def past_the_check(engine: FakeDockerEngine) -> list[str]:
    """Requests beyond the check's own (`docker info`, `docker version`): a container or build the
    target tried to create."""
    return [r for r in engine.requests if not r.endswith(("/_ping", "/info", "/version"))]


def test_an_unreachable_engine_is_named_with_how_to_start_it(tmp_path):
    result = run([str(CHECK)], DOCKER_HOST=f"unix://{tmp_path / 'no-engine.sock'}")
    assert result.returncode == 1
    assert "the Docker engine is not reachable" in result.stderr
    assert "sudo systemctl start docker" in result.stderr and "DOCKER_HOST" in result.stderr


def test_an_engine_without_the_nvidia_runtime_stops_gpu_targets_with_the_install_steps():
    with FakeDockerEngine(RUNC) as engine:
        result = run([str(CHECK), "--gpu"], DOCKER_HOST=engine.host)
        assert result.returncode == 1
        assert "the NVIDIA Container Toolkit is not registered with Docker" in result.stderr
        assert "container-toolkit/latest/install-guide.html" in result.stderr
        assert "sudo nvidia-ctk runtime configure --runtime=docker" in result.stderr
        assert "GPUS=" in result.stderr  # and how to go on without a GPU
        # the same engine is fine for targets that need no GPU (make image, make push)
        assert run([str(CHECK)], DOCKER_HOST=engine.host).returncode == 0

        shell = run(["make", "--no-print-directory", "shell"], DOCKER_HOST=engine.host)
        assert shell.returncode != 0
        assert "NVIDIA Container Toolkit is not registered" in shell.stderr
        assert not past_the_check(engine), "make shell ran docker although the check failed"


def bench_in_container(engine: FakeDockerEngine, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return run(
        ["make", "--no-print-directory", "bench-container", f"OUT={tmp_path}", *args], DOCKER_HOST=engine.host
    )


def test_an_engine_with_the_nvidia_runtime_lets_the_target_run_docker(tmp_path):
    with FakeDockerEngine(NVIDIA) as engine:
        assert run([str(CHECK), "--gpu"], DOCKER_HOST=engine.host).returncode == 0
        bench = bench_in_container(engine, tmp_path)
        # the check passed, so docker run reached the engine (which creates no containers)
        assert "docker run --rm --gpus all" in " ".join(bench.stdout.split()), bench.stdout + bench.stderr
        assert any("/containers/create" in r for r in past_the_check(engine)), engine.requests


def test_no_gpu_mode_and_the_override_skip_the_toolkit_check(tmp_path):
    with FakeDockerEngine(RUNC) as engine:
        assert run([str(CHECK), "--gpu"], DOCKER_HOST=engine.host, MJPOD_SKIP_GPU_CHECK="1").returncode == 0
        bench = bench_in_container(engine, tmp_path, "GPUS=")
        assert "Toolkit" not in bench.stderr and "--gpus" not in bench.stdout
        assert any("/containers/create" in r for r in past_the_check(engine)), engine.requests


def test_missing_compose_plugin_is_named_with_the_package_to_install():
    if run(["docker", "compose", "version"]).returncode == 0:
        pytest.skip("Docker Compose is installed here")
    with FakeDockerEngine(NVIDIA) as engine:
        result = run([str(CHECK), "--gpu", "--compose"], DOCKER_HOST=engine.host)
        assert result.returncode == 1
        assert "Docker Compose ('docker compose') is missing" in result.stderr
        assert "docker-compose-plugin" in result.stderr and "COMPOSE=docker-compose" in result.stderr
        up = run(["make", "--no-print-directory", "up", "SSH_PUBKEY=/dev/null"], DOCKER_HOST=engine.host)
        assert up.returncode != 0 and "Docker Compose ('docker compose') is missing" in up.stderr
        # the COMPOSE command is what is checked: a working one passes
        assert run([str(CHECK), "--compose"], DOCKER_HOST=engine.host, COMPOSE="true").returncode == 0


def test_a_cli_from_23_on_without_buildx_is_named_before_a_build():
    """Without buildx such a CLI silently takes the legacy builder, which fails only at RUN --mount."""
    if not lacks_buildx("docker"):
        pytest.skip("the docker CLI here has buildx, or is older than 23 (BuildKit built in)")
    with FakeDockerEngine(RUNC) as engine:
        assert run([str(CHECK)], DOCKER_HOST=engine.host).returncode == 0  # fine for all but builds
        result = run([str(CHECK), "--build"], DOCKER_HOST=engine.host)
        assert result.returncode == 1
        assert "has no buildx plugin" in result.stderr and "RUN --mount" in result.stderr
        assert "docker-buildx-plugin" in result.stderr
        image = run(["make", "--no-print-directory", "image", "CA_CERT="], DOCKER_HOST=engine.host)
        assert image.returncode != 0 and "has no buildx plugin" in image.stderr
        assert not past_the_check(engine), "make image reached the engine although the check failed"


def test_a_cli_older_than_23_builds_with_its_own_buildkit(tmp_path):
    """Debian 12's docker.io CLI (20.10) carries BuildKit itself (DOCKER_BUILDKIT=1): no buildx needed."""
    old = next((c for c in ("/usr/bin/docker", "docker") if 0 < cli_major(c) < 23), None)
    if old is None:
        pytest.skip("no docker CLI older than 23 here (Debian 12's docker.io has one)")
    with FakeDockerEngine(RUNC) as engine:
        result = run([str(CHECK), "--build"], DOCKER_HOST=engine.host, DOCKER=old)
        assert result.returncode == 0, result.stderr


def fake_cli(folder: Path, version: str, buildx: bool) -> Path:
    """A `docker` that says its version and whether `docker buildx` runs; `compose` it does not know."""
    folder.mkdir(parents=True)
    cli = folder / "docker"
    cli.write_text(
        "#!/bin/sh\n"
        f'case "$1" in version) echo {version} ;; buildx) exit {0 if buildx else 1} ;; *) exit 1 ;; esac\n'
    )
    cli.chmod(0o755)
    return cli


def pick(path: list[Path], **env: str) -> subprocess.CompletedProcess:
    """`check-docker.sh --pick` (make test-image's first step) seeing only the CLIs in `path`."""
    return run(["/bin/bash", str(CHECK), "--pick"], PATH=":".join(map(str, path)), DOCKER="docker", **env)


def test_make_test_image_picks_once_a_docker_cli_that_can_build_and_says_which(tmp_path):
    """This machine's case: docker 28 without buildx first on PATH, Debian's docker.io 20.10 behind it."""
    new, old = fake_cli(tmp_path / "local", "28.2.2", False), fake_cli(tmp_path / "usr", "20.10.24", False)
    compose = tmp_path / "usr" / "docker-compose"
    compose.write_text("#!/bin/sh\nexit 0\n")
    compose.chmod(0o755)
    result = pick([new.parent, old.parent], COMPOSE="docker compose")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(old), "docker-compose"]
    assert f"the docker CLI 'docker' cannot build this Dockerfile (no buildx); using {old} (version 20)" in (
        result.stderr
    )
    assert "using docker-compose" in result.stderr
    with_buildx = fake_cli(tmp_path / "buildx", "28.2.2", True)
    kept = pick([with_buildx.parent, old.parent], COMPOSE="true")  # DOCKER can build: it is kept, quietly
    assert kept.stdout.splitlines() == [str(with_buildx), "true"] and not kept.stderr


def test_make_test_image_stops_with_one_message_where_no_docker_cli_can_build(tmp_path):
    only = fake_cli(tmp_path / "bin", "28.2.2", False)
    result = pick([only.parent], COMPOSE="true")
    assert result.returncode == 1 and not result.stdout
    assert result.stderr.count("has no buildx plugin") == 1 and "docker-buildx-plugin" in result.stderr
    dry = run(["make", "-n", "--no-print-directory", "test-image"]).stdout
    assert dry.index("check-docker.sh --pick") < dry.index("pytest -q -m image")  # checked before any test
