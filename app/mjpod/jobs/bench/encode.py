"""Bench section `encode`: what the H.264 encoders take in, through mediapy and through the pipe mjpod
used before it (and the ffmpeg check that `record` shares)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from rich.progress import Progress

from mjpod import video
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row

ENCODE_SIZES = ((480, 640), (720, 1280))  # height, width


def synthetic_frames(height: int, width: int, count: int = 30) -> np.ndarray:
    """Frames that compress like a rendered scene: smooth shading plus a moving object with edges."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 200 // width, y * 200 // height, np.full_like(x, 90)], -1).astype(np.uint8)
    frames = np.repeat(base[None], count, axis=0)
    size = max(8, height // 6)
    for k in range(count):
        top, left = (k * 7) % (height - size), (k * 11) % (width - size)
        frames[k, top : top + size, left : left + size] = (230, 120, 40)
    return frames


def no_ffmpeg(section: str, result: BenchResult) -> bool:
    """True (and the section's skip stated, with why) when this Python has no ffmpeg to make videos with."""
    missing = video.ffmpeg_missing()
    if missing:
        result.skipped.append(f"{section} ({missing})")
    return missing is not None


class _ImageioPipe:
    """The pipe mjpod wrote videos with before mediapy (imageio-ffmpeg's `write_frames`, the same ffmpeg
    and settings), kept as the encode section's baseline: its rows beside mediapy's say what the switch
    costs on this box."""

    def __init__(self, path: Path, width: int, height: int, fps: float, encoder: video.Encoder) -> None:
        import imageio_ffmpeg

        self._gen = imageio_ffmpeg.write_frames(
            str(path),
            (width, height),
            fps=fps,
            codec=encoder.name,
            quality=None,
            macro_block_size=2,
            ffmpeg_log_level="error",
            output_params=[*video.FFMPEG_ARGS[encoder.name], "-pix_fmt", "yuv420p"],
        )
        self._gen.send(None)

    def write(self, frame: np.ndarray) -> None:
        self._gen.send(frame)

    def finish(self) -> None:
        self._gen.close()

    def __enter__(self) -> _ImageioPipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


# how frames reach ffmpeg: mjpod's VideoWriter (mediapy), and the pipe it used before (the baseline)
WRITERS = {"mediapy": video.VideoWriter, "imageio-ffmpeg pipe": _ImageioPipe}


def run(config: BenchConfig, result: BenchResult, loaded: list, progress: Progress) -> None:
    """Frames/s each usable encoder takes in, at 640x480 and 1280x720, through mediapy and the old pipe."""
    del loaded  # synthetic frames: the encoder alone, whatever the model
    if no_ffmpeg("encode", result):
        return
    encoders = [video.Encoder("libx264", "always available")]
    auto = video.choose_encoder("auto")
    if auto.name != "libx264":
        encoders.insert(0, auto)
    else:
        result.warnings.append(f"encode: NVENC not measured ({auto.reason})")
    task = progress.add_task("encode", total=len(encoders) * len(ENCODE_SIZES) * len(WRITERS))
    with tempfile.TemporaryDirectory(prefix="mjpod-bench-") as tmp:
        for encoder in encoders:
            for height, width in ENCODE_SIZES:
                frames = synthetic_frames(height, width)
                for writer_name, writer_class in WRITERS.items():
                    path = Path(tmp) / f"{encoder.name}-{width}x{height}-{len(result.rows)}.mp4"
                    with writer_class(path, width, height, 30.0, encoder) as writer:
                        count, start = 0, time.perf_counter()
                        while (elapsed := time.perf_counter() - start) < config.seconds or count < 30:
                            writer.write(frames[count % len(frames)])
                            count += 1
                        writer.finish()  # the encoder's tail (flushing its lookahead) counts; the check after not
                        elapsed = time.perf_counter() - start
                    result.add(
                        Row(
                            section="encode",
                            model="synthetic",
                            value=count / elapsed,
                            unit="frames/s",
                            count=count,
                            seconds=elapsed,
                            width=width,
                            height=height,
                            note=f"{encoder.name} {writer_name}",
                        )
                    )
                    progress.advance(task)
