"""Decode an MP4 back with ffmpeg (the imageio-ffmpeg binary): what a player would really show."""

from pathlib import Path

import numpy as np


def decode(path: Path) -> tuple[np.ndarray, dict]:
    """All frames as (n, height, width, 3) uint8, and ffmpeg's metadata (fps, size, codec)."""
    import imageio_ffmpeg  # here, not above: modules that use it still import where it is missing

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]
    return np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8), meta
