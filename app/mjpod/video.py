"""MP4 videos through mediapy: the writer streams frames to ffmpeg as they come, so memory stays flat.

mediapy (the video and image I/O of MuJoCo's and mujoco_warp's tutorials) drives ffmpeg, the one
bundled in the imageio-ffmpeg wheel (`mediapy()` sets it, so no system ffmpeg is needed); notebooks
read and show videos with the same module. On top of mediapy, mjpod keeps what it does not do:

- the encoder: NVENC H.264 when a one-frame trial encode on this box succeeds (an NVIDIA GPU with the
  `video` driver capability), else libx264; H.264 yuv420p, which every player and browser plays;
- a file only when whole: ffmpeg writes into a private folder beside the target (a new name each time,
  mode 700, so a link planted at a predictable name is never followed), and the video is moved into
  place once ffmpeg exited cleanly and the file reads back whole;
- Ctrl-C and `docker stop`: ffmpeg starts with SIGINT and SIGTERM blocked (see `_signals_held`), so a
  signal for the job's process group stops only mjpod, which finishes the frame and closes the file.

mediapy and imageio-ffmpeg are imported only when a video is made, so mjpod simulates, renders, streams
and benchmarks without them (the GPU check's staging leaves them out); `ffmpeg_missing` says whether
videos can be made here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import shutil
import signal
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mjpod.errors import MjpodError

ENCODERS = ("h264_nvenc", "libx264")
# Settings per encoder: constant quality, tuned for throughput (frames come from a simulation, not a film).
FFMPEG_ARGS = {
    "libx264": ["-preset", "veryfast", "-crf", "20"],
    "h264_nvenc": ["-preset", "p4", "-cq", "23"],
}
_FFMPEG_TAG = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")
# what a terminal's Ctrl-C and `docker stop` (tini -g) send to every process of the job's group
_JOB_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class VideoError(MjpodError, ValueError):
    """A recording that cannot start: the message names the bad setting and the fix."""


@dataclasses.dataclass(frozen=True)
class Encoder:
    name: str  # the ffmpeg encoder: h264_nvenc or libx264
    reason: str  # why this one, for the console and the sidecar


FFMPEG_MISSING = (
    "no ffmpeg: the imageio-ffmpeg package, which bundles it, is not installed in this Python; "
    "videos need it: install it with `pip install imageio-ffmpeg` (make venv and the image have it)"
)
MEDIAPY_MISSING = (
    "no mediapy: the package mjpod writes and reads videos with is not installed in this Python; "
    "install it with `pip install mediapy` (make venv and the image have it)"
)


def _imageio_ffmpeg() -> types.ModuleType:
    """The imageio_ffmpeg module, imported on first use; a VideoError naming the fix when it is absent."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise VideoError(FFMPEG_MISSING) from None
    return imageio_ffmpeg


def mediapy() -> types.ModuleType:
    """The mediapy module with its ffmpeg set to imageio-ffmpeg's binary; a VideoError naming the fix
    when either package is absent. `mediapy().show_video(frames)` shows frames inline in a notebook."""
    ffmpeg = _imageio_ffmpeg()
    try:
        import mediapy as module
    except ImportError:
        raise VideoError(MEDIAPY_MISSING) from None
    module.set_ffmpeg(ffmpeg.get_ffmpeg_exe())
    _fps_mode_for_ffmpeg9(module)
    return module


# `-vsync N` as ffmpeg 5.1+ spells it: ffmpeg 9 knows only `-fps_mode`
_FPS_MODES = {"0": "passthrough", "1": "cfr", "2": "vfr", "-1": "auto"}


def _fps_mode_for_ffmpeg9(module: types.ModuleType) -> None:
    """Let mediapy read videos with imageio-ffmpeg's ffmpeg 9 (once per process).

    mediapy 1.2.7 passes `-vsync` when it reads a video (read_video, VideoReader); ffmpeg 9 removed the
    option, and imageio-ffmpeg 0.8 (ffmpeg 9) is the first release whose ffmpeg has NVENC. So every
    ffmpeg command mediapy starts goes through its one launcher, `_run_ffmpeg`, with `-vsync X` renamed
    `-fps_mode X` (what mediapy's own pending fix, pull request 88, does). A mediapy that no longer
    passes `-vsync` is left as it is; one without `_run_ffmpeg` reads as before, and the tests, which
    decode every video through mediapy, would say so.
    """
    launch = getattr(module, "_run_ffmpeg", None)
    if launch is None or getattr(launch, "mjpod_fps_mode", False):
        return

    @functools.wraps(launch)
    def run_ffmpeg(args, *rest, **options):  # type: ignore[no-untyped-def]
        args = list(args)
        for i, arg in enumerate(args[:-1]):
            if arg == "-vsync":
                args[i : i + 2] = ["-fps_mode", _FPS_MODES.get(args[i + 1], args[i + 1])]
        return launch(args, *rest, **options)

    run_ffmpeg.mjpod_fps_mode = True  # type: ignore[attr-defined]
    module._run_ffmpeg = run_ffmpeg


def ffmpeg_missing() -> str | None:
    """None when videos can be made here, else why not (imageio-ffmpeg or mediapy not installed) and the fix."""
    try:
        mediapy()
    except VideoError as err:
        return str(err)
    return None


def ffmpeg_exe() -> str:
    return _imageio_ffmpeg().get_ffmpeg_exe()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Start ffmpeg inside this block: it inherits SIGINT and SIGTERM blocked, so they never reach it.

    mediapy starts ffmpeg in mjpod's process group, where a terminal's Ctrl-C and `docker stop`
    (tini -g signals the whole group) would reach it as well; ffmpeg would then end the file on its
    own while frames are still coming, and the next frame would fail. A signal mask survives fork and
    exec (ffmpeg installs handlers but never unblocks them), so the stop reaches only mjpod, which
    finishes the frame and closes ffmpeg's input: ffmpeg then ends the file cleanly. Signals that
    arrive meanwhile wait here and are delivered to mjpod when the block ends.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _JOB_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _ffmpeg_words(message: str) -> str:
    """ffmpeg's first error line out of mediapy's "Error writing 'path': <stderr>" (tags dropped)."""
    stderr = message.split("': ", 1)[-1]
    lines = [_FFMPEG_TAG.sub("", line).strip() for line in stderr.splitlines()]
    return next((line for line in lines if line), "ffmpeg exited with an error and no message")


def _end(writer: object) -> str | None:
    """Close ffmpeg's input and wait for it: None when it exited cleanly, else what went wrong."""
    problem = "ffmpeg's input pipe broke"
    for _ in range(2):  # a flush into a pipe ffmpeg already left fails; the second close waits for it
        try:
            writer.close()  # type: ignore[attr-defined]
            return None
        except RuntimeError as err:  # ffmpeg exited non-zero: mediapy puts its stderr in the message
            return _ffmpeg_words(str(err))
        except OSError as err:
            problem = str(err)
    return problem


@functools.cache
def _nvenc_works() -> str | None:
    """None when a one-frame NVENC encode succeeds here, else ffmpeg's first error line."""
    with tempfile.TemporaryDirectory(prefix="mjpod-nvenc-") as folder:
        trial = mediapy().VideoWriter(  # with the settings recordings use, so the trial tries those too
            Path(folder) / "trial.mp4",
            (256, 256),
            codec="h264_nvenc",
            fps=25,
            ffmpeg_args=FFMPEG_ARGS["h264_nvenc"],
        )
        try:
            with _signals_held():
                trial.__enter__()
            trial.add_image(np.zeros((256, 256, 3), np.uint8))
        except (OSError, RuntimeError) as err:
            return _end(trial) or str(err)
        return _end(trial)


def choose_encoder(requested: str = "auto") -> Encoder:
    """The encoder to use and why; `requested` is auto, h264_nvenc or libx264."""
    if requested not in ("auto", *ENCODERS):
        raise VideoError(f"unknown encoder {requested!r}; choose auto, {', '.join(ENCODERS)}")
    mediapy()  # no encoder without ffmpeg and mediapy: say so before any work starts
    if requested == "libx264":
        return Encoder("libx264", "asked for libx264")
    problem = _nvenc_works()
    if problem is None:
        return Encoder("h264_nvenc", "NVENC trial encode succeeded")
    if requested == "h264_nvenc":
        raise VideoError(
            f"h264_nvenc is not usable here ({problem}); it needs an NVIDIA GPU with NVENC and the "
            "container started with NVIDIA_DRIVER_CAPABILITIES including video. Use --encoder libx264."
        )
    return Encoder("libx264", f"no NVENC here (trial encode: {problem})")


def check_output(path: Path, width: int, height: int, fps: float) -> Path:
    """Validate everything about an output before any work is done; returns the absolute path."""
    if fps <= 0:
        raise VideoError(f"fps must be positive, got {fps}")
    if width <= 0 or height <= 0:
        raise VideoError(f"frame size must be positive, got {width}x{height}")
    if width % 2 or height % 2:
        raise VideoError(
            f"frame size {width}x{height} has an odd side; H.264 yuv420p needs even width and height "
            f"(try {width + width % 2}x{height + height % 2})"
        )
    path = Path(path).expanduser().absolute()
    if path.suffix.lower() != ".mp4":
        raise VideoError(f"output {path} must end in .mp4")
    if path.is_dir():
        raise VideoError(f"output {path} is a folder; give a file name ending in .mp4")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".mjpod-write-test-"):
            pass
    except OSError as err:
        raise VideoError(
            f"cannot write to {path.parent} ({err.strerror or err}); choose another --out "
            "(in the container, /workspace/videos is the mounted volume)"
        ) from None
    return path


def _why_ffmpeg_failed(folder: Path, words: str | None) -> str:
    """The likely cause of an ffmpeg failure, with the fix."""
    free = shutil.disk_usage(folder).free
    if free < 16 * 1024 * 1024:
        return (
            f"the disk holding {folder} is full ({free // 1024} KiB free): free space or choose another --out"
        )
    return f"ffmpeg said: {words}" if words else "ffmpeg gave no reason"


def _frames_in(path: Path) -> int:
    """How many frames the MP4 at `path` holds (0 when it does not read back).

    imageio-ffmpeg's count, not mediapy's: mediapy counts frames only by decoding the whole video
    (VideoReader's metadata), imageio-ffmpeg counts the packets without decoding them.
    """
    try:
        return _imageio_ffmpeg().count_frames_and_secs(str(path))[0]
    except (OSError, RuntimeError):
        return 0


class VideoWriter:
    """An MP4 being written through mediapy. `close()` finishes a playable file; `discard()` removes it.

    ffmpeg writes into a private folder beside the target (`tempfile.mkdtemp`: a name no one could
    plant a link at, mode 700); the video is moved into place on close only after ffmpeg exited cleanly
    and the file reads back whole, so a failed recording (a full disk, a killed ffmpeg) never leaves a
    file under the requested name: it raises VideoError saying why.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, encoder: Encoder) -> None:
        self.path = check_output(path, width, height, fps)
        media = mediapy()
        self.width, self.height, self.fps, self.encoder = width, height, fps, encoder
        self.frames = 0
        self.closed = False
        self._ffmpeg_error: str | None = None
        self._ended = False
        self._folder = Path(
            tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        )
        self._partial = self._folder / self.path.name
        self._writer = media.VideoWriter(
            self._partial,
            (height, width),
            codec=encoder.name,
            fps=fps,
            ffmpeg_args=FFMPEG_ARGS[encoder.name],
            encoded_format="yuv420p",
        )
        try:
            with _signals_held():
                self._writer.__enter__()  # starts ffmpeg
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB frame, (height, width, 3) uint8."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame must be ({self.height}, {self.width}, 3) uint8, got {frame.shape} {frame.dtype}"
            )
        try:
            self._writer.add_image(frame)
        except (OSError, RuntimeError):  # ffmpeg stopped taking frames
            self.finish()
            why = _why_ffmpeg_failed(self.path.parent, self._ffmpeg_error)
            self.discard()
            raise VideoError(
                f"ffmpeg stopped after {self.frames} frames of {self.path}, which was not kept: {why}"
            ) from None
        self.frames += 1

    def finish(self) -> None:
        """Let ffmpeg finish encoding (its lookahead, the MP4 index): what an encoder's time includes."""
        if not self._ended:
            self._ended = True
            self._ffmpeg_error = _end(self._writer)

    def close(self) -> Path:
        """Let ffmpeg finish the file, check it reads back whole, and move it into place."""
        if self.closed:
            return self.path
        self.closed = True
        self.finish()
        try:
            if self.frames == 0:
                raise VideoError(f"no frames were written; {self.path} was not created")
            frames = 0 if self._ffmpeg_error else _frames_in(self._partial)
            if frames != self.frames:
                why = _why_ffmpeg_failed(self.path.parent, self._ffmpeg_error)  # (before the folder goes)
                raise VideoError(
                    f"ffmpeg could not finish {self.path} ({frames} of {self.frames} frames read back), so "
                    f"nothing was kept: {why}"
                )
            os.replace(self._partial, self.path)  # (replaces a link at the target, never follows it)
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
        return self.path

    def discard(self) -> None:
        """Stop ffmpeg and delete what it wrote (a no-op once the file is finished)."""
        if self.closed:
            return
        self.closed = True
        self.finish()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
