"""`mjpod serve` and `mjpod view`: the streaming options; the work is jobs/serve.py and stream/viewer.py."""

from __future__ import annotations

import os
import secrets
import signal
import sys
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
    fail,
    frame_size,
    log_to_stderr,
    user_errors,
)
from mjpod.engines import DEFAULT_ENGINE, EngineConfig
from mjpod.models import DEFAULT_MODEL
from mjpod.stream.net import is_loopback
from mjpod.stream.server import DEFAULT_HOST, DEFAULT_PORT

HostOpt = Annotated[
    str,
    typer.Option(
        envvar="MJSTREAM_HOST",
        help="address to bind (serve) or connect to (view); 127.0.0.1 keeps it private",
    ),
]


def _tcp_port(port: int) -> int:
    """A port number a socket takes (beyond it, binding or connecting raises deep inside)."""
    if port > 65535:
        raise typer.BadParameter(f"{port} is not a TCP port: ports go up to 65535")
    return port


PortOpt = Annotated[
    int,
    typer.Option(
        envvar="MJSTREAM_PORT",
        callback=_tcp_port,
        help="TCP stream port (serve: <= 0 turns the TCP stream off)",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        envvar="MJSTREAM_TOKEN",
        help="shared token clients must present; required beyond loopback (prefer the env var)",
    ),
]
LocalOpt = Annotated[
    str | None, typer.Option("--local", help="no server: simulate this model here and show it")
]


def serve(
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
    world: Annotated[int, typer.Option(help="which world to stream")] = 0,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    hz: Annotated[float, typer.Option(help="states per second at most, to viewers and browsers")] = 60.0,
    token: TokenOpt = None,
    web: Annotated[
        int,
        typer.Option(
            callback=_tcp_port,
            help="also serve the browser view (MuJoCo Studio's web client) on this port (0: off)",
        ),
    ] = 0,
    web_control: Annotated[
        bool,
        typer.Option(
            "--web-control", help="browsers may pause, reset, perturb and set controls (default: spectators)"
        ),
    ] = False,
    duration: Annotated[float, typer.Option(help="simulated seconds to run (0: until Ctrl-C)")] = 0.0,
    fast: Annotated[bool, typer.Option("--fast", help="as fast as possible instead of real time")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="start the simulation when the first viewer connects")
    ] = False,
) -> None:
    """Run a headless simulation and stream one world to `mjpod view` clients and, with --web, a browser."""
    from mjpod.jobs import serve as job
    from mjpod.jobs.signals import stop_on_signals

    log_to_stderr()
    sim = SimulationOptions.of(locals())
    config = sim.engine_config()
    token, generated = appliance_token(host, token)
    with user_errors():
        opts = job.ServeOptions(
            world=world, host=host, port=port, hz=hz, token=token, show_token=generated, web_port=web,
            web_control=web_control, duration=duration, realtime=not fast, wait=wait, policy=sim.policy,
            policy_hz=sim.policy_hz,
        )  # fmt: skip

    def announce(banner: str) -> None:
        console.print(banner, soft_wrap=True)

    try:
        with user_errors(), stop_on_signals((signal.SIGTERM,)) as stop:
            stats = job.run(sim.model, sim.engine, config, opts, stop, announce)
    except KeyboardInterrupt:
        console.print("stopped (Ctrl-C)")
        return
    console.print(
        f"done: {stats.steps} steps ({stats.sim_time:.2f} s simulated) in {stats.wall:.2f} s, "
        f"{stats.steps_per_second:,.0f} steps/s"
    )


def appliance_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token to serve with, and whether it was generated here. Beyond loopback a token is required;
    inside the appliance container (which listens on its interfaces because Docker publishes the ports
    on the host's 127.0.0.1) one is generated for the run and printed, as Jupyter does."""
    if token or is_loopback(host) or not os.environ.get("MJPOD_IN_CONTAINER"):
        return token or None, False
    return secrets.token_urlsafe(18), True


def view(
    host: HostOpt = DEFAULT_HOST,
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
    local: LocalOpt = None,
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
    world: Annotated[int, typer.Option(help="--local: which world to show")] = 0,
) -> None:
    """Watch a `mjpod serve` stream in MuJoCo's viewer (reconnecting), record it headless, or --local simulate."""
    from mjpod.jobs import policy as policies
    from mjpod.jobs.signals import stop_on_signals
    from mjpod.stream import viewer as v

    log_to_stderr()
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
        sim = SimulationOptions.of(locals() | {"model": local})
        config = sim.engine_config()
        try:
            with user_errors():
                _, running = policies.start(sim.model, sim.engine, config, sim.policy, sim.policy_hz)
                with running:
                    v.view_local(running, world)
        except KeyboardInterrupt:
            pass
        return
    if record is not None:
        height, width = frame_size(size, "--size")
        if record.suffix.lower() != ".mp4" or not record.parent.is_dir():
            raise fail(f"--record needs a .mp4 path in an existing folder; got {record}")

        def make_sink(mjm, info):
            return v.Recorder(mjm, record, width=width, height=height, fps=fps, max_frames=frames)
    else:

        def make_sink(mjm, info):
            return v.PassiveViewer(mjm)

    # As `record`: Ctrl-C and SIGTERM end the loop between states, so the MP4 is always finished.
    with user_errors(), stop_on_signals() as stop:
        if record is not None:  # mediapy, ffmpeg and the encoder before connecting: a missing one is named
            from mjpod import video  # at once, and the first state is drawn without waiting for them

            video.choose_encoder("auto")
        v.follow(host, port, make_sink, token=token, retry_delay=retry_delay, once=once, stop=stop)
