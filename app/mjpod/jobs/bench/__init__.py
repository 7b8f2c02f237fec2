"""`mjpod bench`: honest FPS and steps/s figures for this box, with what really ran stated first.

One module per section (rendering: seed and render; physics; contact; streaming; encoding: encode and
record; raytracing: batch), the shared types in `types`, the run loop in `runner`, output in `report`.
"""

from mjpod.jobs.bench.runner import run
from mjpod.jobs.bench.types import BenchConfig

__all__ = ["BenchConfig", "run"]
