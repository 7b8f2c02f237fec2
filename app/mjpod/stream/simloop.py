"""Step an engine in real time (or as fast as it goes) and hand world frames out at a capped rate.

`mjpod serve` and `mjpod view --local` share it: the engine steps in chunks of about one frame of
simulated time; after each chunk `on_frame` is called when a frame is due (at most `hz` a wall second),
and in real time the loop sleeps off any lead of simulated time over wall time.

A `Steering` (the browser view's --web-control) pauses the loop and hands it commands for the engine;
they run here, between chunks, because an engine belongs to the thread that steps it and because the
loop must never wait for whoever sends them.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from mjpod.engines import Engine

Command = Callable[[Engine], None]


@dataclasses.dataclass(frozen=True)
class RunStats:
    steps: int  # per world
    sim_time: float  # simulated seconds
    wall: float  # seconds, not counting pauses

    @property
    def steps_per_second(self) -> float:
        return self.steps * 1.0 / self.wall if self.wall > 0 else 0.0


class Steering:
    """Pause, single steps and engine commands from another thread, carried out by `run` between chunks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: list[Command] = []
        self._paused = False
        self._single_steps = 0
        self._wake = threading.Event()

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self, paused: bool) -> None:
        self._paused = paused
        self._wake.set()

    def single_step(self) -> None:
        """While paused: one physics step, then paused again."""
        with self._lock:
            self._single_steps += 1
        self._wake.set()

    def submit(self, command: Command) -> None:
        """Run `command(engine)` on the stepping thread before the next chunk (or frame, while paused)."""
        with self._lock:
            self._commands.append(command)
        self._wake.set()

    def _apply(self, engine: Engine) -> None:
        if not self._commands:  # no lock in the common case: a list read is atomic
            return
        with self._lock:
            commands, self._commands = self._commands, []
        for command in commands:
            command(engine)

    def _take_single_step(self) -> bool:
        with self._lock:
            if not self._single_steps:
                return False
            self._single_steps -= 1
            return True

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()


def run(
    engine: Engine,
    on_frame: Callable[[], bool | None],
    *,
    hz: float = 60.0,
    duration: float = 0.0,
    realtime: bool = True,
    stop: threading.Event | None = None,
    steering: Steering | None = None,
) -> RunStats:
    """Run until `duration` simulated seconds (0: until `stop` is set) or `on_frame` returns False."""
    stop = stop or threading.Event()
    frame_dt = 1.0 / hz if hz > 0 else 0.0
    chunk = max(1, round(frame_dt / engine.timestep)) if frame_dt else 1
    total = round(duration / engine.timestep) if duration > 0 else None
    steps, start, next_frame = 0, time.perf_counter(), 0.0
    while not stop.is_set() and (total is None or steps < total):
        n = chunk if total is None else min(chunk, total - steps)
        if steering is not None:
            steering._apply(engine)
            if steering.paused:
                if not steering._take_single_step():
                    held = time.perf_counter()
                    if on_frame() is False:  # a paused world still shows resets and world changes
                        break
                    steering._wait(frame_dt or 0.05)
                    start += time.perf_counter() - held  # a pause is no lag to catch up on
                    continue
                n = 1
        engine.step(n)
        steps += n
        now = time.perf_counter() - start
        if now >= next_frame or (steering is not None and steering.paused):
            if on_frame() is False:
                break
            next_frame = max(next_frame + frame_dt, now) if frame_dt else now
        if realtime:
            lead = steps * engine.timestep - (time.perf_counter() - start)
            if lead > 0:
                stop.wait(lead)
    engine.sync()
    return RunStats(steps, steps * engine.timestep, time.perf_counter() - start)
