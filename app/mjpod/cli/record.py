"""`mjpod record`: the recording options; the recording itself is jobs/record.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mjpod.cli.common import (
    CtrlOpt,
    DampingOpt,
    DeviceOpt,
    EngineOpt,
    ModelOpt,
    NconmaxOpt,
    NjmaxOpt,
    NworldOpt,
    SeedOpt,
    SimulationOptions,
    StiffnessOpt,
    console,
    err_console,
    float_list,
    int_list,
    user_errors,
)
from mjpod.engines import DEFAULT_ENGINE, EngineConfig
from mjpod.models import DEFAULT_MODEL


def record(
    model: ModelOpt = DEFAULT_MODEL,
    engine: EngineOpt = DEFAULT_ENGINE,
    nworld: NworldOpt = EngineConfig.nworld,
    device: DeviceOpt = None,
    ctrl: CtrlOpt = EngineConfig.ctrl,
    seed: SeedOpt = EngineConfig.seed,
    nconmax: NconmaxOpt = None,
    njmax: NjmaxOpt = None,
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
    worlds: Annotated[str, typer.Option(help="world(s) to show: 0 | 0,3,5 | 0-3 (several are tiled)")] = "0",
    cols: Annotated[int | None, typer.Option(help="tile grid columns (default: near-square)")] = None,
    renderer: Annotated[
        str, typer.Option(help="gl (mujoco.Renderer) or batch (mujoco_warp ray tracer, Warp engines)")
    ] = "gl",
    camera: Annotated[
        str | None, typer.Option(help="model camera name or id, or free (default: the first model camera)")
    ] = None,
    azimuth: Annotated[float | None, typer.Option(help="free camera azimuth, degrees")] = None,
    elevation: Annotated[float | None, typer.Option(help="free camera elevation, degrees")] = None,
    distance: Annotated[float | None, typer.Option(help="free camera distance")] = None,
    lookat: Annotated[str | None, typer.Option(help="free camera target x,y,z")] = None,
    width: Annotated[int, typer.Option(help="image width of one world (even)")] = 640,
    height: Annotated[int, typer.Option(help="image height of one world (even)")] = 480,
    fps: Annotated[float, typer.Option(help="video frames per second")] = 30.0,
    duration: Annotated[float, typer.Option(help="seconds of simulation = seconds of video")] = 5.0,
    replay: Annotated[
        Path | None, typer.Option(help="controls .npz (ctrl, times) as mjwarp-testspeed --replay")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="MP4 path (default: $MJPOD_WORKSPACE/videos or ./videos)"),
    ] = None,
    encoder: Annotated[str, typer.Option(help="auto (NVENC when usable), h264_nvenc or libx264")] = "auto",
) -> None:
    """Record an MP4 offscreen (MUJOCO_GL=egl) with a JSON sidecar; Ctrl-C keeps a playable file."""
    from mjpod.jobs import record as rec
    from mjpod.jobs.signals import stop_on_signals
    from mjpod.render.camera import CameraSpec

    sim = SimulationOptions.of(locals())
    settings = rec.RecordSettings(
        model=sim.model,
        engine=sim.engine,
        engine_config=sim.engine_config(),
        renderer=renderer,  # type: ignore[arg-type]
        camera=CameraSpec(camera, azimuth, elevation, distance, float_list(lookat, "--lookat", size=3)),
        worlds=int_list(worlds, "--worlds", below=sim.nworld),
        cols=cols,
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        replay=replay,
        out=out,
        encoder=encoder,
    )
    with user_errors(), stop_on_signals() as stop, rec.ProgressBar(err_console) as bar:
        result = rec.record(settings, stop, bar.update, bar.print)
    verb = "interrupted: kept" if result.interrupted else "wrote"
    console.print(
        f"{verb} {result.path} ({result.frames}/{result.frames_planned} frames, "
        f"{result.frames_per_second:.1f} frames/s, {result.encoder}) and {Path(result.path).with_suffix('.json')}"
    )
    if result.overflow:
        err_console.print(f"[yellow]warning:[/] {result.overflow}")
    if result.interrupted:
        raise typer.Exit(130)
