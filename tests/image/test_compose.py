"""compose.yaml on a host without a GPU, through the Make targets a user runs: `make up` (the
appliance), `make ssh`, a one-shot `run --rm record`, the serve profile, `make down`. The compose
command is COMPOSE (Compose v2's `docker compose`, or Debian's docker-compose 1.29 here)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import urllib.request
import uuid

import pytest

from tests.docker.appliance import free_port, keygen
from tests.image.conftest import IMAGE, ROOT, TAG, make, run
from tests.mp4 import decode
from tests.stream.helpers import wait_for

pytestmark = pytest.mark.image

COMPOSE = os.environ.get("COMPOSE") or "docker compose"
SSH_OPTS = "-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"


def compose(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run([*shlex.split(COMPOSE), "-f", str(ROOT / "compose.yaml"), *args], env)


def fetch(url: str) -> bytes | None:
    """The body, following redirects and keeping cookies as a browser does; None on any error."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    try:
        with opener.open(url, timeout=10) as response:
            return response.read()
    except OSError:
        return None


def test_compose_up_ssh_jobs_serve_and_down_without_a_gpu(docker_env, image, tmp_path):
    project = f"mjpod-test-{uuid.uuid4().hex[:8]}"
    videos = tmp_path / "videos"
    videos.mkdir()
    env = {
        **docker_env,
        "COMPOSE_PROJECT_NAME": project,
        "MJPOD_WORKSPACE_VOLUME": project,  # not the user's mjpod-workspace
        "MJPOD_IMAGE": image,
        "MJPOD_VIDEOS": str(videos),
        "MJPOD_STREAM_PORT": str(free_port()),
        "MJPOD_WEB_PORT": str(free_port()),
    }
    keygen(tmp_path / "mjpod-key")  # not a default ~/.ssh key: make up and make ssh must use it
    ssh_port = free_port()
    ports = [
        f"SSH_PORT={ssh_port}",
        f"STREAM_PORT={env['MJPOD_STREAM_PORT']}",
        f"WEB_PORT={env['MJPOD_WEB_PORT']}",
    ]
    common = [
        "GPUS=",
        f"COMPOSE={COMPOSE}",
        f"IMAGE={IMAGE}",
        f"TAG={TAG}",
        f"SSH_PUBKEY={tmp_path / 'mjpod-key.pub'}",
    ]
    try:
        up = make("up", *common, *ports, env=env, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "compose.gpu.yaml" not in up.stdout  # GPUS= : no GPU reservation on this host

        def ssh_egl():
            result = make(
                "ssh", *common, *ports, f"SSH_OPTS={SSH_OPTS}", "ARGS='echo gl=$$MUJOCO_GL'", env=env
            )
            return result.returncode == 0 and "gl=egl" in result.stdout

        wait_for(ssh_egl, 120, "make ssh into the appliance")

        record = compose(
            env,
            "run",
            "--rm",
            "record",
            *("--model", "pendulum", "--duration", "1", "--fps", "10", "--width", "160", "--height", "120"),
            *("-o", "/workspace/videos/compose.mp4"),
        )
        assert record.returncode == 0, record.stdout + record.stderr
        frames, _ = decode(videos / "compose.mp4")  # on the host, through the bind mount
        assert len(frames) == 10

        # serve is the appliance's alternative for the same ports: stop the appliance first
        down = make("down", *common, *ports, env=env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not compose(env, "ps", "-q").stdout.strip()
        serve = compose(env, "--profile", "serve", "up", "-d", "serve")
        assert serve.returncode == 0, serve.stdout + serve.stderr
        # the container listens beyond its loopback, so it made a token and printed the link, as Jupyter
        link = wait_for(
            lambda: re.search(
                r"http://127\.0\.0\.1:8080/\?token=[\w-]+", compose(env, "logs", "serve").stdout
            ),
            180,
            "the ready link in the serve log",
        )
        web = f"http://127.0.0.1:{env['MJPOD_WEB_PORT']}/"
        assert fetch(web) is None  # 403 without the token
        page = wait_for(lambda: fetch(web + link.group(0).rsplit("/", 1)[1]), 120, "the browser view's page")
        assert b"MuJoCo Web Viewer" in page  # Studio's web client, served through mjpod's gate
    finally:
        compose(env, "--profile", "serve", "down", "-v", "--remove-orphans")
    assert not compose(env, "ps", "-q").stdout.strip()
