"""host.activity against real processes, a real sshd and real TCP connections: what keeps a rented pod
up (an SSH session that logged in, an mjpod job, a viewer from another machine) and what does not (a
connection still knocking at sshd, a server nobody watches, loopback plumbing)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mjpod.host import activity
from tests.docker.appliance import Appliance, keygen, make_root, needs_sshd, ssh_argv


@pytest.mark.parametrize(
    ("argv", "job"),
    [
        (
            ("/opt/mjpod/.venv/bin/python", "/opt/mjpod/.venv/bin/mjpod", "record", "--model", "bin"),
            "mjpod record",
        ),
        (("python3", "-m", "mjpod", "sweep", "gains.toml"), "mjpod sweep"),
        (("mjpod", "--help"), None),
        (
            ("/usr/bin/python3", "/opt/mjpod/.venv/bin/mjpod", "serve", "--model", "bin"),
            None,
        ),  # its viewers count
        (
            ("/opt/mjpod/.venv/bin/python", "/opt/mjpod/.venv/bin/mjpod", "runpod", "idle-watch"),
            None,
        ),  # the watcher
        (("ray::execute_job",), "ray::execute_job"),
        (("ray::IDLE",), None),
        (("python", "train.py", "--mjpod"), None),
        (("bash", "-lc", "mjpod record"), None),  # the shell is not the job; the mjpod it starts is
    ],
)
def test_which_commands_are_jobs(argv, job):
    assert activity.job_of(argv) == job


@pytest.mark.parametrize(
    ("title", "session"),
    [
        ("sshd: root@pts/0", True),
        ("sshd: root@notty", True),
        ("sshd-session: root@pts/3", True),
        ("sshd: root [priv]", False),
        ("sshd: root [preauth]", False),
        ("sshd: unknown [preauth]", False),
        ("sshd: [accepted]", False),
        ("/usr/sbin/sshd -D -e -f /run/mjpod/sshd_config -p 22", False),
    ],
)
def test_which_sshd_processes_are_sessions(title, session):
    assert activity.is_ssh_session((title,)) is session


def test_a_running_mjpod_record_is_a_job():
    video = Path(os.environ.get("TMPDIR", "/tmp")) / f"activity-{os.getpid()}.mp4"
    args = ["--model", "pendulum", "--duration", "600", "--fps", "5", "--width", "64", "--height", "48"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mjpod", "record", *args, "-o", str(video)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (mine,) = [p for p in activity.processes() if p.pid == proc.pid]
        assert activity.job_of(mine.argv) == "mjpod record"
    finally:
        proc.kill()
        proc.wait()


def local_address() -> str | None:
    """An address of this machine other than loopback (the route out; no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def accepted(host: str) -> tuple[socket.socket, socket.socket, socket.socket]:
    """(server, client, the server's side of the connection) over `host`."""
    server = socket.create_server((host, 0))
    client = socket.create_connection(server.getsockname()[:2])
    conn, _ = server.accept()
    return server, client, conn


def test_a_connection_from_another_address_is_a_viewer_and_loopback_is_not():
    address = local_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    remote = accepted(address)
    local = accepted("127.0.0.1")
    try:
        found = activity.remote_connections()
        assert found[os.fstat(remote[2].fileno()).st_ino] is True
        assert found[os.fstat(local[2].fileno()).st_ino] is False
        # the client's ends are outgoing connections, not connections to a port of ours that listens
        assert os.fstat(remote[1].fileno()).st_ino not in found
        mine = next(p for p in activity.processes() if p.pid == os.getpid())
        assert os.fstat(remote[2].fileno()).st_ino in mine.sockets
    finally:
        for s in (*remote, *local):
            s.close()


@needs_sshd
def test_an_ssh_login_is_a_session_and_a_connection_still_knocking_is_not(tmp_path):
    root = make_root()
    pub = keygen(root / "k")
    app = Appliance(root, PUBLIC_KEY=pub).start()
    try:
        app.wait_for_sshd()
        sshd = app.sshd_pid()

        def sessions() -> list[activity.Process]:
            return [
                p for p in activity.processes() if activity.is_ssh_session(p.argv) and _under(p.pid, sshd)
            ]

        with socket.create_connection(("127.0.0.1", app.port)) as knocking:
            assert knocking.recv(64).startswith(b"SSH-")  # sshd forked a child for it, not yet a login
            assert sessions() == []
        session = subprocess.Popen([*ssh_argv(app.port, root / "k"), "sleep 600"], stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not sessions():
                assert session.poll() is None and time.monotonic() < deadline, app.log
                time.sleep(0.1)
            (one,) = sessions()
            assert one.argv[0].strip() == "sshd: root@notty"
        finally:
            session.kill()
            session.wait()
    finally:
        app.stop()
        shutil.rmtree(root, ignore_errors=True)


def _under(pid: int, ancestor: int | None) -> bool:
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        if pid == ancestor:
            return True
    return False
