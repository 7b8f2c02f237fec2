"""Shard files written by the real writers stay within what the rollout sizes them by: their samples'
arrays plus `file_overhead`, however many worlds (HDF5's structure grows with them) and cameras."""

import numpy as np
import pytest

from mjpod.jobs import shards
from mjpod.render.images import IMAGES, ImageSpec

SAMPLES = 3


def shapes_of(nworld: int, ncam: int) -> shards.Shapes:
    state: shards.Shapes = {
        "time": ((), np.float64),
        "qpos": ((nworld, 7), np.float32),
        "qvel": ((nworld, 6), np.float32),
        "ctrl": ((nworld, 2), np.float32),
        "sensordata": ((nworld, 3), np.float32),
    }
    return state | (ImageSpec(tuple(range(ncam)), IMAGES, 8, 8).arrays(nworld) if ncam else {})


@pytest.mark.parametrize("fmt", shards.FORMATS)
@pytest.mark.parametrize(("nworld", "ncam"), [(1, 1), (512, 0), (512, 2)])
def test_a_shard_file_is_at_most_its_arrays_and_file_overhead(tmp_path, fmt, nworld, ncam):
    shapes = shapes_of(nworld, ncam)
    layout = shards.Layout(
        tuple(f"cam{c}" for c in range(ncam)), {"intrinsics": np.eye(3)[None].repeat(ncam, 0)}
    )
    rng = np.random.default_rng(0)
    with shards.ShardWriter(tmp_path, fmt, shapes, SAMPLES, layout) as writer:
        for _ in range(SAMPLES):
            for row in writer.slot().values():
                row[...] = rng.integers(0, 100, row.shape)  # every dtype
            writer.commit()
        (written,) = writer.close()
    size = (tmp_path / written["file"]).stat().st_size
    arrays = SAMPLES * shards.sample_bytes(shapes)
    assert arrays < size <= arrays + shards.file_overhead(fmt, shapes), (size - arrays) / max(nworld, 1)
