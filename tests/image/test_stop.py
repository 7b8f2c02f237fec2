"""`docker stop` during a recording keeps a playable MP4 marked interrupted: for the one-shot
scripts/record.sh (tini -g signals its group), for a recording started in an SSH session, and for
those that outlive their session or never had one: nohup over SSH with the session closed, tmux,
docker exec -d (the entrypoint passes SIGTERM on to every job in the container and waits for them)."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.docker.appliance import keygen, ssh_argv
from tests.image.docker import Docker
from tests.interrupted import LONG_RECORD, check_kept, partial

pytestmark = pytest.mark.image


def stop_while_recording(docker: Docker, container: str, video: str) -> None:
    """Waits until frames reach the partial file, then `docker stop`s the container: SIGTERM, and
    SIGKILL (exit status 137) only after 120 s, not docker's 10, so that the exit status tells how it
    ended (130: mjpod record's own, for interrupted) on however slow a machine."""
    written = partial(Path(video))
    docker.wait_for(container, "the recording", lambda: docker.exists(container, written), timeout=180)
    time.sleep(1)  # some frames more
    docker.run("stop", "--time", "120", container, timeout=180)


def copy_out(docker: Docker, container: str, video: str, out: Path) -> Path:
    """The video's folder copied out with docker cp; the video's path there."""
    docker.copy_out(container, str(Path(video).parent), out)
    return out / Path(video).name


def test_docker_stop_keeps_the_one_shot_recording(docker, image, tmp_path):
    """Before: record.sh died at once with 143, the container ended under mjpod record, no MP4."""
    video = "/workspace/videos/oneshot.mp4"
    with docker.container(image, "scripts/record.sh", *LONG_RECORD, "-o", video) as c:
        stop_while_recording(docker, c, video)
        state = docker.inspect(c)["State"]
        assert state["ExitCode"] == 130, (state, docker.logs(c))  # mjpod record's, for interrupted
        check_kept(copy_out(docker, c, video, tmp_path / "out"))


def test_docker_stop_keeps_a_recording_started_over_ssh(docker, image, tmp_path):
    """Before: sshd's sessions never saw the signal and were SIGKILLed with the container."""
    pub = keygen(tmp_path / "key")
    video = "/workspace/videos/ssh.mp4"
    # the grace SSH sessions get (8 s, within docker's 10) raised, as docker stop's: see stop_while_recording
    grace = ("-e", "MJPOD_STOP_GRACE=100")
    with docker.container("-p", "127.0.0.1::22", "-e", f"PUBLIC_KEY={pub}", *grace, image) as c:
        docker.wait_for(c, "sshd", lambda: "sshd started" in docker.logs(c))
        session = subprocess.Popen(
            [*ssh_argv(docker.published(c, 22), tmp_path / "key"), "mjpod record", *LONG_RECORD, "-o", video],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            stop_while_recording(docker, c, video)
            out = session.communicate(timeout=30)[0].decode(errors="replace")
        finally:
            if session.poll() is None:
                session.kill()
        assert session.returncode == 130, out
        state = docker.inspect(c)["State"]
        assert state["ExitCode"] == 0, (state, docker.logs(c))  # the entrypoint's own, not SIGKILL's 137
        assert "asked 1 job(s) to finish" in docker.logs(c)
        check_kept(copy_out(docker, c, video, tmp_path / "out"))


def test_docker_stop_keeps_recordings_that_outlived_their_session_or_had_none(docker, image, tmp_path):
    """Before: the entrypoint signalled only live SSH sessions, so `nohup mjpod record … &` left after the
    session closed, a recording in tmux and one started with `docker exec -d` were SIGKILLed, leaving
    only .NAME.mp4.partial."""
    pub = keygen(tmp_path / "key")
    videos = {how: f"/workspace/videos/{how}.mp4" for how in ("nohup", "tmux", "exec")}
    grace = 60  # a bound for three recordings finishing at once on a busy machine
    with docker.container(
        "-p", "127.0.0.1::22", "-e", f"PUBLIC_KEY={pub}", "-e", f"MJPOD_STOP_GRACE={grace}", image
    ) as c:
        docker.wait_for(c, "sshd", lambda: "sshd started" in docker.logs(c))
        ssh = ssh_argv(docker.published(c, 22), tmp_path / "key")
        record = ["mjpod", "record", *LONG_RECORD, "-o"]
        nohup = f"nohup {shlex.join([*record, videos['nohup']])} > /tmp/nohup.log 2>&1 < /dev/null &"
        tmux = shlex.join(["tmux", "new", "-d", shlex.join([*record, videos["tmux"]])])
        for command in (nohup, tmux):  # each session ends as soon as its command returns
            done = subprocess.run([*ssh, command], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
        docker.run("exec", "-d", c, *record, videos["exec"])
        for video in videos.values():
            written = str(partial(Path(video)))
            docker.wait_for(c, f"{video}", lambda w=written: docker.exists(c, w), timeout=240)
        time.sleep(1)  # some frames more
        docker.run("stop", "-t", str(grace + 10), c, timeout=grace + 60)
        state = docker.inspect(c)["State"]
        assert state["ExitCode"] == 0, (state, docker.logs(c))  # ended by the entrypoint, not killed
        assert "asked 3 job(s) to finish" in docker.logs(c), docker.logs(c)
        out = copy_out(docker, c, videos["nohup"], tmp_path / "videos").parent  # the folder holds all three
        for video in videos.values():
            check_kept(out / Path(video).name)
