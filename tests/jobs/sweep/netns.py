"""A real multi-node Ray cluster on this machine: one network namespace per node, joined by a bridge.

Ray refuses a multi-node cluster on 127.0.0.1 alone, and tests may reach only loopback or hosts they
make, so each node gets its own namespace and a private address that exists only in there: a hub
namespace holds a bridge, and every node namespace has a veth pair into it. Nothing is added to the
machine's own namespace. Needs root (CI and this machine run as root); `available()` says why not.

Stopping kills the processes found in each namespace by pid: `ray stop` would kill every Ray process
on the machine (it matches names), including other tests' and other users' clusters.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBNET = "10.77.0"  # exists only inside the namespaces below
PORT = 6379  # scripts/ray-node.sh's default
RAY_NODE = Path(__file__).resolve().parents[3] / "scripts" / "ray-node.sh"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def available() -> str | None:
    """None when namespaces can be made here, else the reason they cannot."""
    name = f"mjprobe{os.getpid()}"
    try:
        result = _ip("netns", "add", name, check=False)
    except FileNotFoundError:
        return "the ip command (iproute2) is not installed"
    if result.returncode:
        return f"cannot create network namespaces ({result.stderr.strip()}): needs root"
    _ip("netns", "del", name, check=False)
    return None


class Cluster:
    """A Ray head and `workers` worker nodes, each with `cpus` CPUs, token authentication on."""

    def __init__(self, workers: int = 2, cpus: int = 1, env: dict[str, str] | None = None) -> None:
        self.prefix = f"mj{os.getpid()}"
        self.hub = f"{self.prefix}hub"
        self.nodes = [f"{self.prefix}n{i}" for i in range(workers + 1)]
        self.cpus = cpus
        self.tmp = Path(tempfile.mkdtemp(prefix="mjray"))  # short: Ray's socket paths live under it
        self.token = secrets.token_hex(16)
        path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # the venv's ray and mjpod
        self.env = {**os.environ, **(env or {}), "PATH": path, "RAY_AUTH_TOKEN": self.token}
        self.env.pop("RAY_ADDRESS", None)

    @property
    def address(self) -> str:
        return f"{self.ip(0)}:{PORT}"

    def ip(self, node: int) -> str:
        return f"{SUBNET}.{node + 1}"

    def node_env(self, node: int) -> dict[str, str]:
        """Each node has its own Ray temp folder and Warp kernel cache, as separate machines would."""
        folder = self.tmp / f"n{node}"
        return {
            **self.env,
            "NODE_RANK": str(node),
            "NODE_ADDR": self.ip(node),
            "PRIMARY_ADDR": self.ip(0),
            "RAY_TMPDIR": str(folder),
            "WARP_CACHE_PATH": str(folder / "warp"),
        }

    def start(self) -> Cluster:
        _ip("netns", "add", self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for i, ns in enumerate(self.nodes):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"p{i}", "netns", self.hub)
            _ip("-n", self.hub, "link", "set", f"p{i}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.ip(i)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            (self.tmp / f"n{i}").mkdir()
        # every node starts the way a Runpod Instant Cluster pod would: scripts/ray-node.sh by rank
        for node in range(len(self.nodes)):
            self._start_node(node)
        return self

    def _start_node(self, node: int, tries: int = 2) -> None:
        """One node at a time, with a second try: on a loaded 2-core machine Ray's own 30 s wait for a
        raylet to register can run out, which says nothing about the sweep under test."""
        extra = ["--num-cpus", str(self.cpus), "--object-store-memory", "80000000"]
        for _ in range(tries):
            p = self.popen(node, [str(RAY_NODE), *extra])
            out, _ = p.communicate(timeout=120)
            if p.returncode == 0:
                return
            self._kill(node, signal.SIGKILL)
        raise AssertionError(f"node {node}: ray-node.sh failed {tries} times:\n{out}\n{self.logs()}")

    def logs(self, lines: int = 15) -> str:
        """The end of every node's Ray logs: what a failed start needs to be understood."""
        tails = []
        for log in sorted(self.tmp.glob("n*/ray/session_*/logs/*.out")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {log.relative_to(self.tmp)}\n" + "\n".join(text))
        return "\n".join(tails)

    def popen(self, node: int, argv: list[str], **kw) -> subprocess.Popen:
        """Start `argv` inside node `node`'s namespace with the node's environment."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.nodes[node], *argv],
            env=self.node_env(node) | kw.pop("env", {}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **kw,
        )

    def pids(self, node: int) -> list[int]:
        out = _ip("netns", "pids", self.nodes[node], check=False).stdout
        return [int(p) for p in out.split()]

    def kill_node(self, node: int) -> None:
        """What a machine that dies looks like to the others: every process on it gone at once."""
        self._kill(node, signal.SIGKILL)

    def _kill(self, node: int, sig: int) -> None:
        for pid in self.pids(node):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self) -> None:
        """Stop every process in the namespaces, then remove them (their links go with them)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for i in range(len(self.nodes)):
                self._kill(i, sig)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and any(self.pids(i) for i in range(len(self.nodes))):
                time.sleep(0.2)
        for ns in [*self.nodes, self.hub]:
            _ip("netns", "del", ns, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
