"""`mjpod rollout`: the rollout options (a sweep's rollout job's keys); the rollout itself is jobs/rollout.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mjpod.cli.common import (
    CtrlOpt,
    DampingOpt,
    DeterministicOpt,
    DeviceOpt,
    EngineOpt,
    ModelOpt,
    NconmaxOpt,
    NjmaxOpt,
    NworldOpt,
    PolicyHzOpt,
    PolicyOpt,
    SeedOpt,
    SimulationOptions,
    StiffnessOpt,
    console,
    err_console,
    user_errors,
)
from mjpod.engines import DEFAULT_ENGINE, EngineConfig
from mjpod.jobs.rollout import RolloutSettings
from mjpod.models import DEFAULT_MODEL


def names(text: str | None) -> tuple[str, ...]:
    """ "rgb,depth" -> ("rgb", "depth"); none or empty -> ()."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def rollout(
    model: ModelOpt = DEFAULT_MODEL,
    engine: EngineOpt = DEFAULT_ENGINE,
    nworld: NworldOpt = EngineConfig.nworld,
    device: DeviceOpt = None,
    ctrl: CtrlOpt = None,
    seed: SeedOpt = EngineConfig.seed,
    nconmax: NconmaxOpt = None,
    njmax: NjmaxOpt = None,
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
    deterministic: DeterministicOpt = EngineConfig.deterministic,
    policy: PolicyOpt = None,
    policy_hz: PolicyHzOpt = None,
    duration: Annotated[float, typer.Option(help="simulated seconds")] = RolloutSettings.duration,
    rate: Annotated[float, typer.Option(help="samples per simulated second")] = RolloutSettings.rate,
    sensors: Annotated[bool, typer.Option(help="save sensordata")] = RolloutSettings.sensors,
    images: Annotated[
        str | None,
        typer.Option(help="images of every world and camera: rgb,depth,segmentation (any of them)"),
    ] = None,
    cameras: Annotated[
        str | None,
        typer.Option(help="model cameras by name or id, e.g. front,top, or free (default: the first camera)"),
    ] = None,
    renderer: Annotated[
        str, typer.Option(help="gl (mujoco.Renderer) or batch (every world in one launch, Warp engines)")
    ] = RolloutSettings.renderer,
    width: Annotated[int, typer.Option(help="image width")] = RolloutSettings.width,
    height: Annotated[int, typer.Option(help="image height")] = RolloutSettings.height,
    format: Annotated[
        str, typer.Option("--format", help="shard format: npz or hdf5 (robomimic's layout)")
    ] = RolloutSettings.format,
    shard_mb: Annotated[float, typer.Option(help="largest shard, MiB")] = RolloutSettings.shard_mb,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="output folder (default: $MJPOD_WORKSPACE/rollouts or ./rollouts)"),
    ] = None,
) -> None:
    """Write a dataset: every world's state, and its camera images, at a fixed rate, in shards; with
    --policy, your controller drives every world (and sees what each sample holds)."""
    from mjpod.jobs import rollout as roll
    from mjpod.jobs.progress import ProgressBar
    from mjpod.jobs.signals import stop_on_signals

    sim = SimulationOptions.of(locals())
    settings = RolloutSettings(
        model=sim.model,
        engine=sim.engine,
        engine_config=sim.engine_config(),
        duration=duration,
        rate=rate,
        sensors=sensors,
        renderer=renderer,  # type: ignore[arg-type]
        cameras=names(cameras),
        images=names(images),
        width=width,
        height=height,
        format=format,
        shard_mb=shard_mb,
        policy=sim.policy,
        policy_hz=sim.policy_hz,
    )
    with user_errors():
        planned = roll.plan(settings)  # every refusal before the output folder exists
        folder = roll.output_folder(out or roll.default_output(planned.loaded.name, sim.engine))
    with user_errors(), stop_on_signals() as stop, ProgressBar(err_console, "rollout", "samples") as bar:
        result = roll.rollout(settings, folder, stop, bar.update, planned)
    verb = "interrupted: kept" if result.interrupted else "wrote"
    console.print(
        f"{verb} {result.samples} samples of {sim.nworld} world(s) in {len(result.shards)} shard(s), "
        f"{result.bytes / 2**20:,.1f} MiB, {result.samples * sim.nworld / result.wall_seconds:,.1f} "
        f"world-samples/s, to {folder} ({roll.META} says what they hold)"
    )
    if result.interrupted:
        raise typer.Exit(130)
