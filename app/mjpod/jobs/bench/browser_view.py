"""Rows of section `stream` for the browser view (`mjpod serve --web`): what a browser costs the
simulation, what it receives, and what it downloads first.

MuJoCo C steps one world as fast as it can with frames at 60 Hz, as `mjpod serve --fast --web` runs it,
once with the browser view up and nobody watching, once with a headless Chromium showing the page
(SwiftShader WebGL2 on this machine's CPUs: the browser draws the scene, the server only sends states).
Rows: steps/s with 0 and 1 browser, the bytes per second the browser receives once the page runs
(states and Studio's UI), and the bytes of its first download (page, WebAssembly, assets and the model
bundle), counted by the view's gate. The browser draws in software here, which takes a core or more:
so that the rows measure what the server pays, as when the browser runs on the user's laptop, the
browser gets CPUs of its own for the run (the last one, or the upper half of a bigger machine) and the
simulation the others, in both conditions; a machine with one CPU shares it (the note says so).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

from rich.progress import Progress, TaskID

from mjpod import engines, models
from mjpod.engines import Engine, EngineConfig
from mjpod.jobs.bench.types import BenchResult, Row
from mjpod.stream import simloop
from mjpod.stream.web import WebView

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
HZ = 60.0  # states per second, mjpod serve's default
LOAD_TIMEOUT = 300.0  # seconds for the page to download, compile and start streaming
QUIET = 2.0  # seconds without a file downloaded: the first download is over
# Each window lasts a second at least, whatever --seconds says: the panel refreshes at 2 Hz, so a
# shorter window measures the panel's timing more than the stream (and see _watched).
MIN_WINDOW = 1.0
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def measure(
    lm: models.LoadedModel, seconds: float, result: BenchResult, progress: Progress, task: TaskID
) -> None:
    """The browser-view rows of one model (a warning instead when there is no headless Chromium)."""
    chromium = next(filter(None, map(shutil.which, CHROMIUM)), None)
    if chromium is None:
        result.warnings.append(
            "stream: no browser-view rows: they need headless Chromium (docker/provision.sh test installs it)"
        )
        return
    progress.update(task, description=f"stream {lm.name}: browser view, 0 and 1 browser")
    for row in _rows(lm, chromium, max(seconds, MIN_WINDOW)):
        result.add(row)
    progress.advance(task)


def _rows(lm: models.LoadedModel, chromium: str, seconds: float) -> list[Row]:
    """Steps/s with 0 and 1 browser, bytes/s to it and its first download."""
    ours, theirs = _split_cpus()
    where = f"on CPUs {_cpus(theirs)}, the simulation on {_cpus(ours)}" if theirs else "sharing the one CPU"
    note = f"mjc, 1 world, frames at 60 Hz, as fast as it goes; the browser: headless Chromium {where}"
    with _pinned(ours), engines.make("mjc", lm.model, EngineConfig()) as engine, _view(lm, engine) as web:
        steps, secs = _steps(engine, web, seconds)
        alone = Row("stream", lm.name, steps / secs, "steps/s, browser view, 0 browsers", steps, secs,
                    engine="mjc", device="cpu", note=note)  # fmt: skip
        with _browser(chromium, "http://{}:{}/".format(*web.address), theirs):
            first = _page_loaded(engine, web)
            steps, secs, rate = _watched(engine, web, seconds)
    return [
        alone,
        Row("stream", lm.name, steps / secs, "steps/s, browser view, 1 browser", steps, secs, engine="mjc",
            device="cpu", note=note),
        Row("stream", lm.name, rate, "bytes/s to 1 browser", steps, secs, engine="mjc", device="cpu",
            note="states and Studio's UI, through the gate"),
        Row("stream", lm.name, float(first), "bytes first download", 1, secs, engine="mjc", device="cpu",
            note="page, WebAssembly, assets and model bundle, through the gate"),
    ]  # fmt: skip


def _split_cpus() -> tuple[set[int], set[int]]:
    """(the simulation's CPUs, the browser's): the browser takes the upper half (at least one)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set()
    half = max(1, len(cpus) // 2)
    return set(cpus[:-half]), set(cpus[-half:])


def _cpus(cpus: set[int]) -> str:
    return ",".join(map(str, sorted(cpus)))


@contextlib.contextmanager
def _pinned(cpus: set[int]) -> Iterator[None]:
    """Every thread of this process (those started inside the block too) on `cpus`, then as before."""
    before = {int(t): os.sched_getaffinity(int(t)) for t in os.listdir("/proc/self/task")}
    for tid in before:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(tid, cpus)
    try:
        yield
    finally:
        everything = set().union(*before.values())
        for tid in map(int, os.listdir("/proc/self/task")):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, before.get(tid, everything))


@contextlib.contextmanager
def _view(lm: models.LoadedModel, engine: Engine) -> Iterator[WebView]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    web = WebView(lm.model, lm.name, engine=f"{engine.name} on {engine.device}", nworld=1, port=port)
    web.start()
    try:
        yield web
    finally:
        web.close()


def _steps(engine: Engine, web: WebView, seconds: float) -> tuple[int, float]:
    """Steps and wall seconds of `seconds` of `mjpod serve --fast`'s loop, publishing to the view."""
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        stats = simloop.run(engine, lambda: web.publish(engine), hz=HZ, realtime=False, stop=stop)
    finally:
        timer.cancel()
    return stats.steps, stats.wall


def _watched(engine: Engine, web: WebView, seconds: float) -> tuple[int, float, float]:
    """Steps, wall seconds and bytes/s to the browser of `seconds` of the loop or more: windows of
    `seconds` follow each other until the browser has received something. A page that draws in
    software on a busy machine can go a whole window without taking a byte, and a rate of 0 would
    say the view sends nothing, which is false."""
    before, start = web.gate.bytes_out["streams"], time.perf_counter()
    deadline = time.monotonic() + LOAD_TIMEOUT
    steps, secs = _steps(engine, web, seconds)
    while web.gate.bytes_out["streams"] == before:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the browser view sent headless Chromium nothing in {LOAD_TIMEOUT:g} s")
        more, more_secs = _steps(engine, web, seconds)
        steps, secs = steps + more, secs + more_secs
    return steps, secs, (web.gate.bytes_out["streams"] - before) / (time.perf_counter() - start)


@contextlib.contextmanager
def _browser(chromium: str, url: str, cpus: set[int]) -> Iterator[None]:
    """A headless Chromium showing `url` on `cpus` (when given), with a profile of its own, until the
    block ends."""
    # (ignore_cleanup_errors: a profile left in /tmp costs less than the rows an error would lose)
    with tempfile.TemporaryDirectory(prefix="mjpod-bench-chromium-", ignore_cleanup_errors=True) as profile:
        # fmt: off
        proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,720",
             f"--user-data-dir={profile}", "--no-first-run", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_tied(cpus),
        )
        # fmt: on
        try:
            yield
        finally:
            _stop(proc)


def _tied(cpus: set[int]) -> Callable[[], None]:
    """What Chromium runs before it starts: it goes on `cpus` (when given), and is sent SIGTERM if this
    process dies first, so that a crash leaves no browser drawing for nobody on a core of its own."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # (looked up here: after the fork, only a call)

    def before_exec() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return before_exec


def _stop(proc: subprocess.Popen) -> None:
    """Chromium and every process it started: a renderer outliving the browser goes on writing to the
    profile while it is being removed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _page_loaded(engine: Engine, web: WebView) -> int:
    """Bytes of the first download, once the page has the whole model bundle, streams states and has
    fetched nothing for QUIET seconds. The simulation runs meanwhile, as it would."""
    from mujoco.studio.web import state_payload  # Studio's own bundle: what the page must download

    bundle = len(state_payload.serialize_model_bundle(web.model))
    deadline = time.monotonic() + LOAD_TIMEOUT
    fetched, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        _steps(engine, web, 0.5)
        sent = web.gate.bytes_out
        now = sent["files"] + sent["model"]
        if now != fetched:
            fetched, quiet_since = now, time.monotonic()
        elif sent["model"] >= bundle and sent["streams"] and time.monotonic() - quiet_since >= QUIET:
            return fetched
    raise RuntimeError(f"headless Chromium did not show the browser view within {LOAD_TIMEOUT:g} s")
