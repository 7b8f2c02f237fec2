"""Bench section `record`: `mjpod record` end to end (step, render, encode)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.progress import Progress

from mjpod.engines import EngineConfig
from mjpod.jobs import record as rec
from mjpod.jobs.bench.encode import no_ffmpeg
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row

RECORD_SIZE = (240, 320)


def run(config: BenchConfig, result: BenchResult, loaded: list, progress: Progress) -> None:
    """`mjpod record` end to end (step, render, encode) on the first model (by default the contact scene)."""
    if not loaded or no_ffmpeg("record", result):
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
                engine_config=EngineConfig(nworld=nworld, device=config.engine_config.device),
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
            result.add(
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
