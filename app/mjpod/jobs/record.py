"""Record a simulation to MP4 offscreen: model -> engine -> renderer -> encoder, one frame at a time.

Video time and physics time are independent: frame k shows simulation time k / fps, and the
engine takes however many physics steps that needs, so nothing is rendered that is not shown.
Frames go straight to ffmpeg, so memory does not grow with the length of the video. A stop
request (Ctrl-C, docker stop) ends the loop after the current frame and still finishes the file.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mujoco
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mjpod import __version__, files, models, render, video
from mjpod.engines import DEFAULT_ENGINE, EngineConfig
from mjpod.errors import SettingError
from mjpod.jobs.replay import ControlReplay
from mjpod.jobs.simulation import check_frames, make_engine, steps_before_frame
from mjpod.render import camera as cameras
from mjpod.render import grid

MAX_SIDE = 8192  # pixels a side of a video frame (H.264's largest level); one world's image as well


@dataclasses.dataclass(frozen=True)
class RecordSettings:
    model: str = models.DEFAULT_MODEL
    engine: str = DEFAULT_ENGINE
    engine_config: EngineConfig = dataclasses.field(default_factory=EngineConfig)
    renderer: render.RendererKind = "gl"
    camera: cameras.CameraSpec = dataclasses.field(default_factory=cameras.CameraSpec)
    worlds: tuple[int, ...] = (0,)  # several: tiled into one frame
    cols: int | None = None  # grid columns (default: near-square)
    width: int = 640  # of one world's image
    height: int = 480
    fps: float = 30.0
    duration: float = 5.0  # seconds of video (= seconds of simulation)
    replay: Path | None = None  # controls file; overrides the engine's ctrl mode
    out: Path | None = None  # default: default_output(...)
    encoder: str = "auto"

    @property
    def frames(self) -> int:
        return max(1, round(self.fps * self.duration))

    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the encoded frame: the tile grid."""
        rows, cols = grid.layout(len(self.worlds), self.cols)
        return cols * self.width, rows * self.height


def default_output(model_name: str, engine: str) -> Path:
    """$MJPOD_WORKSPACE/videos (the container's /workspace volume), else ./videos; a timestamped name."""
    workspace = os.environ.get("MJPOD_WORKSPACE")
    folder = Path(workspace) / "videos" if workspace else Path("videos")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return folder / f"{model_name.replace('/', '-')}-{engine}-{stamp}.mp4"


@dataclasses.dataclass
class Recording:
    """What was recorded; written as the JSON sidecar next to the video."""

    path: str
    model: str
    model_path: str
    engine: str
    device: str
    nworld: int
    worlds: list[int]
    grid: list[int]  # rows, cols
    renderer: str
    gl_renderer: str
    camera: str
    width: int
    height: int
    frame_width: int
    frame_height: int
    fps: float
    duration: float
    timestep: float
    steps: int
    frames: int
    frames_planned: int
    sim_time: float
    wall_seconds: float
    frames_per_second: float
    encoder: str
    encoder_reason: str
    ctrl: str
    interrupted: bool
    overflow: str | None
    comfree_gains: list[list[float]] | None = None  # comfree: [stiffness, damping] of each shown world
    mjpod_version: str = __version__
    created: str = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    )

    def sidecar_path(self) -> Path:
        return Path(self.path).with_suffix(".json")

    def write_sidecar(self) -> Path:
        """Write the JSON beside the video, whole or not at all (VideoError saying why)."""
        path = self.sidecar_path()
        try:
            files.write_text(path, json.dumps(dataclasses.asdict(self), indent=2) + "\n")
        except OSError as err:
            raise video.VideoError(
                f"cannot write {path} ({err.strerror or err}): free space or choose another --out"
            ) from None
        return path


class ProgressBar:
    """A recording on the console: `update` is record's on_frame, `print` its on_start.

    The bar starts with the first frame, so a refused setting prints its error alone, and the frames/s
    it shows leave out loading the model and compiling kernels.
    """

    def __init__(self, console: Console) -> None:
        columns = (
            TextColumn("[bold]recording[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("frames {task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        self._progress = Progress(*columns, console=console)
        self._task: int | None = None
        self._start, self._first = 0.0, 0

    def update(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task("record", total=total, rate="")
            self._start, self._first = now, done
        rate = f"{(done - self._first) / (now - self._start):.1f}/s" if now > self._start else ""
        self._progress.update(self._task, completed=done, total=total, rate=rate)

    def print(self, text: str) -> None:
        self._progress.console.print(text)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._progress.stop()


def prepare(
    settings: RecordSettings,
) -> tuple[models.LoadedModel, mujoco.MjModel, int | mujoco.MjvCamera, str]:
    """Load the model and resolve the camera; the batch renderer's free camera becomes a model camera."""
    loaded = models.load(settings.model)
    mjm = loaded.model
    cam = cameras.resolve(mjm, settings.camera)
    description = describe_camera(mjm, cam)
    if settings.renderer == "batch" and isinstance(cam, mujoco.MjvCamera):
        mjm, cam = cameras.with_model_camera(mjm, loaded.path, cam)
    return loaded, mjm, cam, description


def check(settings: RecordSettings) -> None:
    """Reject bad numbers before anything is loaded or written."""
    if settings.renderer not in render.RENDERERS:
        raise SettingError(f"renderer must be gl or batch, got {settings.renderer!r}")
    if not (math.isfinite(settings.fps) and settings.fps > 0):
        raise SettingError(f"fps must be positive, got {settings.fps}")
    if not (math.isfinite(settings.duration) and settings.duration > 0):
        raise SettingError(f"duration must be positive seconds, got {settings.duration}")
    check_frames(settings.fps, settings.duration)
    if settings.cols is not None and settings.cols < 1:
        raise SettingError(
            f"--cols must be at least 1 (or left out for a near-square grid), got {settings.cols}"
        )
    if not settings.worlds:
        raise SettingError("choose at least one world to show")
    check_frame(len(settings.worlds), settings.width, settings.height, settings.cols)
    bad = [w for w in settings.worlds if not 0 <= w < settings.engine_config.nworld]
    if bad:
        raise SettingError(
            f"world(s) {bad} out of range: --nworld {settings.engine_config.nworld} gives worlds "
            f"0..{settings.engine_config.nworld - 1}"
        )


def check_frame(worlds: int, width: int, height: int, cols: int | None = None) -> None:
    """Refuse a video frame (`worlds` tiles of width x height) more than MAX_SIDE pixels a side."""
    rows, cols = grid.layout(worlds, cols)
    if max(cols * width, rows * height) > MAX_SIDE:
        raise SettingError(
            f"a {cols * width}x{rows * height} video frame ({worlds} world(s) of {width}x{height}) is more "
            f"than {MAX_SIDE} pixels a side: show fewer worlds or make them smaller"
        )


def record(
    settings: RecordSettings,
    stop: threading.Event | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> Recording:
    """Record the video and its sidecar; `on_frame(done, total)` follows progress, `on_start` hears the plan.

    A setting that cannot work raises an MjpodError (ModelError, CameraError, VideoError, ReplayError,
    SettingError) with the fix before any file exists; a failure midway removes the partial file.
    """
    check(settings)
    loaded, mjm, cam, camera_text = prepare(settings)
    replay = ControlReplay.load(settings.replay, mjm.nu, mjm.opt.timestep) if settings.replay else None
    encoder = video.choose_encoder(settings.encoder)
    frame_w, frame_h = settings.frame_size()
    out = video.check_output(  # last of the checks: it creates the output folder
        settings.out or default_output(loaded.name, settings.engine), frame_w, frame_h, settings.fps
    )
    config = settings.engine_config
    if replay is not None:
        config = dataclasses.replace(config, ctrl="hold")
    stop = stop or threading.Event()
    timestep = float(mjm.opt.timestep)
    if 1.0 / (settings.fps * timestep) < 1:
        warn = f"fps {settings.fps} exceeds the physics rate {1 / timestep:g} Hz: some frames repeat a state"
        if on_start:
            on_start(warn)

    with make_engine(loaded.name, mjm, settings.engine, config) as engine:
        renderer = render.make(
            settings.renderer, engine, cam, settings.height, settings.width, settings.worlds
        )
        if on_start:
            on_start(
                f"recording {loaded.name} with {settings.engine} on {engine.device}, {settings.frames} frames "
                f"{frame_w}x{frame_h} at {settings.fps:g} fps, camera {camera_text}, renderer: {renderer.description}, "
                f"encoder: {encoder.name} ({encoder.reason}) -> {out}"
            )
        steps = 0
        start = time.perf_counter()
        try:
            with video.VideoWriter(out, frame_w, frame_h, settings.fps, encoder) as writer:
                for k in range(settings.frames):
                    if stop.is_set():
                        break
                    n = steps_before_frame(k, settings.fps, timestep)
                    _advance(engine, n, replay, steps)
                    steps += n
                    writer.write(grid.tile(renderer.render(), settings.cols))
                    if on_frame:
                        on_frame(k + 1, settings.frames)
        finally:
            renderer.close()
        wall = time.perf_counter() - start
        overflow = engine.overflow()
        device = engine.device
        shown = [engine.gains(w) for w in settings.worlds]  # comfree: a sweep says which tile ran what
        comfree_gains = [list(g) for g in shown] if shown[0] is not None else None

    result = Recording(
        path=str(out),
        model=loaded.name,
        model_path=str(loaded.path),
        engine=settings.engine,
        device=device,
        nworld=config.nworld,
        worlds=list(settings.worlds),
        grid=list(grid.layout(len(settings.worlds), settings.cols)),
        renderer=settings.renderer,
        gl_renderer=renderer.description,
        camera=camera_text,
        width=settings.width,
        height=settings.height,
        frame_width=frame_w,
        frame_height=frame_h,
        fps=settings.fps,
        duration=settings.duration,
        timestep=timestep,
        steps=steps,
        frames=writer.frames,
        frames_planned=settings.frames,
        sim_time=steps * timestep,
        wall_seconds=wall,
        frames_per_second=writer.frames / wall if wall > 0 else 0.0,
        encoder=encoder.name,
        encoder_reason=encoder.reason,
        ctrl=f"replay {settings.replay}" if replay is not None else config.ctrl,
        interrupted=writer.frames < settings.frames,
        overflow=overflow,
        comfree_gains=comfree_gains,
    )
    try:
        result.write_sidecar()
    except video.VideoError:
        out.unlink()  # a recording without its sidecar is a failed one: leave no file
        raise
    return result


def _advance(engine, n: int, replay: ControlReplay | None, done: int) -> None:
    """n physics steps; with a replay, each step gets the control in force at its own time."""
    if replay is None:
        if n:
            engine.step(n)
        return
    for s in range(done, done + n):
        engine.set_ctrl(replay.at(s * engine.timestep))
        engine.step(1)


def describe_camera(mjm: mujoco.MjModel, cam: int | mujoco.MjvCamera) -> str:
    """For the console and sidecar: a model camera's name, or the free camera's parameters."""
    if isinstance(cam, mujoco.MjvCamera):
        lookat = ",".join(f"{v:.3g}" for v in cam.lookat)
        return f"free azimuth={cam.azimuth:.3g} elevation={cam.elevation:.3g} distance={cam.distance:.3g} lookat={lookat}"
    return mujoco.mj_id2name(mjm, mujoco.mjtObj.mjOBJ_CAMERA, cam) or str(cam)
