"""docker/entrypoint.sh starting the idle watcher (MJPOD_IDLE_STOP), for real with Debian's sshd: it
runs `mjpod runpod idle-watch` with the pod's id and key in its environment only, and hands a key given
as MJPOD_IDLE_STOP_KEY to the watcher alone. (What the watcher decides is tests/jobs/test_idle_stop.py;
the whole of it in the image, tests/image/test_idle_stop.py.)"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest

from tests.cloud.runpod_api import FakeRunpod
from tests.docker.appliance import Appliance, alive, keygen, make_root, needs_sshd

pytestmark = needs_sshd


@pytest.fixture
def sandbox():
    root = make_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def argv_of_every_process() -> str:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                continue
    return "\n".join(found)


def watcher_pid(app: Appliance) -> int:
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"idle-watch" in argv and f"MJPOD_STATE_DIR={app.env['MJPOD_STATE_DIR']}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no idle watcher of this appliance runs:\n{app.log}")


def test_the_watcher_gets_the_key_and_nothing_else_does(sandbox):
    key = f"rp_secret_{uuid.uuid4().hex}"
    pub = keygen(sandbox / "k")
    with FakeRunpod() as api:
        pod = api.add_pod("mjpod")
        app = Appliance(
            sandbox,
            PUBLIC_KEY=pub,
            RUNPOD_POD_ID=pod,
            RUNPOD_API_BASE_URL=api.url,
            MJPOD_IDLE_STOP="600",  # it only starts here; nothing is stopped
            MJPOD_IDLE_STOP_KEY=key,  # as a Runpod secret fills it in
        ).start()
        try:
            app.wait_for_sshd()
            app.wait_for_log(f"mjpod-idle: watching pod {pod}: it will stop itself after 600 min")
            watcher = watcher_pid(app)
            assert f"MJPOD_IDLE_STOP_KEY={key}".encode() in Path(f"/proc/{watcher}/environ").read_bytes()
            session = app.ssh(sandbox / "k", "env; tr '\\0' '\\n' < /proc/$PPID/environ")
            assert session.returncode == 0 and key not in session.stdout
            assert key not in argv_of_every_process()
            assert key not in app.log
        finally:
            app.stop()
        deadline = time.monotonic() + 30
        while alive(watcher):  # docker stop ends the watcher with the rest
            assert time.monotonic() < deadline, "the idle watcher outlived the entrypoint"
            time.sleep(0.1)


def test_a_command_gets_no_key_and_no_watcher(sandbox):
    """A one-shot container (`docker run IMAGE CMD`) ends with its command: nothing to watch, and the
    command does not see a key given for the watcher."""
    key = f"rp_secret_{uuid.uuid4().hex}"
    env = sandbox / "command-env"
    app = Appliance(sandbox, RUNPOD_POD_ID="pod0001", MJPOD_IDLE_STOP="30", MJPOD_IDLE_STOP_KEY=key)
    app.start("bash", "-c", f"tr '\\0' '\\n' < /proc/$$/environ > {env}")
    assert app.proc.wait(timeout=60) == 0, app.log
    app.stop()
    assert "RUNPOD_POD_ID=pod0001" in env.read_text() and key not in env.read_text()
    assert "idle stop watches a container that stays up (no command given): not watching" in app.log


def test_without_a_pod_id_it_says_why_it_does_not_watch(sandbox):
    app = Appliance(sandbox, PUBLIC_KEY=keygen(sandbox / "k"), MJPOD_IDLE_STOP="30").start()
    try:
        app.wait_for_sshd()
        app.wait_for_log("idle stop (MJPOD_IDLE_STOP=30) needs RUNPOD_POD_ID, which Runpod sets in its pods")
        assert "mjpod-idle" not in app.log
    finally:
        app.stop()
