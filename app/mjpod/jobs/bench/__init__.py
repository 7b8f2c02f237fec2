"""`mjpod bench`: honest FPS and steps/s figures for this box, with what really ran stated first."""

from mjpod.jobs.bench.runner import BenchConfig, run

__all__ = ["BenchConfig", "run"]
