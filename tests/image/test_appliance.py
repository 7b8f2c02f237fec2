"""The appliance as `docker run -d -e PUBLIC_KEY=… IMAGE` starts it: SSH with keys only, the
container's environment in sessions (secrets left out), videos out with docker cp, the healthcheck."""

from __future__ import annotations

import shutil

import pytest

from tests.docker.appliance import keygen, run_ssh, ssh_argv
from tests.mp4 import decode

pytestmark = pytest.mark.image

SECRET = "rp_api_secret_value_0123"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return folder, keygen(folder / "good"), keygen(folder / "wrong")


@pytest.fixture(scope="module")
def appliance(docker, image, keys):
    """One appliance: SSH published on 127.0.0.1 only, secrets in its environment, health checked every second."""
    _, good, _ = keys
    with docker.container(
        "-p",
        "127.0.0.1::22",
        "-e",
        f"PUBLIC_KEY={good}",
        "-e",
        f"RUNPOD_API_KEY={SECRET}",
        "-e",
        f"WANDB_API_KEY={SECRET}",
        "--health-interval=1s",
        "--health-timeout=5s",
        "--health-retries=1",
        image,
    ) as c:
        docker.wait_for(c, "sshd", lambda: "sshd started" in docker.logs(c))
        yield c, docker.published(c, 22)


def ssh(appliance, keys, *command: str, key: str = "good", **opts: str):
    folder = keys[0]
    return run_ssh(ssh_argv(appliance[1], folder / key, **opts), *command, timeout=180)


def test_root_logs_in_with_the_given_key(appliance, keys):
    result = ssh(appliance, keys, "id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "root"


def test_password_and_a_key_not_given_are_refused(appliance, keys):
    wrong = ssh(appliance, keys, "true", key="wrong")
    assert wrong.returncode == 255 and "Permission denied (publickey)" in wrong.stderr
    password = ssh(
        appliance,
        keys,
        "true",
        PubkeyAuthentication="no",
        PreferredAuthentications="password,keyboard-interactive",
        NumberOfPasswordPrompts="1",
    )
    assert password.returncode == 255 and "Permission denied (publickey)" in password.stderr


def test_a_login_shell_has_egl_and_the_venv_and_no_secret(appliance, keys):
    result = ssh(appliance, keys, "bash -lc 'echo GL=$MUJOCO_GL; echo PY=$(command -v python); env'")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "GL=egl" in lines
    assert "PY=/opt/mjpod/.venv/bin/python" in lines
    assert SECRET not in result.stdout
    names = {line.split("=", 1)[0] for line in lines if "=" in line}
    assert not names & {"PUBLIC_KEY", "RUNPOD_API_KEY", "WANDB_API_KEY"}


def test_record_over_ssh_then_docker_cp_gives_the_promised_frames(appliance, keys, docker, tmp_path):
    video = "/workspace/videos/ssh-clip.mp4"
    args = "--model pendulum --duration 1.5 --fps 10 --width 160 --height 120"
    result = ssh(appliance, keys, f"mjpod record {args} -o {video}")
    assert result.returncode == 0, result.stdout + result.stderr
    out = docker.copy_out(appliance[0], video, tmp_path / "clip.mp4")
    frames, meta = decode(out)
    assert len(frames) == 15  # fps x duration
    assert tuple(meta["size"]) == (160, 120)
    assert frames.std() > 0  # a picture, not a blank frame


def probes(docker, container: str) -> set[str]:
    """When each health check docker keeps (the last five) started."""
    return {probe["Start"] for probe in docker.inspect(container)["State"]["Health"]["Log"]}


def test_healthcheck_turns_healthy_then_unhealthy_while_sshd_is_stopped(appliance, docker):
    """Healthy while sshd runs, unhealthy while it cannot answer (SIGSTOP), healthy again after; and
    no probe connection in sshd's log (before: a kex_exchange_identification line every check)."""
    c = appliance[0]
    docker.wait_for(c, "healthy", lambda: docker.health(c) == "healthy", timeout=60)
    before = docker.logs(c)
    seen = probes(docker, c)
    docker.wait_for(c, "three more health checks", lambda: len(probes(docker, c) - seen) >= 3)
    assert docker.logs(c) == before  # sshd saw no connection from them
    assert "kex_exchange_identification" not in before
    pid = docker.run("exec", c, "cut", "-d", " ", "-f", "3", "/run/mjpod/sshd").stdout.strip()
    docker.run("exec", c, "kill", "-STOP", pid)
    try:
        docker.wait_for(c, "unhealthy", lambda: docker.health(c) == "unhealthy", timeout=60)
        log = docker.inspect(c)["State"]["Health"]["Log"][-1]
        assert f"sshd (pid {pid}) is stopped" in log["Output"], log
    finally:
        docker.run("exec", c, "kill", "-CONT", pid)
    docker.wait_for(c, "healthy again", lambda: docker.health(c) == "healthy", timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _ssh_client():
    if not shutil.which("ssh"):
        pytest.skip("needs the OpenSSH client (docker/provision.sh test)")
