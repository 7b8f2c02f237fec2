"""`mjpod serve`: a headless simulation whose chosen world streams over TCP and, optionally, to browsers.

`run` starts the model and engine and says what runs (the banner); `serve` streams a running engine.
Data flows one way: engine -> `get_world` into a host MjData at the frame rate -> the shared feed ->
TCP clients; and the worlds a browser looks at -> the browser view (MuJoCo Studio's web client).
Nothing downstream can slow the engine; the one way back is --web-control, whose requests the
stepping loop carries out between steps (simloop.Steering).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable

import mujoco

from mjpod.engines import Engine, EngineConfig
from mjpod.errors import MjpodError, SettingError
from mjpod.jobs import policy as policies
from mjpod.models import LoadedModel
from mjpod.render import egl
from mjpod.stream import simloop
from mjpod.stream.feed import StateFeed
from mjpod.stream.server import DEFAULT_PORT, Server
from mjpod.stream.simloop import Steering

log = logging.getLogger("mjpod.stream")


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    world: int = 0
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # <= 0: no TCP stream (the browser view alone)
    hz: float = 60.0
    token: str | None = None
    show_token: bool = False  # the token was generated for this run: the banner prints it
    web_port: int = 0  # > 0: also serve the browser view there
    web_control: bool = False  # browsers may pause, reset, perturb and set controls (else spectators)
    duration: float = 0.0  # simulated seconds; 0: until Ctrl-C
    realtime: bool = True
    wait: bool = False  # hold the simulation until the first TCP client (as a seed script's start())
    policy: str | None = None  # the controller in the loop (docs/policy.md), from a local file
    policy_hz: float | None = None  # its calls per simulated second (None: every physics step)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration) and self.duration >= 0):
            raise SettingError(
                f"--duration is simulated seconds, or 0 to run until Ctrl-C; got {self.duration}"
            )
        if not (math.isfinite(self.hz) and self.hz >= 0):
            raise SettingError(f"--hz is states a second at most, or 0 for no cap; got {self.hz}")


def run(
    spec: str,
    engine: str,
    config: EngineConfig,
    opts: ServeOptions,
    stop: threading.Event,
    on_start: Callable[[str], None] | None = None,
) -> simloop.RunStats:
    """Start `engine` on the model `spec` (driven by the policy, when one is given) and serve it;
    `on_start` hears the banner once it runs. A failing policy ends it with PolicyFailed."""
    lm, sim = policies.start(spec, engine, config, opts.policy, opts.policy_hz)
    egl.bind(egl.gpu_of(sim))  # the browser view's GL draws on the GPU the engine runs on
    with sim:
        if on_start:
            on_start(banner(lm, sim, opts))
        return serve(lm, sim, opts, stop)


def banner(lm: LoadedModel, engine: Engine, opts: ServeOptions) -> str:
    """What runs, which world streams (with its comfree gains), and where to watch it (with the token
    when it was generated for this run, as Jupyter prints its URL)."""
    gains = engine.gains(opts.world)  # comfree: which stiffness and damping the streamed world runs
    host, port, web = opts.host, opts.port, opts.web_port
    viewer_env = f"MJSTREAM_TOKEN={opts.token} " if opts.show_token else ""
    mode = "control" if opts.web_control else "spectators"
    return (
        f"mjpod serve: {lm.name} on {engine.name} ({engine.nworld} world(s), {engine.device}), streaming world {opts.world}"
        + ("; comfree stiffness {:g}, damping {:g}".format(*gains) if gains else "")
        + (f"; policy {engine.policy.name} ({engine.policy.about})" if isinstance(engine, policies.Controlled) else "")
        + (f"; TCP {host}:{port} (view: ssh -L {port}:127.0.0.1:{port} HOST, then {viewer_env}mjpod view --port {port})" if port > 0 else "")
        + (f"; browser ({mode}) {browser_url(opts)}" if web > 0 else "")
    )  # fmt: skip


def browser_url(opts: ServeOptions) -> str:
    """Where a browser opens the view: on this machine, or at the far end of `ssh -L` or of the port
    Docker publishes (hence 127.0.0.1 for a server on every interface); with the token when it was
    generated for this run."""
    host = "127.0.0.1" if opts.host in ("0.0.0.0", "::", "") else opts.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{opts.web_port}/" + (f"?token={opts.token}" if opts.show_token else "")


def serve(lm: LoadedModel, engine: Engine, opts: ServeOptions, stop: threading.Event) -> simloop.RunStats:
    """Run `engine` and stream world `opts.world` until `duration`, Ctrl-C or `stop`."""
    if not 0 <= opts.world < engine.nworld:
        raise SettingError(
            f"--world {opts.world} is out of range: this run has {engine.nworld} world(s) (0..{engine.nworld - 1})"
        )
    if opts.port <= 0 and opts.web_port <= 0:
        raise SettingError("nothing to serve: give --port (TCP stream) and/or --web PORT (browser view)")
    feed = StateFeed(hz=0, world=opts.world)  # the loop below already paces frames at opts.hz
    server = Server(lm.model, lm.name, str(lm.path), feed, opts.host, opts.port, token=opts.token)
    web = None
    steering = Steering() if opts.web_port > 0 and opts.web_control else None
    mjd = mujoco.MjData(lm.model)
    try:
        try:
            server.start()  # viewers join whenever they like; --wait holds below
            feed.publish(
                engine.get_world(opts.world, mjd)
            )  # a viewer joining before the first step sees something
            if opts.web_port > 0:
                from mjpod.stream.web import WebView

                web = WebView(
                    lm.model, lm.name, engine=f"{engine.name} on {engine.device}", nworld=engine.nworld,
                    host=opts.host, port=opts.web_port, token=opts.token, world=opts.world, steering=steering,
                )  # fmt: skip
                web.start()
        except OSError as err:
            raise MjpodError(
                f"cannot listen ({err}); choose another --port / --web or stop what uses it"
            ) from None
        if opts.wait and server.enabled:
            log.info("waiting for the first viewer before starting the simulation")
            while not stop.is_set() and not server.wait_for_client(timeout=0.5):
                pass

        def publish() -> None:
            if server.enabled:
                feed.publish(engine.get_world(opts.world, mjd))
            if web is not None:
                web.publish(engine, {opts.world: mjd} if server.enabled else None)

        stats = simloop.run(
            engine,
            publish,
            hz=opts.hz,
            duration=opts.duration,
            realtime=opts.realtime,
            stop=stop,
            steering=steering,
        )
        feed.publish(engine.get_world(opts.world, mjd), force=True)  # the final state reaches every client
        return stats
    finally:
        server.close()
        if web is not None:
            web.close()
        feed.close()
