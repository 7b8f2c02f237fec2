"""A sweep on the console: a bar of finished jobs with the failed and running counts and an ETA.

It hooks into the driver (`runner.Events.on_change` and `runner.run`'s `on_result`), prints each
failure above the bar as it comes, and on the way out says what a stop left behind.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mjpod.jobs.sweep.runner import Events


class SweepProgress:
    def __init__(self, console: Console, events: Events, total: int, skipped: int = 0) -> None:
        """`total`: the jobs this run will start (the spec's minus the `skipped` finished ones)."""
        self.events = events
        self._progress = Progress(
            TextColumn("[bold]sweep[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}  running {task.fields[running]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._progress.add_task("sweep", total=total, failed=0, running=0)
        self._failed = 0
        self._skipped = skipped
        events.on_change = self._changed

    def result(self, record: dict[str, Any]) -> None:
        """runner.run's on_result: one more job ended."""
        if record["status"] == "failed":
            self._failed += 1
            self._progress.console.print(f"[red]failed[/] {record['id']}: {record.get('error')}")
        self._progress.update(self._task, advance=1, failed=self._failed, running=self.events.running)

    def _changed(self) -> None:
        if self.events.stop.is_set() and not self.events.cancel.is_set():
            self._progress.update(self._task, description="stopping")
        self._progress.update(self._task, running=self.events.running)

    def __enter__(self) -> SweepProgress:
        self._progress.start()
        if self._skipped:
            self._progress.console.print(f"{self._skipped} job(s) already done: skipped")
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.update(self._task, running=0)
        say = self._progress.console.print
        if self.events.cancel.is_set():
            say("interrupted twice: running jobs cancelled; the same command goes on")
        elif self.events.stop.is_set():
            say("interrupted: no new jobs were started, the running ones finished; the same command goes on")
        self._progress.stop()
