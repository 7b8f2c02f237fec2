"""Decode an MP4 back with mediapy (its ffmpeg: imageio-ffmpeg's binary): what a player would really show."""

from pathlib import Path

import numpy as np


def decode(path: Path) -> tuple[np.ndarray, dict]:
    """All frames as (n, height, width, 3) uint8 (`mediapy.read_video`), and the metadata: fps and size
    from mediapy, the codec and pixel format (which mediapy does not report) from the stream's header."""
    import imageio_ffmpeg  # here, not above: modules that use it still import where it is missing

    from mjpod import video

    frames = video.mediapy().read_video(path)
    header = imageio_ffmpeg.read_frames(str(path))
    meta = next(header)
    header.close()
    height, width = frames.metadata.shape
    info = {
        "fps": frames.metadata.fps,
        "size": (width, height),
        "codec": meta["codec"],
        "pix_fmt": meta["pix_fmt"],
    }
    if not len(frames):
        return np.zeros((0, height, width, 3), np.uint8), info
    return np.asarray(frames), info
