"""Step an engine in real time (or as fast as it goes) and hand world frames out at a capped rate.

`mjpod serve` and `mjpod view --local` share it: the engine steps in chunks of about one frame of
simulated time; after each chunk `on_frame` is called when a frame is due (at most `hz` a wall second),
and in real time the loop sleeps off any lead of simulated time over wall time.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from mjpod.engines import Engine


@dataclasses.dataclass(frozen=True)
class RunStats:
    steps: int  # per world
    sim_time: float  # simulated seconds
    wall: float  # seconds

    @property
    def steps_per_second(self) -> float:
        return self.steps * 1.0 / self.wall if self.wall > 0 else 0.0


def run(
    engine: Engine,
    on_frame: Callable[[], bool | None],
    *,
    hz: float = 60.0,
    duration: float = 0.0,
    realtime: bool = True,
    stop: threading.Event | None = None,
) -> RunStats:
    """Run until `duration` simulated seconds (0: until `stop` is set) or `on_frame` returns False."""
    stop = stop or threading.Event()
    frame_dt = 1.0 / hz if hz > 0 else 0.0
    chunk = max(1, round(frame_dt / engine.timestep)) if frame_dt else 1
    total = round(duration / engine.timestep) if duration > 0 else None
    steps, start, next_frame = 0, time.perf_counter(), 0.0
    while not stop.is_set() and (total is None or steps < total):
        n = chunk if total is None else min(chunk, total - steps)
        engine.step(n)
        steps += n
        now = time.perf_counter() - start
        if now >= next_frame:
            if on_frame() is False:
                break
            next_frame = max(next_frame + frame_dt, now) if frame_dt else now
        if realtime:
            lead = steps * engine.timestep - (time.perf_counter() - start)
            if lead > 0:
                stop.wait(lead)
    engine.sync()
    return RunStats(steps, steps * engine.timestep, time.perf_counter() - start)
