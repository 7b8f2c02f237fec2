"""Bench section `render`: GL frames/s of rendering alone, and the GL timing that `seed` and `batch` share."""

from __future__ import annotations

from collections.abc import Callable

import mujoco
from rich.progress import Progress

from mjpod import models
from mjpod.jobs.bench import measure
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row
from mjpod.render.gl import GLRenderer

RENDER_SIZES = ((240, 320), (480, 640))


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """update_scene + render of each model's initial state at each size (--size, else RENDER_SIZES):
    the GL cost alone."""
    sizes = config.sizes or RENDER_SIZES
    task = progress.add_task("render only (GL)", total=len(loaded) * len(sizes))
    for lm in loaded:
        mjd = initial_state(lm)
        for size in sizes:
            result.add(
                gl_row("render", lm, size, lambda r, mjd=mjd: measure.render_only(mjd, r, config.seconds))
            )
            progress.advance(task)


def initial_state(lm: models.LoadedModel) -> mujoco.MjData:
    """The model's initial state with its derived quantities computed, ready to draw."""
    mjd = mujoco.MjData(lm.model)
    mujoco.mj_forward(lm.model, mjd)
    return mjd


def gl_row(
    section: str,
    lm: models.LoadedModel,
    size: tuple[int, int],
    timed: Callable[[GLRenderer], tuple[int, float]],
) -> Row:
    """Time `timed` on a fresh renderer of `size` (height, width) and make its frames/s row."""
    height, width = size
    with GLRenderer(lm.model, height, width) as renderer:
        frames, secs = timed(renderer)
    return Row(
        section, lm.name, frames / secs, "frames/s", frames, secs, width=width, height=height, note="GL"
    )
