"""`mjpod bench`: honest FPS and steps/s figures for this box, with what really ran stated first.

One module per section, named for it (seed, render, physics, contact, stream, encode, record, batch),
listed in run order in `sections`; the shared types in `types`, the run loop in `runner`, output in
`report`.
"""

from mjpod.jobs.bench.runner import run
from mjpod.jobs.bench.types import BenchConfig

__all__ = ["BenchConfig", "run"]
