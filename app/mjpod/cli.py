"""The `mjpod` command: a thin layer over the library."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

os.environ.setdefault("MUJOCO_GL", "egl")  # headless by default: set before anything imports mujoco

import typer
from rich.console import Console
from rich.table import Table

from mjpod.cli_common import (
    CtrlOpt,
    DampingOpt,
    DeviceOpt,
    EngineOpt,
    ModelOpt,
    NconmaxOpt,
    NjmaxOpt,
    NworldOpt,
    SeedOpt,
    StiffnessOpt,
    console,
    engine_config,
    err_console,
    fail,
    float_list,
    user_errors,
)
from mjpod.errors import MjpodError
from mjpod.stream.server import DEFAULT_PORT

app = typer.Typer(
    help="mjpod: MuJoCo GPU rendering and simulation appliance.", no_args_is_help=True, add_completion=False
)

STATUS_STYLE = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "bold red"}


@app.command()
def models() -> None:
    """List what a model spec can name: bundled scenes and Menagerie robots (with offline availability)."""
    from mjpod import models as m

    rows = m.listing()
    t = Table(title="loadable models (a path to any .xml/.mjb works too)")
    for col in ("name", "source", "entry points", "here"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.name, r.source, ", ".join(r.entries), "yes" if r.available else "download")
    console.print(t)
    root = os.environ.get("MENAGERIE_ROOT")
    console.print(
        f"Menagerie: MENAGERIE_ROOT={root}"
        if root
        else "Menagerie robots download on first use; set MENAGERIE_ROOT to load them offline."
    )
    console.print("Spec forms: bin | franka_emika_panda | franka_emika_panda/mjx_scene | path/to/model.xml")


@app.command()
def bench(
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="model spec; repeat for several")
    ] = None,
    engine: Annotated[list[str] | None, typer.Option(help="engine(s): mjc, mjwarp, comfree")] = None,
    nworld: Annotated[
        list[int] | None, typer.Option(help="worlds per physics run; repeat for a sweep")
    ] = None,
    nstep: Annotated[int | None, typer.Option(help="steps per physics measurement")] = None,
    seconds: Annotated[float | None, typer.Option(help="time budget per measurement on CPU")] = None,
    skip: Annotated[
        list[str] | None, typer.Option(help="skip a section: seed, render, physics, contact")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="a CI-sized run")] = False,
    device: Annotated[
        str | None, typer.Option(help="Warp device: cuda:0, cpu (default: WARP_DEVICE or best)")
    ] = None,
    nconmax: Annotated[int | None, typer.Option(help="contacts per world (Warp engines)")] = None,
    njmax: Annotated[int | None, typer.Option(help="constraint rows per world (Warp engines)")] = None,
    testspeed: Annotated[
        bool | None,
        typer.Option("--testspeed/--no-testspeed", help="compare with mjwarp-testspeed (default: on CUDA)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="folder for the JSON, plot and transcript")] = Path(
        "bench/results"
    ),
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
) -> None:
    """Benchmark this box: the seed loop, GL rendering, and physics steps/s for every engine across nworld."""
    from mjpod.jobs.bench import BenchConfig, report, runner

    given = {
        k: v
        for k, v in {
            "models": tuple(model) if model else None,
            "engines": tuple(engine) if engine else None,
            "nworld": tuple(nworld) if nworld else None,
            "nstep": nstep,
            "seconds": seconds,
            "skip": tuple(skip) if skip else None,
            "testspeed": testspeed,
            "out": out,
        }.items()
        if v is not None
    }
    given["engine_config"] = engine_config(
        device=device,
        nconmax=nconmax,
        njmax=njmax,
        comfree_stiffness=comfree_stiffness,
        comfree_damping=comfree_damping,
    )
    with user_errors():
        config = BenchConfig.quick_run(**given) if quick else BenchConfig(**given)
    recorder = Console(record=True, width=max(console.width, 150))  # the transcript keeps rows on one line
    result = runner.run(config, recorder)
    recorder.print(report.table(result))
    for w in result.warnings:
        recorder.print(f"[yellow]warning:[/] {w}")
    paths = report.write(result, recorder, config.out)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    if not result.rows:
        raise fail("no figures were measured; see the warnings above", code=1)


@app.command()
def doctor(
    workspace: Annotated[
        Path | None, typer.Option(help="where videos and results go (MJPOD_WORKSPACE)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="also check a frame size against this model")] = None,
    width: Annotated[int, typer.Option(help="frame width to check")] = 640,
    height: Annotated[int, typer.Option(help="frame height to check")] = 480,
) -> None:
    """Check GPU driver, EGL, GL renderer, Warp, ffmpeg and disk; print each problem with its fix."""
    from mjpod.host import doctor as d

    workspace = workspace or Path(os.environ.get("MJPOD_WORKSPACE", "."))
    findings = d.run_checks(workspace, (model, width, height) if model else None)
    t = Table(title="mjpod doctor")
    for col in ("check", "status", "detail / fix"):
        t.add_column(col, overflow="fold")
    for f in findings:
        text = f.detail + (f"\n[bold]fix:[/] {f.fix}" if f.fix and f.status != "ok" else "")
        t.add_row(f.check, f"[{STATUS_STYLE[f.status]}]{f.status}[/]", text)
    console.print(t)
    failed = [f for f in findings if f.status == "fail"]
    if failed:
        raise fail(f"{len(failed)} problem(s): {', '.join(f.check for f in failed)}", code=1)


def _int_list(text: str, option: str) -> tuple[int, ...]:
    """ "0", "0,3,5" or "0-3" -> world indices."""
    out: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
    except ValueError:
        raise fail(f"{option} takes world numbers like 0, 0,3,5 or 0-3; got {text!r}") from None
    return tuple(out)


@app.command()
def record(
    model: ModelOpt = "bin",
    engine: EngineOpt = "mjc",
    nworld: NworldOpt = 1,
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
    ctrl: CtrlOpt = "noise",
    replay: Annotated[
        Path | None, typer.Option(help="controls .npz (ctrl, times) as mjwarp-testspeed --replay")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="MP4 path (default: $MJPOD_WORKSPACE/videos or ./videos)"),
    ] = None,
    encoder: Annotated[str, typer.Option(help="auto (NVENC when usable), h264_nvenc or libx264")] = "auto",
    device: DeviceOpt = None,
    seed: SeedOpt = 0,
    nconmax: NconmaxOpt = None,
    njmax: NjmaxOpt = None,
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
) -> None:
    """Record an MP4 offscreen (MUJOCO_GL=egl) with a JSON sidecar; Ctrl-C keeps a playable file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from mjpod.jobs import record as rec
    from mjpod.render.camera import CameraSpec

    settings = rec.RecordSettings(
        model=model,
        engine=engine,
        engine_config=engine_config(
            nworld=nworld,
            device=device,
            ctrl=ctrl,
            seed=seed,
            nconmax=nconmax,
            njmax=njmax,
            comfree_stiffness=comfree_stiffness,
            comfree_damping=comfree_damping,
        ),
        renderer=renderer,  # type: ignore[arg-type]
        camera=CameraSpec(camera, azimuth, elevation, distance, float_list(lookat, "--lookat", size=3)),
        worlds=_int_list(worlds, "--worlds"),
        cols=cols,
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        replay=replay,
        out=out,
        encoder=encoder,
    )
    columns = (
        TextColumn("[bold]recording[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames {task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    # The bar starts with the first frame: a refused setting prints its error alone, and the
    # frames/s shown leave out loading the model and compiling kernels.
    progress = Progress(*columns, console=err_console)
    bar: dict = {}

    def on_frame(done: int, total: int) -> None:
        now = time.perf_counter()
        if not bar:
            progress.start()
            bar.update(task=progress.add_task("record", total=total, rate=""), start=now, first=done)
        rate = f"{(done - bar['first']) / (now - bar['start']):.1f}/s" if now > bar["start"] else ""
        progress.update(bar["task"], completed=done, total=total, rate=rate)

    with rec.stop_on_signals() as stop:
        try:
            result = rec.record(settings, stop, on_frame, lambda text: progress.console.print(text))
        except MjpodError as err:
            raise fail(str(err), err.exit_code) from None
        finally:
            if bar:
                progress.stop()
    verb = "interrupted: kept" if result.interrupted else "wrote"
    console.print(
        f"{verb} {result.path} ({result.frames}/{result.frames_planned} frames, "
        f"{result.frames_per_second:.1f} frames/s, {result.encoder}) and {Path(result.path).with_suffix('.json')}"
    )
    if result.overflow:
        err_console.print(f"[yellow]warning:[/] {result.overflow}")
    if result.interrupted:
        raise typer.Exit(130)


# -- streaming: mjpod serve, mjpod view ----------------------------------------------------------

HostOpt = Annotated[
    str,
    typer.Option(
        envvar="MJSTREAM_HOST",
        help="address to bind (serve) or connect to (view); 127.0.0.1 keeps it private",
    ),
]
PortOpt = Annotated[
    int, typer.Option(envvar="MJSTREAM_PORT", help="TCP stream port (serve: <= 0 turns the TCP stream off)")
]
TokenOpt = Annotated[
    str | None,
    typer.Option(envvar="MJSTREAM_TOKEN", help="shared token clients must present (prefer the env var)"),
]


def _log_to_stderr() -> None:
    import logging
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)


def _frame_size(text: str, option: str) -> tuple[int, int]:
    """'640x480' -> (height, width)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise fail(f"{option} takes WIDTHxHEIGHT, e.g. 640x480; got {text!r}") from None
    if width < 16 or height < 16:
        raise fail(f"{option} must be at least 16x16; got {text!r}")
    return height, width


def _build_engine(model: str, engine: str, **config: object):
    from mjpod.jobs import simulation

    with user_errors():
        return simulation.start(model, engine, engine_config(**config))


def _stop_on_sigterm():
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


@app.command()
def serve(
    model: ModelOpt = "bin",
    engine: EngineOpt = "mjc",
    nworld: NworldOpt = 1,
    device: DeviceOpt = None,
    ctrl: CtrlOpt = "noise",
    seed: SeedOpt = 0,
    nconmax: NconmaxOpt = None,
    njmax: NjmaxOpt = None,
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
    world: Annotated[int, typer.Option(help="which world to stream")] = 0,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = DEFAULT_PORT,
    hz: Annotated[float, typer.Option(help="states (and browser frames) per second at most")] = 60.0,
    token: TokenOpt = None,
    web: Annotated[int, typer.Option(help="also serve the browser view on this port (0: off)")] = 0,
    web_size: Annotated[str, typer.Option(help="browser view frame size, WIDTHxHEIGHT")] = "640x480",
    camera: Annotated[str, typer.Option(help="browser view camera: name or id (-1: free camera)")] = "-1",
    duration: Annotated[float, typer.Option(help="simulated seconds to run (0: until Ctrl-C)")] = 0.0,
    fast: Annotated[bool, typer.Option("--fast", help="as fast as possible instead of real time")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="start the simulation when the first viewer connects")
    ] = False,
) -> None:
    """Run a headless simulation and stream one world to `mjpod view` clients and, with --web, a browser."""
    from mjpod.jobs.serve import ServeOptions
    from mjpod.jobs.serve import serve as run_serve

    _log_to_stderr()
    lm, sim = _build_engine(
        model, engine, nworld=nworld, device=device, ctrl=ctrl, seed=seed, nconmax=nconmax, njmax=njmax,
        comfree_stiffness=comfree_stiffness, comfree_damping=comfree_damping,
    )  # fmt: skip
    opts = ServeOptions(
        world=world, host=host, port=port, hz=hz, token=token, web_port=web, web_host=host,
        web_size=_frame_size(web_size, "--web-size"), camera=int(camera) if camera.lstrip("-").isdigit() else camera,
        duration=duration, realtime=not fast, wait=wait,
    )  # fmt: skip
    gains = sim.gains(world)  # comfree: which stiffness and damping the streamed world runs
    console.print(
        f"mjpod serve: {lm.name} on {engine} ({sim.nworld} world(s), {sim.device}), streaming world {world}"
        + ("; comfree stiffness {:g}, damping {:g}".format(*gains) if gains else "")
        + (f"; TCP {host}:{port} (view: ssh -L {port}:127.0.0.1:{port} HOST, then mjpod view --port {port})" if port > 0 else "")
        + (f"; browser http://{host}:{web}/" if web > 0 else ""),
        soft_wrap=True,
    )  # fmt: skip
    stop = _stop_on_sigterm()
    try:
        with sim:
            stats = run_serve(lm, sim, opts, stop)
    except KeyboardInterrupt:
        console.print("stopped (Ctrl-C)")
        return
    except MjpodError as err:
        raise fail(str(err), err.exit_code) from None
    console.print(
        f"done: {stats.steps} steps ({stats.sim_time:.2f} s simulated) in {stats.wall:.2f} s, "
        f"{stats.steps_per_second:,.0f} steps/s"
    )


@app.command()
def view(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = DEFAULT_PORT,
    retry_delay: Annotated[float, typer.Option(help="seconds between reconnect attempts")] = 2.0,
    token: TokenOpt = None,
    record: Annotated[
        Path | None, typer.Option(help="no window: render headless (EGL) into this MP4")
    ] = None,
    size: Annotated[str, typer.Option(help="--record frame size, WIDTHxHEIGHT")] = "640x480",
    fps: Annotated[float, typer.Option(help="--record frames per simulated second")] = 30.0,
    frames: Annotated[int, typer.Option(help="--record: stop after this many frames (0: until Ctrl-C)")] = 0,
    once: Annotated[
        bool, typer.Option("--once", help="exit when the stream ends instead of reconnecting")
    ] = False,
    local: Annotated[str | None, typer.Option(help="no server: simulate this model here and show it")] = None,
    engine: EngineOpt = "mjc",
    nworld: NworldOpt = 1,
    device: DeviceOpt = None,
    ctrl: CtrlOpt = "noise",
    seed: SeedOpt = 0,
    nconmax: NconmaxOpt = None,
    njmax: NjmaxOpt = None,
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
    world: Annotated[int, typer.Option(help="--local: which world to show")] = 0,
) -> None:
    """Watch a `mjpod serve` stream in MuJoCo's viewer (reconnecting), record it headless, or --local simulate."""
    import sys

    from mjpod.stream import viewer as v

    _log_to_stderr()
    if (
        record is None
        and sys.platform.startswith("linux")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        raise fail(
            "no display here (DISPLAY is unset): record instead with `mjpod view --record out.mp4`, "
            "or open the browser view (`mjpod serve --web 8080`)"
        )
    if local is not None:
        _, sim = _build_engine(
            local, engine, nworld=nworld, device=device, ctrl=ctrl, seed=seed, nconmax=nconmax, njmax=njmax,
            comfree_stiffness=comfree_stiffness, comfree_damping=comfree_damping,
        )  # fmt: skip
        try:
            with sim:
                v.view_local(sim, world)
        except MjpodError as err:
            raise fail(str(err), err.exit_code) from None
        except KeyboardInterrupt:
            pass
        return
    if record is not None:
        height, width = _frame_size(size, "--size")
        if record.suffix.lower() != ".mp4" or not record.parent.is_dir():
            raise fail(f"--record needs a .mp4 path in an existing folder; got {record}")

        def make_sink(mjm, info):
            return v.Recorder(mjm, record, width=width, height=height, fps=fps, max_frames=frames)
    else:

        def make_sink(mjm, info):
            return v.PassiveViewer(mjm)

    stop = _stop_on_sigterm()
    try:
        v.follow(host, port, make_sink, token=token, retry_delay=retry_delay, once=once, stop=stop)
    except KeyboardInterrupt:
        pass
    except MjpodError as err:  # refused (wrong token, too many clients: exit code 1), or no window
        raise fail(str(err), err.exit_code) from None


from mjpod.runpod_cli import runpod_app  # noqa: E402 - the Runpod commands live in their own module

app.add_typer(runpod_app, name="runpod")


def main() -> None:
    app()
