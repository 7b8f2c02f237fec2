"""Bench section `batch`: mujoco_warp's batch ray tracer across nworld, GL at the same sizes and camera
beside it, and on CUDA mjwarp-testspeed --function=render at 8192 worlds with the ratio of the two."""

from __future__ import annotations

from rich.progress import Progress

from mjpod import models
from mjpod.engines import buffers, make
from mjpod.jobs.bench import measure, testspeed
from mjpod.jobs.bench.render import gl_row, initial_state
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row, nworld_sweep

BATCH_SIZES = ((64, 64), (240, 320))
TESTSPEED_NWORLD = 8192  # where the batch renderer is compared with mjwarp-testspeed --function=render


def models_with_camera(
    section: str, loaded: list[models.LoadedModel], result: BenchResult
) -> list[models.LoadedModel]:
    """The models a camera section can draw; each of the others is a skip that says why."""
    result.skipped += [
        f"{section} {lm.name} (no model camera to render)" for lm in loaded if not lm.model.ncam
    ]
    return [lm for lm in loaded if lm.model.ncam]


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """Batch ray-traced frames across nworld at 64x64 and 320x240 (or --size); GL at the same sizes beside it."""
    if not result.warp_device:
        result.skipped.append("batch (needs a Warp engine)")
        return
    with_camera = models_with_camera("batch", loaded, result)
    sweep = nworld_sweep(config, "mjwarp", result.warp_device)
    sizes = config.sizes or BATCH_SIZES
    # compared with mjwarp-testspeed at 8192 worlds, or at the largest nworld of a sweep that stops short
    compare_at = TESTSPEED_NWORLD if TESTSPEED_NWORLD in sweep else max(sweep)
    task = progress.add_task("batch render", total=len(with_camera) * len(sizes) * (len(sweep) + 1))
    base = config.engine_config
    for lm in with_camera:
        nconmax, njmax = buffers.sized(lm.model, base.keyframe, base.nconmax, base.njmax)
        for size in sizes:
            if result.gl is not None:  # GL draws the same camera at the same size, for comparison
                mjd = initial_state(lm)
                result.add(
                    gl_row(
                        "batch",
                        lm,
                        size,
                        lambda r, mjd=mjd: measure.render_only(mjd, r, config.seconds, camera=0),
                    )
                )
            progress.advance(task)
            for nworld in sweep:
                ours = batch_row(config, result, lm, size, nworld, nconmax, njmax)
                if nworld == compare_at and size == (64, 64) and testspeed.wanted(config, result.warp_device):
                    theirs = testspeed.row(
                        config,
                        result,
                        lm,
                        nworld,
                        nconmax,
                        njmax,
                        "batch",
                        "world-frames/s",
                        tuple(testspeed.render_flags(lm.model)),
                        width=64,
                        height=64,
                        note="mjwarp-testspeed --function=render",
                    )
                    if ours and theirs:
                        result.add(testspeed.ratio_row(ours, theirs))
                progress.advance(task)


def batch_row(
    config: BenchConfig,
    result: BenchResult,
    lm: models.LoadedModel,
    size: tuple[int, int],
    nworld: int,
    nconmax: int,
    njmax: int,
) -> Row | None:
    from mjpod.render.batch import BatchRenderer

    height, width = size
    engine_config = config.engine_settings(nworld=nworld, nconmax=nconmax, njmax=njmax)
    try:
        with make("mjwarp", lm.model, engine_config) as engine:
            renderer = BatchRenderer(engine, 0, height, width)
            frames, secs = measure.batch_render(engine, renderer, config.nstep, config.seconds)
    except Exception as err:  # memory or a model feature: record it and go on
        result.warnings.append(f"batch render {lm.name} nworld={nworld} {width}x{height} failed: {err}")
        return None
    row = Row(
        section="batch",
        model=lm.name,
        value=frames * nworld / secs,
        unit="world-frames/s",
        count=frames * nworld,
        seconds=secs,
        engine="mjwarp",
        device=engine.device,
        nworld=nworld,
        width=width,
        height=height,
        note="ray traced: refit + render",
    )
    return result.add(row)
