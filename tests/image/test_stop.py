"""`docker stop` during a recording keeps a playable MP4 marked interrupted: for the one-shot
scripts/record.sh (tini -g signals its group) and for a recording started in an SSH session (the
entrypoint passes SIGTERM on to the sessions and waits for them)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.docker.appliance import keygen, ssh_argv
from tests.image.docker import Docker
from tests.interrupted import LONG_RECORD, check_kept, partial

pytestmark = pytest.mark.image


def stop_while_recording(docker: Docker, container: str, video: str) -> float:
    """Waits until frames reach the partial file, then `docker stop`s the container; the seconds it took."""
    written = partial(Path(video))
    docker.wait_for(container, "the recording", lambda: docker.exists(container, written), timeout=180)
    time.sleep(1)  # some frames more
    started = time.monotonic()
    docker.run("stop", container, timeout=60)  # SIGTERM, SIGKILL after 10 s
    return time.monotonic() - started


def copy_out(docker: Docker, container: str, video: str, out: Path) -> Path:
    """The video's folder copied out with docker cp; the video's path there."""
    docker.copy_out(container, str(Path(video).parent), out)
    return out / Path(video).name


def test_docker_stop_keeps_the_one_shot_recording(docker, image, tmp_path):
    """Before: record.sh died at once with 143, the container ended under mjpod record, no MP4."""
    video = "/workspace/videos/oneshot.mp4"
    with docker.container(image, "scripts/record.sh", *LONG_RECORD, "-o", video) as c:
        seconds = stop_while_recording(docker, c, video)
        state = docker.inspect(c)["State"]
        assert state["ExitCode"] == 130, (state, docker.logs(c))  # mjpod record's, for interrupted
        assert seconds < 9, "the container was killed after docker stop's timeout, not ended by SIGTERM"
        check_kept(copy_out(docker, c, video, tmp_path / "out"))


def test_docker_stop_keeps_a_recording_started_over_ssh(docker, image, tmp_path):
    """Before: sshd's sessions never saw the signal and were SIGKILLed with the container."""
    pub = keygen(tmp_path / "key")
    video = "/workspace/videos/ssh.mp4"
    with docker.container("-p", "127.0.0.1::22", "-e", f"PUBLIC_KEY={pub}", image) as c:
        docker.wait_for(c, "sshd", lambda: "sshd started" in docker.logs(c))
        session = subprocess.Popen(
            [*ssh_argv(docker.published(c, 22), tmp_path / "key"), "mjpod record", *LONG_RECORD, "-o", video],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            seconds = stop_while_recording(docker, c, video)
            out = session.communicate(timeout=30)[0].decode(errors="replace")
        finally:
            if session.poll() is None:
                session.kill()
        assert session.returncode == 130, out
        state = docker.inspect(c)["State"]
        assert state["ExitCode"] == 0 and seconds < 9, (state, seconds, docker.logs(c))
        # mjpod record and its ffmpeg (in its group, SIGTERM blocked): the video is whole once both ended
        assert "asked 2 process(es) of SSH sessions to finish" in docker.logs(c)
        check_kept(copy_out(docker, c, video, tmp_path / "out"))
