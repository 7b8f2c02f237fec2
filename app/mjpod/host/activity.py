"""What is in use on this box right now, read from /proc: open SSH sessions, running mjpod jobs, and
viewers connected from other machines. The idle watcher (jobs/idle_stop) stops a rented pod when none
has been seen for a while. In a container /proc shows the container's own processes only.

- an SSH session: a logged-in session of sshd (its process is titled `sshd: USER@pts/N` or
  `USER@notty`); connections still authenticating (scanners knocking on a public port) do not count;
- an mjpod job: an `mjpod` command other than `serve` (a server: its viewers count instead) and
  `runpod` (the watcher itself), or a Ray worker running a sweep's job;
- a viewer: a TCP connection from another machine to a port a process here listens on, other than
  sshd's (a stream or browser viewer through Runpod's proxy or an exposed port; over an SSH tunnel the
  SSH session counts already).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Iterator
from pathlib import Path

SSH_SESSION = re.compile(r"sshd(?:-session)?: \S+@(?:pts/\d+|notty|tty\S*)")
NOT_JOBS = ("serve", "runpod")  # mjpod subcommands that are not work in progress by themselves
ESTABLISHED, LISTEN = "01", "0A"


@dataclasses.dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...]
    sockets: frozenset[int]  # inodes of its sockets


@dataclasses.dataclass(frozen=True)
class Activity:
    ssh_sessions: int
    jobs: tuple[str, ...]  # `mjpod SUBCOMMAND` (or the Ray task) of each running job
    viewers: int

    @property
    def active(self) -> bool:
        return bool(self.ssh_sessions or self.jobs or self.viewers)

    def describe(self) -> str:
        parts = []
        if self.ssh_sessions:
            parts.append(f"{self.ssh_sessions} SSH session(s)")
        if self.jobs:
            parts.append(f"{len(self.jobs)} job(s): {', '.join(sorted(set(self.jobs)))}")
        if self.viewers:
            parts.append(f"{self.viewers} viewer(s)")
        return "; ".join(parts) or "no SSH session, mjpod job or viewer"


def processes(proc: Path = Path("/proc"), exclude: frozenset[int] = frozenset()) -> Iterator[Process]:
    """Every process /proc shows (the container's, in a container), but those in `exclude`."""
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile, or a kernel thread we may not read
            continue
        argv = tuple(a for a in raw.decode(errors="replace").split("\0") if a)
        yield Process(int(entry.name), argv, frozenset(_sockets(entry)))


def _sockets(entry: Path) -> Iterator[int]:
    try:
        fds = list((entry / "fd").iterdir())
    except OSError:
        return
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            yield int(target[8:-1])


def job_of(argv: tuple[str, ...]) -> str | None:
    """`mjpod SUBCOMMAND` when `argv` runs an mjpod job (console script or `python -m mjpod`), the Ray
    task's name for a busy Ray worker; None otherwise."""
    if argv and argv[0].startswith("ray::"):
        task = argv[0].split()[0]
        return None if task == "ray::IDLE" else task
    for i, arg in enumerate(argv[:3]):
        script = os.path.basename(arg) == "mjpod"
        module = arg == "-m" and i + 1 < len(argv) and argv[i + 1] == "mjpod"
        if script or module:
            rest = [a for a in argv[i + (2 if module else 1) :] if not a.startswith("-")]
            command = rest[0] if rest else ""
            return None if command in NOT_JOBS or not command else f"mjpod {command}"
    return None


def is_ssh_session(argv: tuple[str, ...]) -> bool:
    return bool(argv) and SSH_SESSION.fullmatch(" ".join(argv).strip()) is not None


def remote_connections(proc: Path = Path("/proc")) -> dict[int, bool]:
    """Established TCP connections to a port this network namespace listens on: socket inode -> whether
    the other end is another machine (not loopback)."""
    listening: set[int] = set()
    established: list[tuple[int, int, bool]] = []  # (local port, inode, remote)
    for name in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            try:
                local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
                port = int(local.rsplit(":", 1)[1], 16)
                if state == LISTEN:
                    listening.add(port)
                elif state == ESTABLISHED:
                    established.append((port, inode, not _address(remote).is_loopback))
            except (IndexError, ValueError):  # a line of another format: not a connection we can read
                continue
    return {inode: remote for port, inode, remote in established if port in listening}


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/tcp{,6} writes it: 32-bit words in host (little-endian) byte order."""
    hex_ip = hex_address.rsplit(":", 1)[0]
    raw = b"".join(bytes.fromhex(hex_ip[i : i + 8])[::-1] for i in range(0, len(hex_ip), 8))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def scan(proc: Path = Path("/proc"), exclude: frozenset[int] = frozenset()) -> Activity:
    """What is in use now, among the processes /proc shows (but `exclude`, e.g. the watcher itself)."""
    every = list(processes(proc, exclude))
    connections = remote_connections(proc)
    sshd = {p.pid for p in every if p.argv and os.path.basename(p.argv[0]).startswith("sshd")}
    jobs = tuple(job for p in every if (job := job_of(p.argv)))
    viewer_sockets = {
        inode for p in every if p.pid not in sshd for inode in p.sockets if connections.get(inode)
    }
    return Activity(
        ssh_sessions=sum(is_ssh_session(p.argv) for p in every),
        jobs=jobs,
        viewers=len(viewer_sockets),
    )
