"""Benchmark section `stream`: what streaming costs the simulation, and how fresh the states arrive.

For each model, MuJoCo C steps as fast as it can and publishes every step (no rate cap: the worst
case) with 0, 1 and 4 reading clients, with one reading plus one stalled client, and with one reading
among hostile peers (15 stalled clients and 40 connections that never say hello); reading clients
are separate processes, as real viewers are. Then states at about 200 Hz give the loopback latency from
`publish` to a decoded state in a client (p50, p99), and the size of one STATE message. Last, the
browser view's rows (browser_view.py): steps/s with 0 and 1 headless Chromium, bytes/s to it, and the
size of its first download.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import mujoco
import numpy as np
from rich.progress import Progress

from mjpod import models
from mjpod.jobs.bench import browser_view
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row
from mjpod.stream.client import StreamClient
from mjpod.stream.feed import StateFeed
from mjpod.stream.protocol import Kind, encode
from mjpod.stream.server import DEFAULT_HOST, Server

CONDITIONS = (  # label, reading clients, stalled clients, silent connections
    ("0 clients", 0, 0, 0),
    ("1 client", 1, 0, 0),
    ("4 clients", 4, 0, 0),
    ("1 client + 1 stalled", 1, 1, 0),
    ("1 client + 15 stalled + 40 silent", 1, 15, 40),
)
LATENCY_PERIOD = 0.005  # seconds between states in the latency run


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    seconds = min(config.seconds, 1.0)
    task = progress.add_task("stream", total=len(loaded) * (len(CONDITIONS) + 2))
    for lm in loaded:
        try:
            _measure_model(lm, seconds, result, progress, task)
        except Exception as err:  # a port or process problem must not end the whole benchmark
            result.warnings.append(f"stream section on {lm.name} failed: {err}")
        try:
            browser_view.measure(lm, config.seconds, result, progress, task)
        except Exception as err:
            result.warnings.append(f"stream section, browser view on {lm.name} failed: {err}")


def _measure_model(
    lm: models.LoadedModel, seconds: float, result: BenchResult, progress: Progress, task: int
) -> None:
    note = "mjc: mj_step + send_state every step, no rate cap; clients are separate processes on loopback"
    for label, nclients, stalled, silent in CONDITIONS:
        progress.update(task, description=f"stream {lm.name}: {label}")
        with _server(lm) as server, _clients(server, nclients, stalled, silent):
            steps, secs = _steps_while_streaming(lm.model, server, seconds)
        result.add(
            Row(
                "stream",
                lm.name,
                steps / secs,
                f"steps/s, {label}",
                steps,
                secs,
                engine="mjc",
                device="cpu",
                note=note,
            )
        )
        progress.advance(task)
    progress.update(task, description=f"stream {lm.name}: latency")
    with _server(lm) as server:
        latencies, size, secs = _latency(lm.model, server, seconds)
    n = len(latencies)
    for q in (50, 99):
        value = float(np.percentile(latencies, q)) * 1e3
        result.add(Row("stream", lm.name, value, f"ms latency p{q}", n, secs, engine="mjc", device="cpu"))
    result.add(Row("stream", lm.name, float(size), "bytes/state", n, secs, engine="mjc", device="cpu"))
    progress.advance(task)


@contextlib.contextmanager
def _server(lm: models.LoadedModel) -> Iterator[Server]:
    """A listening server on a free loopback port that does not wait for its first client."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Server(lm.model, lm.name, str(lm.path), StateFeed(hz=0), DEFAULT_HOST, port) as server:
        yield server


class _clients:
    """n reading client processes, stalled sockets (hello, then never a read) and silent ones (never a
    hello), attached for the block's duration."""

    def __init__(self, server: Server, n: int, stalled: int, silent: int) -> None:
        self.server, self.n, self.stalled, self.silent = server, n, stalled, silent
        self.procs: list[subprocess.Popen] = []
        self.socks: list[socket.socket] = []

    def __enter__(self) -> _clients:
        host, port = self.server.address
        cmd = [sys.executable, "-c", DRAIN, host, str(port)]
        self.procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL) for _ in range(self.n)]
        for _ in range(self.stalled):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((host, port))
            sock.sendall(encode(Kind.HELLO, {"client": "bench-stalled"}))
            self.socks.append(sock)
        want = self.n + self.stalled
        deadline = time.monotonic() + 120
        while self.server.clients < want:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"only {self.server.clients} of {want} stream clients connected")
            time.sleep(0.02)
        # (after the others joined: silent ones hold the server's hello slots for its 5 s deadline)
        self.socks += [socket.create_connection((host, port)) for _ in range(self.silent)]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for sock in self.socks:
            sock.close()


def _steps_while_streaming(mjm: mujoco.MjModel, server: Server, seconds: float) -> tuple[int, float]:
    mjd = mujoco.MjData(mjm)
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or steps < 100:
        for _ in range(10):
            mujoco.mj_step(mjm, mjd)
            server.publish(mjd)
        steps += 10
    return steps, elapsed


def _latency(mjm: mujoco.MjModel, server: Server, seconds: float) -> tuple[np.ndarray, int, float]:
    """Seconds from publish to a decoded, size-checked state in a client, per state."""
    client = StreamClient.connect(*server.address)
    sent: dict[int, float] = {}
    received: dict[int, float] = {}

    def read() -> None:
        while (state := client.next_state(newest=False)) is not None:
            received[state["seq"]] = time.perf_counter()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    mjd = mujoco.MjData(mjm)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(sent) < 20:
        mujoco.mj_step(mjm, mjd)
        t = time.perf_counter()
        seq = server.publish(mjd)
        if seq is not None:
            sent[seq] = t
        time.sleep(LATENCY_PERIOD)
    elapsed = time.perf_counter() - start
    size = len(server.feed.latest().message)  # type: ignore[union-attr]
    server.close()
    reader.join(timeout=10)
    client.close()
    latencies = np.array([received[s] - sent[s] for s in sent if s in received])
    if not len(latencies):
        raise RuntimeError("no state reached the latency client")
    return latencies, size, elapsed


def drain(host: str, port: int) -> None:
    """A bench client: read and check every state until the server closes."""
    with StreamClient.connect(host, port) as client:
        while client.next_state(newest=False) is not None:
            pass


# The client processes run `drain` (not `python -m` this module: the bench package imports it first,
# and runpy warns of that on every client)
DRAIN = "import sys; from mjpod.jobs.bench.stream import drain; drain(sys.argv[1], int(sys.argv[2]))"
