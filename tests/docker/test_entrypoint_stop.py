"""`docker stop` keeps every recording in the container, not only those of live SSH sessions: the
entrypoint runs as in the image (its own PID namespace, tini as PID 1) with Debian's sshd, and
recordings are started the ways people keep jobs running: `nohup … &` over SSH and the session
closed, `setsid`, inside tmux, and joined from outside as `docker exec -d` does. SIGTERM to tini (what
docker stop sends) must leave each a playable MP4 marked interrupted."""

from __future__ import annotations

import shlex
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.docker.appliance import (
    Appliance,
    keygen,
    make_root,
    needs_sshd,
    pid_namespace_reason,
    run_ssh,
    ssh_argv,
)
from tests.interrupted import LONG_RECORD, check_kept, writing

reason = pid_namespace_reason()
pytestmark = [needs_sshd, pytest.mark.skipif(reason is not None, reason=reason or "")]

GRACE = "60"  # MJPOD_STOP_GRACE: a bound for four recordings finishing at once on a busy machine


@pytest.fixture
def sandbox():
    root = make_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def record(video: Path) -> str:
    return shlex.join(["mjpod", "record", *LONG_RECORD, "-o", str(video)])


def wait_until_all_write(app: Appliance, videos: list[Path], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not all(writing(v) for v in videos):
        assert app.proc and app.proc.poll() is None, app.log
        waiting = [v.name for v in videos if not writing(v)]
        assert time.monotonic() < deadline, f"never started writing: {waiting}\n{app.log}"
        time.sleep(0.2)
    time.sleep(1)  # some frames more


def test_sigterm_lets_detached_recordings_finish_their_videos(sandbox):
    """Before: only the process groups of live SSH sessions got SIGTERM; a recording left running after
    its session closed (nohup, setsid, tmux) or started by docker exec was SIGKILLed with the container,
    leaving only .NAME.mp4.partial."""
    key_dir = sandbox / "keys"
    key_dir.mkdir()
    pub = keygen(key_dir / "k")
    app = Appliance(sandbox, pid_namespace=True, PUBLIC_KEY=pub, MJPOD_STOP_GRACE=GRACE).start()
    try:
        app.wait_for_sshd()
        videos = {how: sandbox / "videos" / f"{how}.mp4" for how in ("nohup", "setsid", "tmux", "exec")}
        ssh = ssh_argv(app.port, key_dir / "k")
        logs = sandbox / "logs"
        logs.mkdir()
        for how, prefix in (("nohup", "nohup"), ("setsid", "setsid")):
            command = f"{prefix} {record(videos[how])} > {logs / how} 2>&1 < /dev/null &"
            assert run_ssh(ssh, command).returncode == 0  # the session ends here; the recording goes on
        tmux = run_ssh(
            ssh, shlex.join(["tmux", "-S", str(sandbox / "tmux"), "new", "-d", record(videos["tmux"])])
        )
        assert tmux.returncode == 0, tmux.stderr
        app.exec_detached("mjpod", "record", *LONG_RECORD, "-o", str(videos["exec"]))
        wait_until_all_write(app, list(videos.values()))
        assert app.stop(signal.SIGTERM, timeout=int(GRACE) + 30) == 0, app.log
    finally:
        if app.proc and app.proc.poll() is None:
            app.stop(signal.SIGKILL)
    assert "asked 4 job(s) to finish" in app.log, app.log
    for how, video in videos.items():
        sidecar = check_kept(video)
        assert sidecar["frames"] > 0, how
