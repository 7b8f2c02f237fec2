"""A real Docker engine for the container tests: the one DOCKER_HOST (or the default socket) names
when it answers, else one this session starts, as root, from the installed dockerd (Debian's
docker.io) with its own socket, state and data folders, and stops again at the end. Its data folder
persists, so the build cache of one run serves the next on the same machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

# a private engine: its socket and state under /run, images and build cache kept under /var/lib
ENGINE_RUN = Path(os.environ.get("MJPOD_ENGINE_RUN", "/run/mjpod-engine"))
ENGINE_DATA = Path(os.environ.get("MJPOD_ENGINE_DATA", "/var/lib/mjpod-engine"))
SOCKET = ENGINE_RUN / "docker.sock"


class NoEngine(Exception):
    """No engine answers and none can be started here; the message says why and what would fix it."""


def docker_cli() -> str:
    return os.environ.get("DOCKER") or "docker"


def answers(env: dict[str, str]) -> bool:
    try:
        result = subprocess.run(
            [docker_cli(), "info", "--format", "{{.ServerVersion}}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _start(env: dict[str, str]) -> subprocess.Popen:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise NoEngine(
            "no Docker engine answers and dockerd is not installed: apt-get install docker.io "
            "(or `make test-image`, which installs it), or point DOCKER_HOST at a running engine"
        )
    if os.geteuid() != 0:
        raise NoEngine(
            "no Docker engine answers, and starting one needs root: start Docker "
            "(sudo systemctl start docker) or run make test-image as root"
        )
    ENGINE_RUN.mkdir(parents=True, exist_ok=True)
    ENGINE_DATA.mkdir(parents=True, exist_ok=True)
    log = (ENGINE_RUN / "dockerd.log").open("ab")
    proc = subprocess.Popen(
        [
            dockerd,
            "--host",
            f"unix://{SOCKET}",
            "--data-root",
            str(ENGINE_DATA / "docker"),
            "--exec-root",
            str(ENGINE_RUN / "exec"),
            "--pidfile",
            str(ENGINE_RUN / "dockerd.pid"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while not answers(env):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            tail = (ENGINE_RUN / "dockerd.log").read_text(errors="replace").splitlines()[-15:]
            raise NoEngine("dockerd did not start:\n" + "\n".join(tail))
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def engine() -> Iterator[tuple[dict[str, str], str]]:
    """The environment that reaches an engine (DOCKER_HOST set when it is ours), and where it came from.

    Raises NoEngine when none answers and none can be started."""
    env = dict(os.environ)
    if answers(env):
        yield env, f"the engine at {env.get('DOCKER_HOST', 'the default socket')}"
        return
    env["DOCKER_HOST"] = f"unix://{SOCKET}"
    if answers(env):  # another run on this machine started it: use it, leave it to that run
        yield env, f"the engine at {SOCKET}, started by another run"
        return
    started = time.monotonic()
    proc = _start(env)
    try:
        yield env, f"dockerd started for this run at {SOCKET} in {time.monotonic() - started:.1f} s"
    finally:
        _stop(proc)
