"""Bench section `rollout`: a full rollout with cameras (physics, RGB-D of every world by the batch
renderer, NPZ shards written) in world-frames/s, beside the batch section's render-only figure for the
same model, camera, size and nworld, and the ratio of the two: how much of the renderer's speed a
dataset keeps. One physics step per frame (rate = the physics rate), so the two count the same frames.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from rich.progress import Progress

from mjpod import models
from mjpod.engines import buffers
from mjpod.jobs import rollout
from mjpod.jobs.bench import batch
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row, nworld_sweep
from mjpod.jobs.shards import sample_bytes
from mjpod.render.images import ImageSpec

ROLLOUT_SIZES = ((64, 64), (128, 128))
IMAGES = ("rgb", "depth")
WRITE_BUDGET = 2 * 2**30  # bytes one measurement writes at most (8192 worlds x 128x128 RGB-D: 2 samples)
MIN_SAMPLES = 3


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """A rollout with cameras across nworld at 64x64 and 128x128 (or --size), beside render-only."""
    if not result.warp_device:
        result.skipped.append("rollout (needs a Warp engine)")
        return
    with_camera = batch.models_with_camera("rollout", loaded, result)
    sweep = nworld_sweep(config, "mjwarp", result.warp_device)
    sizes = config.sizes or ROLLOUT_SIZES
    task = progress.add_task("rollout with cameras", total=len(with_camera) * len(sizes) * len(sweep))
    base = config.engine_config
    for lm in with_camera:
        nconmax, njmax = buffers.sized(lm.model, base.keyframe, base.nconmax, base.njmax)
        for size in sizes:
            for nworld in sweep:
                alone = _render_only(config, result, lm, size, nworld, nconmax, njmax)
                if alone is not None:
                    full = _rollout_row(config, result, lm, size, nworld, nconmax, njmax, alone)
                    if full is not None:
                        result.add(_ratio(full, alone))
                progress.advance(task)


def _render_only(config, result, lm, size, nworld, nconmax, njmax) -> Row | None:
    """The batch section's figure for this model, size and nworld: from this run (or the runs it
    continues), else measured now as the batch section measures it."""
    height, width = size
    for r in reversed(result.rows):
        if (r.section, r.model, r.engine, r.device, r.nworld, r.width, r.height) == (
            "batch", lm.name, "mjwarp", result.warp_device, nworld, width, height,
        ):  # fmt: skip
            return r
    return batch.batch_row(config, result, lm, size, nworld, nconmax, njmax)


def _rollout_row(config, result, lm, size, nworld, nconmax, njmax, alone: Row) -> Row | None:
    height, width = size
    timestep = float(lm.model.opt.timestep)
    per_sample = sample_bytes(ImageSpec((0,), IMAGES, height, width).arrays(nworld))
    in_budget = alone.value * config.seconds / nworld  # frames the render-only pace fits in the budget
    samples = max(MIN_SAMPLES, min(config.nstep, math.floor(in_budget), WRITE_BUDGET // per_sample))
    settings = rollout.RolloutSettings(
        model=str(lm.path),
        engine="mjwarp",
        engine_config=config.engine_settings(nworld=nworld, nconmax=nconmax, njmax=njmax),
        duration=(samples - 1) * timestep,
        rate=1.0 / timestep,  # one physics step per frame, as render-only draws one frame per step
        sensors=False,
        renderer="batch",
        cameras=("0",),
        images=IMAGES,
        width=width,
        height=height,
        shard_mb=max(256.0, math.ceil(2 * per_sample / 2**20)),
    )
    config.out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".rollout-bench-", dir=config.out) as folder:
            done = rollout.rollout(settings, Path(folder))
    except Exception as err:  # memory or a model feature: record it and go on
        result.warnings.append(f"rollout {lm.name} nworld={nworld} {width}x{height} failed: {err}")
        return None
    frames = (done.samples - 1) * nworld  # the first sample compiles kernels and captures graphs: untimed
    row = Row(
        section="rollout",
        model=lm.name,
        value=frames / done.warm_seconds,
        unit="world-frames/s",
        count=frames,
        seconds=done.warm_seconds,
        engine="mjwarp",
        device=alone.device,
        nworld=nworld,
        width=width,
        height=height,
        note=f"physics + RGB-D of every world + NPZ shards, {done.samples} samples",
    )
    return result.add(row)


def _ratio(full: Row, alone: Row) -> Row:
    return Row(
        section="rollout",
        model=full.model,
        value=full.value / alone.value,
        unit="x render-only",
        count=full.count,
        seconds=full.seconds,
        engine="mjwarp",
        device=full.device,
        nworld=full.nworld,
        width=full.width,
        height=full.height,
        note="full rollout / batch render-only, same model, camera and size",
    )
