"""Drive a sweep: skip what is done, hand the rest to a backend, keep results.csv up to date.

Backends: `LoopBackend` runs jobs one after another in this process (no Ray); `ray_backend.RayBackend`
fans them out over a local Ray or a cluster. Both run `execute.run`, so a job's result does not
depend on where it ran.

Interrupts: the first Ctrl-C (or SIGTERM) stops scheduling and lets running jobs finish; a second
one cancels the running jobs (their attempts are dropped, so they run again next time). Either way
results.csv is rewritten before returning, with every job of the spec in it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from mjpod.jobs.sweep import execute
from mjpod.jobs.sweep.grid import Job
from mjpod.jobs.sweep.store import Store

TABLE_EVERY_S = 2.0  # results.csv is rewritten at most this often while jobs finish (and at the end)


class Backend(Protocol):
    has_gpus: bool

    def describe(self) -> str:
        """Where the jobs run, for the console."""
        ...

    def check(self, jobs: list[Job]) -> None:
        """Refuse, before anything runs, jobs this backend could never run (an MjpodError)."""
        ...

    def run(self, jobs: list[Job], out: str, on_result: Callable[[dict], None], events: Events) -> None:
        """Run the jobs, calling `on_result(record)` as each ends; honour events.stop and events.cancel."""
        ...

    def close(self) -> None: ...


@dataclasses.dataclass
class Events:
    """What the driver and its display share: the stop/cancel requests and the running count."""

    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    running: int = 0
    on_change: Callable[[], None] = lambda: None


@dataclasses.dataclass
class Outcome:
    records: list[dict[str, Any]]  # one per job of the spec, in spec order
    table: str
    ran: int
    seconds: float  # wall time of this run's jobs, from the first submitted to the last finished

    @property
    def jobs_per_second(self) -> float:
        return self.ran / self.seconds if self.seconds > 0 else 0.0

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.records)


class LoopBackend:
    """One job after another in this process: a baseline for Ray, and the simplest way to debug a job."""

    def __init__(self) -> None:
        from mjpod.host import sysinfo

        self.has_gpus = bool(sysinfo.nvidia_gpus())

    def describe(self) -> str:
        return "this process, one job after another (no Ray)"

    def check(self, jobs: list[Job]) -> None:
        """Every job fits: each runs alone with the whole machine."""

    def close(self) -> None:
        pass

    def run(self, jobs: list[Job], out: str, on_result: Callable[[dict], None], events: Events) -> None:
        for job in jobs:
            if events.stop.is_set():
                return
            events.running = 1
            events.on_change()
            on_result(execute.run(job.id, job.params, out, job.device(self.has_gpus), job.cpus, "local"))
            events.running = 0


def pending_record(job: Job, status: str, error: str | None = None) -> dict[str, Any]:
    return {"id": job.id, "params": job.params, "status": status, "error": error}


def run(
    jobs: list[Job],
    store: Store,
    backend: Backend,
    events: Events,
    on_result: Callable[[dict[str, Any]], None] = lambda r: None,
) -> Outcome:
    """Run the jobs not yet done; returns every job's record and writes results.csv."""
    with store.lock():
        store.clear_staging()
        done = store.finished({j.id: j.params for j in jobs})
        records: dict[str, dict[str, Any]] = {i: r | {"reused": True} for i, r in done.items()}
        todo = [j for j in jobs if j.id not in done]
        last_table = [0.0]

        def table() -> None:
            rows = [records.get(j.id) or pending_record(j, "pending") for j in jobs]
            store.write_table(rows)
            last_table[0] = time.monotonic()

        def finished(record: dict[str, Any]) -> None:
            if record["status"] == "failed" and store.record(record["id"]) is None:
                store.publish(store.staging(record["id"]), record["id"], record)  # Ray gave up on it
            records[record["id"]] = record | {"reused": False}
            on_result(record)
            if time.monotonic() - last_table[0] > TABLE_EVERY_S:
                table()

        table()
        start = time.perf_counter()
        try:
            backend.run(todo, str(store.root.resolve()), finished, events)
        finally:
            seconds = time.perf_counter() - start
            table()
            store.clear_staging()
    rows = [records.get(j.id) or pending_record(j, "pending") for j in jobs]
    ran = sum(1 for r in rows if r.get("reused") is False)
    return Outcome(rows, str(store.root / "results.csv"), ran, seconds)
