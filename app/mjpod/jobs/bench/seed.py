"""Bench section `seed`: GL frames/s of the seed loop (mj_step, update_scene, render; docs/architecture.md)
on the seed's own model and frame size."""

from __future__ import annotations

from rich.progress import Progress

from mjpod import models
from mjpod.jobs.bench import measure
from mjpod.jobs.bench.render import gl_row
from mjpod.jobs.bench.types import SEED_MODEL, BenchConfig, BenchResult

SEED_SIZE = (240, 320)  # height, width, as in the seed loop


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """The seed loop: mj_step + update_scene + render on the seed's own model."""
    del loaded  # the seed loop always runs the seed's own model
    task = progress.add_task("seed loop (mj_step+render)", total=1)
    try:
        lm = models.load(SEED_MODEL)
    except models.ModelError as err:
        result.warnings.append(f"seed loop skipped: {err}")
        result.skipped.append("seed")
        progress.update(task, description="seed loop: skipped (Panda not available)", completed=1)
        return
    result.add(gl_row("seed", lm, SEED_SIZE, lambda r: measure.seed_loop(lm.model, r, config.seconds)))
    progress.advance(task)
