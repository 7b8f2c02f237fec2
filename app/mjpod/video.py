"""Streaming MP4 writer: frames go to ffmpeg's stdin as they come, so memory stays flat.

ffmpeg is the one bundled in the imageio-ffmpeg wheel. The encoder is chosen once per process:
NVENC H.264 when a trial encode on this box succeeds (an NVIDIA GPU with the `video` driver
capability), else libx264. Output is H.264 yuv420p, which every player and browser plays.

imageio-ffmpeg is imported only when a video is made, so mjpod simulates, renders, streams and benchmarks
without it (the GPU check's staging leaves it out); `ffmpeg_missing` says whether videos can be made here.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess
import tempfile
import types
from pathlib import Path

import numpy as np

from mjpod.errors import MjpodError

ENCODERS = ("h264_nvenc", "libx264")
# Settings per encoder: constant quality, tuned for throughput (frames come from a simulation, not a film).
_OUTPUT_PARAMS = {
    "libx264": ["-preset", "veryfast", "-crf", "20"],
    "h264_nvenc": ["-preset", "p4", "-cq", "23"],
}
_FFMPEG_TAG = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")


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


def _imageio_ffmpeg() -> types.ModuleType:
    """The imageio_ffmpeg module, imported on first use; a VideoError naming the fix when it is absent."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise VideoError(FFMPEG_MISSING) from None
    return imageio_ffmpeg


def ffmpeg_missing() -> str | None:
    """None when videos can be made here, else why not (imageio-ffmpeg not installed) and the fix."""
    try:
        _imageio_ffmpeg()
    except VideoError as err:
        return str(err)
    return None


def ffmpeg_exe() -> str:
    return _imageio_ffmpeg().get_ffmpeg_exe()


@functools.cache
def _nvenc_works() -> str | None:
    """None when a one-frame NVENC encode succeeds here, else ffmpeg's last error line."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=256x256:d=0.04"]
    cmd += ["-frames:v", "1", "-c:v", "h264_nvenc", "-f", "null", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    if proc.returncode == 0:
        return None
    # ffmpeg's first error is the cause ("Cannot load libcuda.so.1"); drop its "[h264_nvenc @ 0x…]" tags
    lines = [_FFMPEG_TAG.sub("", line).strip() for line in proc.stderr.splitlines()]
    return next((line for line in lines if line), f"ffmpeg exited with {proc.returncode}")


def choose_encoder(requested: str = "auto") -> Encoder:
    """The encoder to use and why; `requested` is auto, h264_nvenc or libx264."""
    if requested not in ("auto", *ENCODERS):
        raise VideoError(f"unknown encoder {requested!r}; choose auto, {', '.join(ENCODERS)}")
    _imageio_ffmpeg()  # no encoder without ffmpeg: say so before any work starts
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


def _why_ffmpeg_failed(folder: Path) -> str:
    """The likely cause of an ffmpeg failure, with the fix."""
    free = shutil.disk_usage(folder).free
    if free < 16 * 1024 * 1024:
        return (
            f"the disk holding {folder} is full ({free // 1024} KiB free): free space or choose another --out"
        )
    return "ffmpeg's own message is above"


class VideoWriter:
    """An MP4 being written. `close()` finishes a playable file; `discard()` removes it.

    ffmpeg writes to a hidden `.partial` file beside the target, renamed into place on close only
    after ffmpeg has read it back whole, so a failed recording (a full disk, a killed ffmpeg) never
    leaves a file under the requested name: it raises VideoError saying why.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, encoder: Encoder) -> None:
        self.path = check_output(path, width, height, fps)
        ffmpeg = _imageio_ffmpeg()
        self.width, self.height, self.fps, self.encoder = width, height, fps, encoder
        self.frames = 0
        self.closed = False
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        self._gen = ffmpeg.write_frames(
            str(self._partial),
            (width, height),
            fps=fps,
            codec=encoder.name,
            quality=None,
            macro_block_size=2,  # sizes are even (checked); never let imageio rescale
            ffmpeg_log_level="error",
            output_params=[*_OUTPUT_PARAMS[encoder.name], "-pix_fmt", "yuv420p", "-f", "mp4"],
        )
        self._gen.send(None)  # starts ffmpeg

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB frame, (height, width, 3) uint8."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame must be ({self.height}, {self.width}, 3) uint8, got {frame.shape} {frame.dtype}"
            )
        try:
            self._gen.send(np.ascontiguousarray(frame))
        except OSError:  # ffmpeg stopped taking frames (imageio-ffmpeg puts its command in the message)
            why = _why_ffmpeg_failed(self.path.parent)
            self.discard()
            raise VideoError(
                f"ffmpeg stopped after {self.frames} frames of {self.path}, which was not kept: {why}"
            ) from None
        self.frames += 1

    def finish(self) -> None:
        """Let ffmpeg finish encoding (its lookahead, the MP4 index): what an encoder's time includes."""
        self._gen.close()  # (a no-op once done)

    def close(self) -> Path:
        """Let ffmpeg finish the file, check it reads back whole, and move it into place."""
        if self.closed:
            return self.path
        self.closed = True
        self.finish()
        if self.frames == 0:
            self._partial.unlink(missing_ok=True)
            raise VideoError(f"no frames were written; {self.path} was not created")
        try:
            frames, _ = _imageio_ffmpeg().count_frames_and_secs(str(self._partial))
        except (OSError, RuntimeError):
            frames = 0
        if frames != self.frames:
            why = _why_ffmpeg_failed(self.path.parent)  # (before the partial file frees its space)
            self._partial.unlink(missing_ok=True)
            raise VideoError(
                f"ffmpeg could not finish {self.path} ({frames} of {self.frames} frames read back), so "
                f"nothing was kept: {why}"
            )
        os.replace(self._partial, self.path)
        return self.path

    def discard(self) -> None:
        """Stop ffmpeg and delete what it wrote (a no-op once the file is finished)."""
        if self.closed:
            return
        self.closed = True
        self._gen.close()
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
