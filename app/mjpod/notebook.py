"""mjpod in a notebook (JupyterLab, or VS Code's notebooks over Remote-SSH): clips to show inline.

    import mediapy
    from mjpod import notebook as mjn

    clip = mjn.record("bin", duration=2)            # an MP4 (+ JSON sidecar) in $MJPOD_WORKSPACE/videos or ./videos
    mediapy.show_video(clip.frames, fps=clip.fps)   # or clip.show()
    tiles = mjn.render("bin", engine="mjwarp", nworld=16, worlds=range(4), renderer="batch")  # frames only
    rows = mjn.bench("bin", engines=["mjc", "mjwarp"], only=["physics"])  # `mjpod bench --quick`'s figures
    with mjn.serve("bin", web_port=8080) as live:   # `mjpod serve` in the background
        watched = mjn.watch(live.port, frames=60)    # `mjpod view --record`: the stream, watched back

A thin layer over the jobs the commands run (`record` is `mjpod record`, `bench` is `mjpod bench`,
`serve` is `mjpod serve`, `watch` is `mjpod view --record`): each takes the same settings by the names
of `RecordSettings`, `BenchConfig`, `ServeOptions`, `EngineConfig` and `CameraSpec`, with the same
defaults. Importing it points mediapy at imageio-ffmpeg's ffmpeg, so `mediapy.show_video` and
`mediapy.read_video` need no system ffmpeg, and makes rendering headless (MUJOCO_GL=egl unless set:
import it before mujoco).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # as the CLI: before anything imports mujoco

import dataclasses
import difflib
import functools
import tempfile
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from mjpod import video
from mjpod.engines import EngineConfig
from mjpod.errors import SettingError
from mjpod.jobs import record as rec
from mjpod.jobs import serve as srv
from mjpod.jobs.bench import report as bench_report
from mjpod.jobs.bench import runner as bench_runner
from mjpod.jobs.bench.types import BenchConfig
from mjpod.render.camera import CameraSpec
from mjpod.stream import viewer
from mjpod.stream.server import DEFAULT_PORT

mediapy = video.mediapy()  # configured once: its ffmpeg is imageio-ffmpeg's


class Clip:
    """A clip to show: its MP4 (`path`; None when kept only in memory), fps, frames decoded through mediapy
    (on first use), and for `record`/`render` what was recorded (`recording`: the JSON sidecar's fields)."""

    def __init__(
        self,
        path: Path | None,
        fps: float,
        *,
        frames: np.ndarray | None = None,
        recording: rec.Recording | None = None,
    ) -> None:
        self.path, self.fps, self.recording = path, fps, recording
        if frames is not None:
            self.frames = frames

    @functools.cached_property
    def frames(self) -> np.ndarray:
        """(n, height, width, 3) uint8: what a player shows (several worlds are tiled in each frame)."""
        return np.asarray(mediapy.read_video(self.path))

    def show(self, **options: Any) -> None:
        """Inline in the notebook (`mediapy.show_video`; options such as `width`, `title`, `codec`)."""
        mediapy.show_video(self.frames, fps=self.fps, **options)

    def __repr__(self) -> str:
        what = f"{self.recording.model} on {self.recording.engine}, " if self.recording else ""
        return f"Clip({what}{self.fps:g} fps, {self.path or 'in memory'})"


def record(model: str = rec.RecordSettings.model, **settings: Any) -> Clip:
    """Record `model` to MP4 as `mjpod record` does and return the clip (frames decoded on first use).

    Settings by name, with the command's defaults: engine, worlds (several are tiled), cols, renderer,
    camera (a name, an id, "free"), azimuth, elevation, distance, lookat, width, height, fps, duration,
    replay, out, encoder; and the engine's: nworld, device, ctrl, seed, nconmax, njmax,
    comfree_stiffness, comfree_damping, ...
    """
    recording = _record(model, settings)
    return Clip(Path(recording.path), recording.fps, recording=recording)


def render(model: str = rec.RecordSettings.model, **settings: Any) -> Clip:
    """As `record`, but nothing is kept on disk: the frames come back in memory (`clip.path` is None)."""
    if "out" in settings:
        raise SettingError("render keeps no file: use record(..., out=PATH) for an MP4")
    with tempfile.TemporaryDirectory(prefix="mjpod-render-") as folder:
        recording = _record(model, {**settings, "out": Path(folder) / "clip.mp4"})
        frames = np.asarray(mediapy.read_video(recording.path))
    return Clip(None, recording.fps, frames=frames, recording=recording)


def _record(model: str, settings: dict[str, Any]) -> rec.Recording:
    record_settings, engine_config, camera = _split(
        settings,
        (rec.RecordSettings, EngineConfig, CameraSpec),
        fixed={"model", "engine_config", "camera", "name"},
        aliases={"camera": (2, "name")},
    )
    return rec.record(
        rec.RecordSettings(
            model=model,
            engine_config=EngineConfig(**engine_config),
            camera=CameraSpec(**camera),
            **record_settings,
        )
    )


def bench(*models: str, **settings: Any) -> list[dict[str, Any]]:
    """Run `mjpod bench` on `models` (default: the bench's) and return its figures, one dict per row.

    Settings by name, with the command's defaults but `quick` (True here): engines, nworld (a list),
    nstep, seconds, only, skip, sizes, out (where its JSON goes, as the command's), ...; and the
    engine's: device, nconmax, njmax, comfree_stiffness, comfree_damping, ... The table prints too.
    """
    config, engine_config = _split(
        settings,
        (BenchConfig, EngineConfig),
        fixed={"models", "engine_config", "nworld"},
        aliases={"nworld": (0, "nworld")},
    )
    if models:
        config["models"] = models
    config.setdefault("quick", True)
    console = Console()
    result = bench_runner.run(BenchConfig(engine_config=EngineConfig(**engine_config), **config), console)
    console.print(bench_report.table(result))
    return [dataclasses.asdict(row) for row in result.rows]


class Served:
    """A simulation streaming in the background (`serve`): `port` for `watch` and `mjpod view`, `url` for
    the browser view, `banner` for what runs; `stop()` (or leaving the `with` block) ends it."""

    def __init__(self, model: str, engine: str, config: EngineConfig, options: srv.ServeOptions) -> None:
        self.port, self.options, self.banner = options.port, options, ""
        self._stop, started = threading.Event(), threading.Event()
        self._error: BaseException | None = None

        def on_start(banner: str) -> None:
            self.banner = banner
            started.set()

        def run() -> None:
            try:
                srv.run(model, engine, config, options, self._stop, on_start)
            except BaseException as err:  # raised in the notebook: by the constructor, else by stop()
                self._error = err
            finally:
                started.set()

        self._thread = threading.Thread(target=run, name="mjpod-serve", daemon=True)
        self._thread.start()
        started.wait()
        self._raise()

    @property
    def url(self) -> str | None:
        """The browser view, when one is served (`web_port`)."""
        return srv.browser_url(self.options) if self.options.web_port > 0 else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Served({self.banner})"


def serve(
    model: str = rec.RecordSettings.model, engine: str = rec.RecordSettings.engine, **settings: Any
) -> Served:
    """Serve `model` in the background as `mjpod serve` does (127.0.0.1 unless `host` says otherwise).

    Settings by name, with the command's defaults: port, web_port (0: no browser view), world, hz,
    duration (simulated seconds; 0: until stop), token, host, web_control, realtime; and the engine's.
    """
    options, config = _split(settings, (srv.ServeOptions, EngineConfig))
    return Served(model, engine, EngineConfig(**config), srv.ServeOptions(**options))


def watch(
    port: int = DEFAULT_PORT,
    *,
    host: str = "127.0.0.1",
    frames: int = 60,
    fps: float = 30.0,
    width: int = 640,
    height: int = 480,
    token: str | None = None,
    out: Path | str | None = None,
    timeout: float = 120.0,
) -> Clip:
    """Follow a stream headless for `frames` frames of simulated time, as `mjpod view --record` does.

    Returns the clip (its MP4 at `out`, else only in memory); gives up after `timeout` seconds.
    """
    if frames < 1:
        raise SettingError(f"frames must be at least 1, got {frames}")
    with _output(out) as path:
        sinks: list[viewer.Recorder] = []

        def make_sink(mjm: Any, info: Any) -> viewer.Recorder:
            sinks.append(viewer.Recorder(mjm, path, width=width, height=height, fps=fps, max_frames=frames))
            return sinks[-1]

        stop = threading.Event()
        timer = threading.Timer(timeout, stop.set)
        timer.start()
        try:
            viewer.follow(host, port, make_sink, token=token, retry_delay=0.5, stop=stop)
        finally:
            timer.cancel()
        if not sinks or sinks[-1].frames < frames:
            raise SettingError(
                f"no stream at {host}:{port} gave {frames} frames within {timeout:g} s: is `mjpod serve` "
                "running there (mjn.serve), and are the port and token right?"
            )
        return Clip(Path(out) if out else None, fps, frames=np.asarray(mediapy.read_video(path)))


@contextmanager
def _output(out: Path | str | None) -> Iterator[Path]:
    """`out`, or a file in a temporary folder that goes when the block ends."""
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="mjpod-watch-") as folder:
        yield Path(folder) / "watched.mp4"


def _split(
    settings: dict[str, Any],
    classes: tuple[type, ...],
    fixed: Collection[str] = (),
    aliases: dict[str, tuple[int, str]] | None = None,
) -> list[dict[str, Any]]:
    """Settings sorted to the dataclasses (`classes`) that take them, a later class's field winning a name
    two share; a list, range or one number where a field holds a tuple becomes one, text where it holds
    a Path a Path. A name none takes (or a `fixed` one) is refused with the close ones."""
    types = [{f.name: str(f.type) for f in dataclasses.fields(c)} for c in classes]
    accepted = {name: (i, name) for i, names in enumerate(types) for name in names if name not in fixed}
    accepted.update(aliases or {})
    parts: list[dict[str, Any]] = [{} for _ in classes]
    for key, value in settings.items():
        if key not in accepted:
            close = difflib.get_close_matches(key, sorted(accepted), n=3)
            raise SettingError(
                f"unknown setting {key!r}" + (f"; did you mean {', '.join(close)}?" if close else "")
            )
        index, name = accepted[key]
        kind = types[index][name]
        if kind.startswith("tuple") and value is not None:
            value = tuple(value) if isinstance(value, (list, tuple, range)) else (value,)
        elif "Path" in kind and isinstance(value, str):
            value = Path(value)
        parts[index][name] = value
    return parts
