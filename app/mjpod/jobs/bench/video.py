"""Bench sections for video: encoder throughput, end-to-end recording, and the batch renderer vs GL."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import mujoco
import numpy as np
from rich.progress import Progress

from mjpod import models, video
from mjpod.engines import EngineConfig, buffers, make
from mjpod.jobs import record as rec
from mjpod.jobs.bench import measure, testspeed
from mjpod.jobs.bench.runner import BenchConfig, BenchResult, Row, gl_row, nworld_sweep

ENCODE_SIZES = ((480, 640), (720, 1280))  # height, width
RECORD_SIZE = (240, 320)
BATCH_SIZES = ((64, 64), (240, 320))
TESTSPEED_NWORLD = 8192  # where the batch renderer is compared with mjwarp-testspeed --function=render


def synthetic_frames(height: int, width: int, count: int = 30) -> np.ndarray:
    """Frames that compress like a rendered scene: smooth shading plus a moving object with edges."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 200 // width, y * 200 // height, np.full_like(x, 90)], -1).astype(np.uint8)
    frames = np.repeat(base[None], count, axis=0)
    size = max(8, height // 6)
    for k in range(count):
        top, left = (k * 7) % (height - size), (k * 11) % (width - size)
        frames[k, top : top + size, left : left + size] = (230, 120, 40)
    return frames


def encode(config: BenchConfig, result: BenchResult, loaded: list, progress: Progress) -> None:
    """Frames/s each usable encoder takes in, at 640x480 and 1280x720."""
    del loaded  # synthetic frames: the encoder alone, whatever the model
    encoders = [video.Encoder("libx264", "always available")]
    auto = video.choose_encoder("auto")
    if auto.name != "libx264":
        encoders.insert(0, auto)
    else:
        result.warnings.append(f"encode: NVENC not measured ({auto.reason})")
    task = progress.add_task("encode", total=len(encoders) * len(ENCODE_SIZES))
    with tempfile.TemporaryDirectory(prefix="mjpod-bench-") as tmp:
        for encoder in encoders:
            for height, width in ENCODE_SIZES:
                frames = synthetic_frames(height, width)
                path = Path(tmp) / f"{encoder.name}-{width}x{height}.mp4"
                with video.VideoWriter(path, width, height, 30.0, encoder) as writer:
                    count, start = 0, time.perf_counter()
                    while (elapsed := time.perf_counter() - start) < config.seconds or count < 30:
                        writer.write(frames[count % len(frames)])
                        count += 1
                    writer.close()  # the encoder's tail (flushing its lookahead) counts too
                    elapsed = time.perf_counter() - start
                result.rows.append(
                    Row(
                        section="encode",
                        model="synthetic",
                        value=count / elapsed,
                        unit="frames/s",
                        count=count,
                        seconds=elapsed,
                        width=width,
                        height=height,
                        note=encoder.name,
                    )
                )
                progress.advance(task)


def record(config: BenchConfig, result: BenchResult, loaded: list, progress: Progress) -> None:
    """`mjpod record` end to end (step, render, encode) on the first model (by default the contact scene)."""
    if not loaded:
        return
    plans = [("mjc", "gl", 1)]
    if result.warp_device:
        plans.append(("mjwarp", "batch", 1))
    task = progress.add_task("record end to end", total=len(plans))
    duration = 1.0 if config.quick else 4.0
    height, width = RECORD_SIZE
    with tempfile.TemporaryDirectory(prefix="mjpod-bench-") as tmp:
        for engine, renderer, nworld in plans:
            settings = rec.RecordSettings(
                model=loaded[0].spec,
                engine=engine,
                engine_config=EngineConfig(nworld=nworld, device=config.device),
                renderer=renderer,  # type: ignore[arg-type]
                width=width,
                height=height,
                fps=30.0,
                duration=duration,
                out=Path(tmp) / f"{engine}-{renderer}.mp4",
            )
            try:
                done = rec.record(settings)
            except Exception as err:  # one failing renderer must not end the run
                result.warnings.append(f"record {engine}/{renderer} failed: {err}")
                progress.advance(task)
                continue
            result.rows.append(
                Row(
                    section="record",
                    model=done.model,
                    value=done.frames_per_second,
                    unit="frames/s",
                    count=done.frames,
                    seconds=done.wall_seconds,
                    engine=engine,
                    device=done.device,
                    nworld=nworld,
                    width=width,
                    height=height,
                    note=f"{renderer} renderer, {done.encoder}",
                )
            )
            progress.advance(task)


def batch(config: BenchConfig, result: BenchResult, loaded: list, progress: Progress) -> None:
    """Batch ray-traced frames across nworld at 64x64 and 320x240; GL at the same sizes beside it."""
    if not result.warp_device:
        result.skipped.append("batch (needs a Warp engine)")
        return
    with_camera = [lm for lm in loaded if lm.model.ncam]
    for lm in loaded:
        if not lm.model.ncam:
            result.skipped.append(f"batch {lm.name} (no model camera to render)")
    sweep = nworld_sweep(config, "mjwarp", result.warp_device)
    task = progress.add_task("batch render", total=len(with_camera) * len(BATCH_SIZES) * (len(sweep) + 1))
    for lm in with_camera:
        nconmax, njmax = buffers.sized(lm.model, EngineConfig.keyframe, config.nconmax, config.njmax)
        for size in BATCH_SIZES:
            if result.gl is not None:  # GL draws the same camera at the same size, for comparison
                mjd = _settled(lm)
                result.rows.append(
                    gl_row(
                        "batch",
                        lm,
                        size,
                        lambda r, mjd=mjd: measure.render_only(mjd, r, config.seconds, camera=0),
                    )
                )
            progress.advance(task)
            for nworld in sweep:
                ours = _batch_row(config, result, lm, size, nworld, nconmax, njmax)
                if nworld == TESTSPEED_NWORLD and size == (64, 64) and _wants_testspeed(config, result):
                    theirs = _testspeed_render(config, result, lm, nworld, nconmax, njmax)
                    if ours and theirs:
                        result.rows.append(testspeed_ratio(ours, theirs))
                progress.advance(task)


def _settled(lm: models.LoadedModel):
    mjd = mujoco.MjData(lm.model)
    mujoco.mj_forward(lm.model, mjd)
    return mjd


def _batch_row(
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
    engine_config = EngineConfig(nworld=nworld, device=config.device, nconmax=nconmax, njmax=njmax)
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
    result.rows.append(row)
    return row


def _wants_testspeed(config: BenchConfig, result: BenchResult) -> bool:
    return config.testspeed is not False and str(result.warp_device).startswith("cuda")


def testspeed_render_flags(mjm: mujoco.MjModel, width: int = 64, height: int = 64) -> list[str]:
    """mjwarp-testspeed flags for the image BatchRenderer draws of camera 0: RGB, skybox and textures,
    no shadows, pinned rather than left to testspeed's defaults so both figures measure the same work."""
    flags = ["--function=render", f"--render_width={width}", f"--render_height={height}"]
    flags += [
        "--render_depth=false",
        "--render_skybox=true",
        "--render_textures=true",
        "--render_shadows=false",
    ]
    camera = mujoco.mj_id2name(mjm, mujoco.mjtObj.mjOBJ_CAMERA, 0)
    if camera:
        return [*flags, f"--camera_name={camera}"]
    return [*flags, "--cam_active=true", *["--cam_active=false"] * (mjm.ncam - 1)]  # unnamed camera 0


def _testspeed_render(
    config: BenchConfig, result: BenchResult, lm: models.LoadedModel, nworld: int, nconmax: int, njmax: int
) -> Row | None:
    """mjwarp-testspeed --function=render on the same model, camera, size, worlds and buffers."""
    try:
        figures = testspeed.run(
            lm, nworld, config.nstep, nconmax, njmax, config.device, *testspeed_render_flags(lm.model)
        )
    except testspeed.TestspeedError as err:
        result.warnings.append(str(err))
        return None
    row = Row(
        section="batch",
        model=lm.name,
        value=float(figures["steps_per_second"]),
        unit="world-frames/s",
        count=nworld * config.nstep,
        seconds=float(figures["run_time"]),
        engine="mjwarp-testspeed",
        device=config.device or "cuda",
        nworld=nworld,
        width=64,
        height=64,
        note="mjwarp-testspeed --function=render",
    )
    result.rows.append(row)
    return row


def testspeed_ratio(ours: Row, theirs: Row) -> Row:
    """Batch world-frames/s over mjwarp-testspeed's at the same nworld and size: the figure the
    issue's target (within 10%, so at least 0.9) is read from."""
    return Row(
        section="batch",
        model=ours.model,
        value=ours.value / theirs.value,
        unit="x mjwarp-testspeed",
        count=ours.count,
        seconds=ours.seconds + theirs.seconds,  # the timed work this ratio rests on
        engine="mjwarp",
        device=ours.device,
        nworld=ours.nworld,
        width=ours.width,
        height=ours.height,
        note="batch render world-frames/s over mjwarp-testspeed --function=render's, same run",
    )
