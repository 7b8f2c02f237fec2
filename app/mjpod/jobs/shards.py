"""A rollout's samples into shard files of bounded size, NPZ or HDF5, written by a background thread.

Samples fill a shard buffer in place (`slot()` hands out the next sample's rows, so a renderer copies
its images straight into them); a full buffer goes to the writer thread while the next one fills.
Two buffers at most (and, for HDF5, the file being built), so memory stays flat however long the
rollout, and writing overlaps simulating and drawing. Files are written under a fresh temporary name
and renamed whole (files.replacing): a stopped or failed rollout leaves whole shards only.

NPZ (`rollout-NNNNN.npz`): every array as (samples, nworld, ...), plain arrays numpy reads alone.
HDF5 (`rollout-NNNNN.hdf5`): robomimic's layout (docs/sweep.md), one `data/demo_W` per world:
`obs/<key>` per sample, `actions` (the control applied after each sample) and `dones`.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

import numpy as np

from mjpod import files
from mjpod.errors import MjpodError
from mjpod.render.images import Shapes

STEM = "rollout-"


class ShardError(MjpodError):
    """A shard could not be written (a full disk, a folder gone); the shards before it stay whole."""


def sample_bytes(shapes: Shapes) -> int:
    """Bytes of one sample of every array."""
    return sum(np.dtype(dtype).itemsize * math.prod(shape) for shape, dtype in shapes.values())


# what a shard file takes beyond its arrays, an upper bound of what these writers make: NPZ a zip entry
# and an npy header per array (about 300 bytes); HDF5 (format 1.10) a group or dataset header and chunk
# index per object (about 300 bytes), several objects per world, and the file's own structure
NPZ_PER_ARRAY = 512
HDF5_PER_OBJECT = 512
HDF5_FILE = 64 * 1024
PER_CAMERA = ("rgb", "depth", "segmentation", "cam_xpos", "cam_xmat")  # arrays with a camera axis


def file_overhead(fmt: str, shapes: Shapes) -> int:
    """Bytes a shard file of `fmt` takes beyond its samples' arrays: in HDF5 it grows with the worlds
    (one demo of several datasets each), so `shard_mb` bounds the file only when the sizing counts it."""
    constants = 1  # the intrinsics
    if fmt != "hdf5":
        return NPZ_PER_ARRAY * (len(shapes) + constants)
    nworld = shapes["qpos"][0][0]
    per_camera = [name for name in PER_CAMERA if name in shapes]
    ncam = shapes[per_camera[0]][0][1] if per_camera else 0
    state = len(shapes) - len(per_camera) - 2  # qpos, qvel, sensordata as obs; time and ctrl besides
    objects = 5 + state + ncam * len(per_camera)  # demo, obs, time, actions, dones, then the obs
    return HDF5_FILE + HDF5_PER_OBJECT * (nworld * objects + constants)


def host_bytes(fmt: str, per_shard: int, per_sample: int) -> int:
    """Host memory the writer holds at most: two shard buffers, and HDF5's file while it is built."""
    buffers = 3 if fmt == "hdf5" else 2
    return buffers * per_shard * per_sample


@dataclasses.dataclass(frozen=True)
class Layout:
    """What the arrays are, for formats that name them by camera: the cameras' names, in order, and the
    arrays every shard carries whole (the cameras' intrinsics)."""

    cameras: tuple[str, ...] = ()
    constants: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


class ShardWriter:
    """Buffers samples of `shapes` and writes `per_shard` of them to each file of `fmt` in `folder`."""

    def __init__(self, folder: Path, fmt: str, shapes: Shapes, per_shard: int, layout: Layout) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.folder, self.fmt, self.shapes, self.layout = folder, fmt, shapes, layout
        self.per_shard = per_shard
        self.written: list[dict] = []  # each shard: file, first_sample, samples (in order, as submitted)
        self._buffers: list[dict[str, np.ndarray] | None] = [self._allocate(), None]
        self._writes: list[Future | None] = [None, None]
        self._current, self._filled, self._first = 0, 0, 0
        self._full: tuple[int, int, int] | None = None  # (buffer, first sample, count) awaiting the next one
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="mjpod-shards")

    def _allocate(self) -> dict[str, np.ndarray]:
        return {
            name: np.empty((self.per_shard, *shape), dtype) for name, (shape, dtype) in self.shapes.items()
        }

    def slot(self) -> dict[str, np.ndarray]:
        """The next sample's rows (views into the shard buffer), to fill before `commit()`."""
        buffer = self._buffers[self._current]
        assert buffer is not None
        return {name: rows[self._filled, ...] for name, rows in buffer.items()}  # views, 0-d ones too

    def commit(self) -> None:
        """The slot is filled; a full shard goes to the writer thread (HDF5's once the sample after it
        is in, whose ctrl is its last action)."""
        self._filled += 1
        if self._full is not None:
            self._submit(*self._full, following=self._first_ctrl(), last=False)
            self._full = None
        if self._filled == self.per_shard:
            full = (self._current, self._first, self._filled)
            self._first += self._filled
            self._current, self._filled = 1 - self._current, 0
            if self.fmt in FOLLOWED:
                self._full = full  # written when the next sample's ctrl, its last action, is in
            else:
                self._submit(*full, following=None, last=False)
            self._wait(self._current)  # the other buffer's earlier shard must be on disk before reuse
            if self._buffers[self._current] is None:
                self._buffers[self._current] = self._allocate()

    def _first_ctrl(self) -> np.ndarray:
        """The control of the current buffer's first sample: the last action of the shard before it."""
        buffer = self._buffers[self._current]
        assert buffer is not None
        return buffer["ctrl"][0].copy()

    def close(self) -> list[dict]:
        """Write what is buffered, wait for every write; returns the shards written, in order."""
        try:
            if self._full is not None:
                self._submit(*self._full, following=None, last=True)
                self._full = None
            elif self._filled:
                self._submit(self._current, self._first, self._filled, following=None, last=True)
                self._filled = 0
            for index in (0, 1):
                self._wait(index)
        finally:
            self._pool.shutdown(wait=True)
        return self.written

    def abandon(self) -> None:
        """After a failure: let the shard being written finish (files stay whole), write nothing more."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.abandon()

    def _wait(self, index: int) -> None:
        write = self._writes[index]
        if write is not None:
            write.result()  # raises the writer's error here, in the rollout's thread
            self._writes[index] = None

    def _submit(self, index: int, first: int, count: int, following: np.ndarray | None, last: bool) -> None:
        buffer = self._buffers[index]
        assert buffer is not None
        name = f"{STEM}{len(self.written):05d}{SUFFIX[self.fmt]}"
        arrays = {key: rows[:count] for key, rows in buffer.items()}
        write = WRITERS[self.fmt]
        self._writes[index] = self._pool.submit(
            _atomically,
            self.folder / name,
            lambda file: write(file, arrays, self.layout, first, following, last),
        )
        self.written.append({"file": name, "first_sample": first, "samples": count})


def _atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through a fresh temporary name renamed into place (files.replacing): a reader never sees
    half a shard, and a link planted in the folder is never written through."""
    try:
        with files.replacing(path, "wb") as file:
            write(file)
    except OSError as err:
        raise ShardError(
            f"cannot write {path} ({err.strerror or err}); the shards before it are whole: "
            "free space or choose another output folder"
        ) from None


def _write_npz(
    file: IO[bytes], arrays: dict[str, np.ndarray], layout: Layout, first: int, following: object, last: bool
) -> None:
    np.savez(file, **arrays, **layout.constants)


def hdf5_key(camera: str) -> str:
    """A camera name as an HDF5 key part: letters, digits and '_' (robomimic's obs keys)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", camera)


def hdf5_obs(name: str, camera: str) -> str:
    """The robomimic obs key of a per-camera array: `<camera>_image`, `_depth`, `_segmentation`, ..."""
    kind = {"rgb": "image"}.get(name, name.removeprefix("cam_"))
    return f"{hdf5_key(camera)}_{kind}"


def _write_hdf5(
    file: IO[bytes],
    arrays: dict[str, np.ndarray],
    layout: Layout,
    first: int,
    following: np.ndarray | None,
    last: bool,
) -> None:
    """One robomimic-layout file: data/demo_W per world (attrs num_samples, world, first_sample) with
    obs/<key>, actions (control applied after each sample: the next sample's ctrl; at the rollout's end,
    its last ctrl again) and dones (1 at the rollout's last sample); meta/ holds the cameras."""
    import h5py

    count, nworld = arrays["time"].shape[0], arrays["qpos"].shape[1]
    ctrl = arrays["ctrl"]
    actions = np.concatenate([ctrl[1:], (ctrl[-1] if following is None else following)[None]])
    dones = np.zeros(count, np.uint8)
    dones[-1] = last
    image = io.BytesIO()  # h5py writes through a seekable, readable file: built here, then copied out
    with h5py.File(image, "w", libver=("v110", "v110")) as h5:  # compact headers and chunk indexes
        data = h5.create_group("data")
        data.attrs["total"] = count * nworld
        for w in range(nworld):
            demo = data.create_group(f"demo_{w}")
            demo.attrs.update(num_samples=count, world=w, first_sample=first)
            demo["time"] = arrays["time"]
            demo["actions"] = actions[:, w]
            demo["dones"] = dones
            obs = demo.create_group("obs")
            for name, rows in arrays.items():
                if name in ("qpos", "qvel", "sensordata"):
                    obs[name] = rows[:, w]
                elif name in PER_CAMERA:
                    for c, camera in enumerate(layout.cameras):
                        frames = rows[:, w, c]
                        if name == "depth":
                            frames = frames[..., None]  # robomimic's depth: (H, W, 1)
                        chunks = (1, *frames.shape[1:]) if frames.ndim > 3 else None
                        obs.create_dataset(hdf5_obs(name, camera), data=frames, chunks=chunks)
        meta = h5.create_group("meta")
        meta.attrs["cameras"] = [hdf5_key(c) for c in layout.cameras]
        for name, value in layout.constants.items():
            meta[name] = value
    file.write(image.getbuffer())


# each format: its file suffix and the function that writes one shard (the open file, arrays, layout,
# first sample, the next sample's ctrl or None, whether it ends the rollout)
WRITERS = {"npz": _write_npz, "hdf5": _write_hdf5}
SUFFIX = {"npz": ".npz", "hdf5": ".hdf5"}
FOLLOWED = frozenset({"hdf5"})  # formats whose shard needs the next sample (HDF5's actions)
FORMATS = tuple(WRITERS)
