"""Rollouts with cameras: every world's RGB, depth and segmentation from several cameras in the shards
(batch on Warp's cpu device, GL on Mesa), HDF5 that h5py reads back equal to the NPZ, memory that stays
flat however long the rollout, a stop that keeps whole shards, and bad input refused before any work."""

from __future__ import annotations

import dataclasses
import json
import threading
import tracemalloc

import h5py
import numpy as np
import pytest

from mjpod.engines import EngineConfig
from mjpod.errors import MjpodError
from mjpod.jobs import rollout, shards
from tests import camera_scene
from tests.jobs.test_rollout import load_all

HEIGHT, WIDTH = 48, 64  # as tests/render/test_images.py: the same kernels, compiled once


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> str:
    return str(camera_scene.write(tmp_path_factory.mktemp("scene")))


def settings(scene: str, **changes) -> rollout.RolloutSettings:
    """Two worlds pushed by their own noise, both cameras, every image kind, ray traced."""
    base = dict(
        model=scene, engine="mjwarp", engine_config=EngineConfig(nworld=2, device="cpu", seed=1),
        duration=0.1, rate=50.0, renderer="batch", cameras=("front", "top"),
        images=("rgb", "depth", "segmentation"), width=WIDTH, height=HEIGHT,
    )  # fmt: skip
    return rollout.RolloutSettings(**(base | changes))


def per_sample_mib(s: rollout.RolloutSettings) -> float:
    return shards.sample_bytes(rollout.plan(s).shapes) / 2**20


@pytest.fixture(scope="module")
def npz(tmp_path_factory, scene):
    """A batch rollout of 6 samples in 3 shards of 2."""
    folder = tmp_path_factory.mktemp("npz")
    s = settings(scene)
    rollout.rollout(dataclasses.replace(s, shard_mb=2.5 * per_sample_mib(s)), folder)
    return folder


def test_every_world_and_camera_is_in_the_shards(npz, scene):
    data = load_all(npz)
    meta = json.loads((npz / rollout.META).read_text())
    assert [s["samples"] for s in meta["shards"]] == [2, 2, 2]
    assert data["rgb"].shape == (6, 2, 2, HEIGHT, WIDTH, 3) and data["rgb"].dtype == np.uint8
    assert data["depth"].shape == (6, 2, 2, HEIGHT, WIDTH) and data["depth"].dtype == np.float32
    assert (
        data["segmentation"].shape == (6, 2, 2, HEIGHT, WIDTH, 2) and data["segmentation"].dtype == np.int32
    )
    assert data["cam_xpos"].shape == (6, 2, 2, 3) and data["cam_xmat"].shape == (6, 2, 2, 3, 3)
    # sample 0 is the initial state: the box's face 0.9 m in front of `front`, in every world
    centre = data["depth"][0, :, 0, HEIGHT // 2, WIDTH // 2]
    np.testing.assert_allclose(centre, camera_scene.BOX_DISTANCE, atol=1e-4)
    np.testing.assert_allclose(data["cam_xpos"][:, :, 0], np.broadcast_to([0, -1, 0.2], (6, 2, 3)), atol=1e-6)
    # each world's noise pushes its own box: the worlds' pictures part ways, and follow their states
    assert not np.array_equal(data["depth"][-1, 0], data["depth"][-1, 1])
    assert not np.array_equal(data["qpos"][-1, 0], data["qpos"][-1, 1])
    np.testing.assert_allclose(data["sensordata"], data["qpos"][..., :3], atol=1e-6)  # at each sample's state
    shard = np.load(npz / meta["shards"][1]["file"])  # every shard carries the intrinsics
    cams = meta["images"]["cameras"]
    assert [c["name"] for c in cams] == ["front", "top"]
    np.testing.assert_allclose(shard["intrinsics"], [c["intrinsics"] for c in cams])
    assert meta["images"]["segmentation_types"]["5"] == "geom" and meta["images"]["renderer"] == "batch"
    assert meta["arrays"]["depth"] == {"shape": ["T", 2, 2, HEIGHT, WIDTH], "dtype": "float32"}


def test_gl_gives_the_same_depth_and_labels_of_the_same_rollout(npz, scene, tmp_path):
    """GL offers depth and segmentation too: the same simulation drawn by GL matches the ray tracer."""
    rollout.rollout(settings(scene, renderer="gl"), tmp_path)
    gl, batch = load_all(tmp_path), load_all(npz)
    np.testing.assert_array_equal(gl["qpos"], batch["qpos"])  # the same simulation
    same = np.all(gl["segmentation"] == batch["segmentation"], axis=-1)
    assert same.mean() > 0.98
    np.testing.assert_allclose(gl["depth"][same], batch["depth"][same], atol=1e-3)
    assert json.loads((tmp_path / rollout.META).read_text())["images"]["renderer"] == "gl"


def test_hdf5_reads_back_equal_to_the_npz(npz, scene, tmp_path):
    """The same rollout as HDF5, read with h5py in robomimic's layout: one demo per world and shard,
    obs equal to the NPZ's arrays, actions the control applied after each sample (across shards too)."""
    s = settings(scene, format="hdf5")
    result = rollout.rollout(dataclasses.replace(s, shard_mb=2.5 * per_sample_mib(s)), tmp_path)
    assert result.shards == [f"rollout-{i:05d}.hdf5" for i in range(3)]
    data = load_all(npz)
    meta = json.loads((tmp_path / rollout.META).read_text())
    assert meta["shard_format"] == "hdf5" and [s["samples"] for s in meta["shards"]] == [2, 2, 2]
    nsample = data["time"].shape[0]
    for shard in meta["shards"]:
        rows = slice(shard["first_sample"], shard["first_sample"] + shard["samples"])
        with h5py.File(tmp_path / shard["file"], "r") as f:
            assert sorted(f["data"]) == ["demo_0", "demo_1"] and f["data"].attrs["total"] == 4
            np.testing.assert_array_equal(
                f["meta/intrinsics"][()], np.load(npz / "rollout-00000.npz")["intrinsics"]
            )
            for w in range(2):
                demo = f[f"data/demo_{w}"]
                assert demo.attrs["num_samples"] == 2 and demo.attrs["world"] == w
                assert demo.attrs["first_sample"] == shard["first_sample"]
                obs = demo["obs"]
                np.testing.assert_array_equal(demo["time"][()], data["time"][rows])
                for key in ("qpos", "qvel", "sensordata"):
                    np.testing.assert_array_equal(obs[key][()], data[key][rows, w])
                for c, cam in enumerate(("front", "top")):
                    np.testing.assert_array_equal(obs[f"{cam}_image"][()], data["rgb"][rows, w, c])
                    np.testing.assert_array_equal(obs[f"{cam}_depth"][()][..., 0], data["depth"][rows, w, c])
                    np.testing.assert_array_equal(
                        obs[f"{cam}_segmentation"][()], data["segmentation"][rows, w, c]
                    )
                    np.testing.assert_array_equal(obs[f"{cam}_xpos"][()], data["cam_xpos"][rows, w, c])
                    np.testing.assert_array_equal(obs[f"{cam}_xmat"][()], data["cam_xmat"][rows, w, c])
                following = np.arange(rows.start, rows.stop) + 1  # the next sample's ctrl; the last repeats
                np.testing.assert_array_equal(
                    demo["actions"][()], data["ctrl"][np.minimum(following, nsample - 1), w]
                )
                np.testing.assert_array_equal(demo["dones"][()], following == nsample)
    assert np.abs(data["ctrl"]).max() > 0  # the actions compared are not all zero


def test_memory_stays_flat_however_long_the_rollout(tmp_path):
    """Shards are written as they fill, from two buffers: a rollout four times longer peaks no higher."""

    def peak(duration: float) -> tuple[int, int]:
        folder = tmp_path / f"d{duration}"
        folder.mkdir()
        s = rollout.RolloutSettings(
            model="pendulum", engine_config=EngineConfig(nworld=2), duration=duration, rate=50.0,
            images=("rgb", "depth", "segmentation"), width=64, height=64, shard_mb=0.3,
        )  # fmt: skip
        tracemalloc.start()
        try:
            result = rollout.rollout(s, folder)
            return tracemalloc.get_traced_memory()[1], len(result.shards)
        finally:
            tracemalloc.stop()

    peak(0.1)  # what the first rollout in a process allocates once (GL, caches) is not the rollout's
    short, short_shards = peak(0.4)  # 21 samples of 2 worlds, 123 KiB each: 11 shards
    long, long_shards = peak(1.6)  # 81 samples, 41 shards, 10 MiB in all
    assert long < short * 1.1  # the same memory...
    assert long_shards >= 4 * short_shards - 3  # ...for four times the shards


def test_a_stop_keeps_whole_shards_and_says_so(scene, tmp_path):
    stop = threading.Event()
    s = settings(scene, format="hdf5", duration=0.2)
    s = dataclasses.replace(s, shard_mb=1.5 * per_sample_mib(s))
    result = rollout.rollout(s, tmp_path, stop, lambda done, total: done == 3 and stop.set())
    assert result.interrupted and result.samples == 3 and len(result.shards) == 3
    meta = json.loads((tmp_path / rollout.META).read_text())
    assert meta["interrupted"] and meta["samples"] == 3 and meta["samples_planned"] == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([rollout.META, *result.shards])  # no partials
    with h5py.File(tmp_path / result.shards[-1], "r") as f:  # the last shard ends the episode
        assert f["data/demo_0/dones"][()].tolist() == [1]


REFUSED = [
    (dict(cameras=("front", "nope")), "cameras: no camera 'nope'", "front, top"),
    (dict(cameras=("top", "top")), "cameras lists top more than once", "once"),
    (dict(engine="mjc"), "renderer = batch", "set engine to mjwarp or comfree, or renderer to gl"),
    (dict(images=("rgb", "normals")), "images ['rgb', 'normals']", "rgb, depth, segmentation"),
    (dict(images=()), "cameras are chosen but no images", "set images"),
    (dict(format="zarr"), "format must be one of npz, hdf5", "got 'zarr'"),
    (dict(engine_config=EngineConfig(nworld=10**6, device="cpu"), width=1024, height=1024), "GiB on the host",
     "sample fewer worlds, cameras or pixels"),
    (dict(shard_mb=0.01), "more than shard_mb", "raise shard_mb to at least 1"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "problem", "fix"), REFUSED, ids=[r[1] for r in REFUSED])
def test_bad_input_is_refused_before_any_work(scene, tmp_path, changes, problem, fix):
    with pytest.raises(MjpodError) as err:
        rollout.rollout(settings(scene, **changes), tmp_path)
    assert problem in str(err.value) and fix in str(err.value), str(err.value)
    assert list(tmp_path.iterdir()) == []
