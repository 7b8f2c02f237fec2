"""Several worlds tiled into one video frame, row by row from the top left."""

from __future__ import annotations

import math

import numpy as np


def layout(count: int, cols: int | None = None) -> tuple[int, int]:
    """(rows, cols) for `count` tiles; near-square unless `cols` is given."""
    if count < 1:
        raise ValueError("need at least one tile")
    cols = cols or math.ceil(math.sqrt(count))
    if cols < 1:
        raise ValueError(f"cols must be at least 1, got {cols}")
    cols = min(cols, count)
    return math.ceil(count / cols), cols


def tile(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(n, h, w, 3) -> one (rows*h, cols*w, 3) frame; cells past the last image stay black."""
    n, h, w, c = images.shape
    if n == 1:
        return images[0]
    rows, cols = layout(n, cols)
    frame = np.zeros((rows * h, cols * w, c), dtype=images.dtype)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        frame[r * h : (r + 1) * h, k * w : (k + 1) * w] = image
    return frame
