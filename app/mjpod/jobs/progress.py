"""A simulation job's progress on the console: frames or samples done, their rate, the time left."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressBar:
    """A recording or rollout on the console: `update` is the job's on_frame, `print` its on_start.

    The bar starts with the first frame (or sample), so a refused setting prints its error alone, and
    the rate it shows leaves out loading the model and compiling kernels.
    """

    def __init__(self, console: Console, label: str = "recording", unit: str = "frames") -> None:
        columns = (
            TextColumn(f"[bold]{label}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit + " {task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        self._progress = Progress(*columns, console=console)
        self._label = label
        self._task: int | None = None
        self._start, self._first = 0.0, 0

    def update(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(self._label, total=total, rate="")
            self._start, self._first = now, done
        rate = f"{(done - self._first) / (now - self._start):.1f}/s" if now > self._start else ""
        self._progress.update(self._task, completed=done, total=total, rate=rate)

    def print(self, text: str) -> None:
        self._progress.console.print(text)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._progress.stop()
