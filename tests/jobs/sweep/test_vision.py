"""examples/sweeps/vision.toml (docs/sweep.md's vision dataset over seeds and gains), run as written
(fewer worlds, samples, pixels and grid values, on Warp's cpu device), its HDF5 read back with h5py,
and the docs' back-projection snippet run on a rollout's NPZ."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import h5py
import numpy as np

from mjpod.jobs.sweep import grid, runner, spec
from mjpod.jobs.sweep.store import Store

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "sweep.md"
VISION = ROOT / "examples" / "sweeps" / "vision.toml"


def doc_block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    return next(b for b in blocks if containing in b)


def test_the_vision_example_writes_hdf5_datasets_per_seed_and_gain(tmp_path):
    data = tomllib.loads(VISION.read_text())
    assert len(grid.expand(spec.parse(data, "vision.toml"))) == 9  # as the docs say
    data["grid"] = {k: v[:2] for k, v in data["grid"].items()}  # 2 gains x 2 seeds
    data["settings"] |= {"nworld": 2, "duration": 0.04, "width": 24, "height": 16, "device": "cpu"}
    jobs = grid.expand(spec.parse(data, "vision.toml"))
    assert len(jobs) == 4
    outcome = runner.run(jobs, Store(tmp_path), runner.LoopBackend(), runner.Events())
    assert [r["status"] for r in outcome.records] == ["done"] * 4, [r.get("error") for r in outcome.records]
    gains = set()
    for record in outcome.records:
        folder = tmp_path / "jobs" / record["id"]
        meta = json.loads((folder / "rollout.json").read_text())
        assert meta["images"]["renderer"] == "batch" and meta["shard_format"] == "hdf5"
        gains.add((meta["comfree_gains"][0][0], meta["seed"]))
        assert record["figures"]["world_samples_per_s"] > 0
        with h5py.File(folder / meta["shards"][0]["file"], "r") as f:
            assert f["data/demo_1/obs/overview_image"].shape == (2, 16, 24, 3)
            assert f["data/demo_1/obs/overview_depth"].shape == (2, 16, 24, 1)
            assert f["data/demo_1/obs/overview_segmentation"].dtype == np.int32
            assert f["meta"].attrs["cameras"].tolist() == ["overview"]
            assert f["data/demo_0/obs/overview_depth"][()].max() > 0  # the bin seen, not an empty frame
    assert gains == {(k, s) for k in (0.1, 0.2) for s in (0, 1)}


def test_the_docs_back_projection_puts_depth_on_the_scene(tmp_path):
    """The snippet as printed, on a rollout of the camera scene: the box's face lands at y = -0.1."""
    from mjpod.engines import EngineConfig
    from mjpod.jobs import rollout
    from tests import camera_scene

    settings = rollout.RolloutSettings(
        model=str(camera_scene.write(tmp_path)), engine_config=EngineConfig(ctrl="zero"), duration=0.02,
        images=("depth", "segmentation"), width=64, height=48,
    )  # fmt: skip
    folder = tmp_path / "out"
    folder.mkdir()
    rollout.rollout(settings, folder)
    snippet = doc_block("python", "in_camera @").replace("OUT/jobs/<id>", str(folder))
    scope: dict = {}
    exec(snippet, scope)  # the project's own docs: nothing from outside runs here
    points = scope["points"]
    seg = np.load(folder / "rollout-00000.npz")["segmentation"][0, 0, 0]
    on_box = seg[scope["depth"] > 0][:, 0] == 1  # geom 1 is the box
    assert on_box.sum() > 60
    np.testing.assert_allclose(points[on_box][:, 1], -0.1, atol=2e-3)
    assert np.all(points[~on_box][:, 2] < 1e-3)  # everything else hit is the floor, z = 0
