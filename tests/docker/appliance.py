"""Run docker/entrypoint.sh for real, outside Docker: Debian's sshd on a loopback port, every path in
a temporary root, and the OpenSSH client to log in."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
HEALTHCHECK = ROOT / "docker" / "healthcheck.sh"
VENV_BIN = Path(sys.executable).parent

needs_sshd = pytest.mark.skipif(
    not (shutil.which("ssh") and Path("/usr/sbin/sshd").exists() and os.geteuid() == 0),
    reason="needs root and OpenSSH (docker/provision.sh installs openssh-server and openssh-client)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_root() -> Path:
    """A private folder whose parents are root-owned and not world-writable: sshd's StrictModes
    refuses an authorized_keys file below /tmp (mode 1777), as it would in a real container."""
    base = Path.home() / ".cache"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="mjpod-sshd-", dir=base))


def keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True
    )
    return path.with_suffix(".pub").read_text().strip()


def pid_namespace_reason() -> str | None:
    """None when the entrypoint can run as in a container here (its own PID namespace under tini),
    else why not."""
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("tini")):
        return "needs root, unshare (util-linux) and tini (docker/provision.sh test installs them)"
    probe = subprocess.run([*PID_NAMESPACE, "true"], capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else f"cannot make a PID namespace: {probe.stderr.strip()}"


PID_NAMESPACE = ["unshare", "--pid", "--fork", "--mount-proc", "tini", "-g", "--"]


class Appliance:
    """One entrypoint process; `root` holds host keys, authorized_keys, the session env and state.

    `pid_namespace=True` runs it as the image does: in a PID namespace of its own (so that what it
    sees is the container's processes alone), under tini as PID 1 (`tini -g`, as the Dockerfile's
    ENTRYPOINT). Signals then go to tini, which passes them to the entrypoint's process group."""

    def __init__(self, root: Path, pid_namespace: bool = False, **env: str) -> None:
        self.root = root
        self.pid_namespace = pid_namespace
        self.port = free_port()
        self.log_path = root / "entrypoint.log"
        self.env = {
            # a clean environment, as a container would have: no inherited secrets or agent
            "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(Path.home()),
            "LANG": "C.UTF-8",
            "MUJOCO_GL": "egl",
            "PYOPENGL_PLATFORM": "egl",
            "NVIDIA_DRIVER_CAPABILITIES": "compute,utility,graphics,video",
            "MJPOD_SSH_PORT": str(self.port),
            "MJPOD_SSH_LISTEN": "127.0.0.1",
            "MJPOD_HOST_KEY_DIR": str(root / "hostkeys"),
            "MJPOD_AUTHORIZED_KEYS": str(root / "home" / ".ssh" / "authorized_keys"),
            "MJPOD_AUTHORIZED_KEYS_FILE": str(root / "mounted_keys"),
            "MJPOD_ENV_FILE": str(root / "etc" / "session-env.sh"),
            "MJPOD_STATE_DIR": str(root / "run"),
            **env,
        }
        self.proc: subprocess.Popen | None = None

    def start(self, *command: str) -> Appliance:
        self.log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*(PID_NAMESPACE if self.pid_namespace else []), str(ENTRYPOINT), *command],
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    @property
    def init_pid(self) -> int:
        """With pid_namespace: tini, the namespace's PID 1 (unshare itself ignores SIGTERM); else the
        entrypoint."""
        assert self.proc is not None
        if not self.pid_namespace:
            return self.proc.pid
        deadline = time.monotonic() + 10
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        while not (text := children.read_text().split()):
            assert time.monotonic() < deadline, "unshare started no child"
            time.sleep(0.05)
        return int(text[0])

    def exec_detached(self, *argv: str, **env: str) -> subprocess.Popen:
        """What `docker exec -d` starts: a process that joins the namespace from outside (its parent is
        not in the container), with the container's environment."""
        assert self.pid_namespace
        return subprocess.Popen(
            ["nsenter", "-t", str(self.init_pid), "-p", "-m", "--", *argv],
            env={**self.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_sshd(self, timeout: float = 30) -> str:
        """The SSH banner once sshd answers; fails with the entrypoint's log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc and self.proc.poll() is None, f"entrypoint exited early:\n{self.log}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    return s.recv(64).decode(errors="replace")
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"sshd did not answer on port {self.port}:\n{self.log}")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert time.monotonic() < deadline, f"{text!r} never logged:\n{self.log}"
            assert self.proc and self.proc.poll() is None, f"entrypoint exited early:\n{self.log}"
            time.sleep(0.1)

    def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                return True
        except OSError:
            return False

    def sshd_pid(self) -> int | None:
        state = Path(self.env["MJPOD_STATE_DIR"]) / "sshd"
        if not state.exists():
            return None
        parts = state.read_text().split()
        return int(parts[2]) if len(parts) > 2 else None

    def ssh(self, key: Path, *command: str, known_hosts: Path | None = None, **opts: str):
        """The OpenSSH client as a user runs it, ignoring this machine's ssh config and agent."""
        return run_ssh(ssh_argv(self.port, key, known_hosts, **opts), *command)

    def known_hosts(self, path: Path) -> Path:
        """A known_hosts file naming this appliance's generated host keys."""
        keys = sorted((self.root / "hostkeys").glob("*.pub"))
        lines = [f"[127.0.0.1]:{self.port} {' '.join(k.read_text().split()[:2])}" for k in keys]
        path.write_text("\n".join(lines) + "\n")
        return path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Send `sig` and wait; the exit status. Kills what is left if it does not end in time (with
        pid_namespace: its PID 1, which takes every process of the namespace with it)."""
        assert self.proc is not None
        sshd = None if self.pid_namespace else self.sshd_pid()
        if self.proc.poll() is None:
            os.kill(self.init_pid, sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                os.kill(self.init_pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()
            if sshd and _alive(sshd):
                os.kill(sshd, signal.SIGKILL)
            self.log_file.close()


def ssh_argv(port: int, key: Path, known_hosts: Path | None = None, **opts: str) -> list[str]:
    """`ssh … root@127.0.0.1` on `port` with only `key`: no ssh config, agent or known host of this machine."""
    options = {
        "BatchMode": "yes",
        "IdentitiesOnly": "yes",
        "IdentityAgent": "none",
        "ConnectTimeout": "10",
        "StrictHostKeyChecking": "yes" if known_hosts else "no",
        "UserKnownHostsFile": str(known_hosts) if known_hosts else "/dev/null",
        "LogLevel": "ERROR",
        **opts,
    }
    argv = ["ssh", "-F", "/dev/null", "-i", str(key), "-p", str(port)]
    for k, v in options.items():
        argv += ["-o", f"{k}={v}"]
    return [*argv, "root@127.0.0.1"]


def run_ssh(argv: list[str], *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*argv, *command], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie not yet reaped by its parent counts as ended)."""
    if not _alive(pid):
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
