"""Bench section `physics`: world-steps/s of every engine across the nworld sweep (and mjwarp-testspeed
beside mjwarp on CUDA), and `timed_physics`, the one timed run that the contact section shares."""

from __future__ import annotations

import mujoco
from rich.progress import Progress

from mjpod import models
from mjpod.engines import EngineConfig, buffers, make
from mjpod.jobs.bench import measure, testspeed
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row, nworld_sweep


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """One row per model, engine and nworld; the Warp engines share one buffer size per model."""
    plan = [
        (lm, engine, n)
        for lm in loaded
        for engine in config.engines
        for n in nworld_sweep(config, engine, result.warp_device)
    ]
    task = progress.add_task("physics", total=len(plan))
    sizes: dict[str, tuple[int, int]] = {}  # probe each model once, not once per nworld
    margin = buffers.margin([e for e in config.engines if e != "mjc"])  # Warp engines share one size
    for lm, engine_name, nworld in plan:
        progress.update(task, description=f"physics {lm.name} {engine_name} nworld={nworld}")
        nconmax, njmax = config.engine_config.nconmax, config.engine_config.njmax
        if engine_name != "mjc":  # only the Warp engines have per-world buffers to size
            if lm.name not in sizes:
                sizes[lm.name] = buffers.sized(
                    lm.model, config.engine_config.keyframe, nconmax, njmax, margin
                )
            nconmax, njmax = sizes[lm.name]
        engine_config = config.engine_settings(nworld=nworld, nconmax=nconmax, njmax=njmax)
        row = result.add(
            timed_physics("physics", config, result, lm.name, lm.model, engine_name, engine_config)
        )
        if row is not None and engine_name == "mjwarp" and testspeed.wanted(config, row.device):
            testspeed.row(config, result, lm, nworld, nconmax, njmax, "testspeed", "world-steps/s")
        progress.advance(task)


def timed_physics(
    section: str,
    config: BenchConfig,
    result: BenchResult,
    model: str,
    mjm: mujoco.MjModel,
    engine_name: str,
    engine_config: EngineConfig,
    *,
    contacts: bool = False,
) -> Row | None:
    """Build the engine, time its steps and make the world-steps/s row (with contacts and constraint rows
    per world when asked). A failure or a buffer overflow becomes a warning, not the end of the benchmark."""
    where = f"{engine_name} on {model} nworld={engine_config.nworld}"
    warn = "" if section == "physics" else f"{section}: "
    try:
        with make(engine_name, mjm, engine_config) as engine:
            steps, secs = measure.physics(engine, config.nstep, config.seconds)
            counts = engine.contact_counts() if contacts else None
            overflow = engine.overflow()
            device = engine.device
    except Exception as err:  # memory or a model feature: record it and go on
        result.warnings.append(f"{warn}{where} failed: {err}")
        return None
    if overflow:
        result.warnings.append(f"{warn}{where}: {overflow}")
    warp = {} if engine_name == "mjc" else {"nconmax": engine_config.nconmax, "njmax": engine_config.njmax}
    return Row(
        section,
        model,
        steps / secs,
        "world-steps/s",
        steps,
        secs,
        engine=engine_name,
        device=device,
        nworld=engine_config.nworld,
        note=overflow or (f"{counts[1]:.0f} rows/world" if counts else None),
        contacts=counts[0] if counts else None,
        **warp,  # type: ignore[arg-type]
    )
