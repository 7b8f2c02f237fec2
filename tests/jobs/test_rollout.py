"""Rollout shards: what they hold is the simulation (checked against MuJoCo stepped directly), in
plain NPZ arrays that numpy reads without mjpod or pickle, split into shards as they fill."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

from mjpod.engines import EngineConfig
from mjpod.errors import MjpodError, SettingError
from mjpod.jobs import rollout

SENSORED = """<mujoco model="sensored">
  <option timestep="0.002"/>
  <worldbody>
    <camera name="side" pos="0 -2 0" xyaxes="1 0 0 0 0 1"/>
    <body><joint name="hinge" type="hinge" axis="0 1 0" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0 0 -.5" size=".04"/></body>
  </worldbody>
  <actuator><motor name="torque" joint="hinge" ctrlrange="-1 1"/></actuator>
  <sensor><jointpos name="angle" joint="hinge"/><jointvel name="speed" joint="hinge"/></sensor>
  <keyframe><key qpos="0.8"/></keyframe>
</mujoco>
"""


def load_all(folder) -> dict[str, np.ndarray]:
    meta = json.loads((folder / rollout.META).read_text())
    parts = [np.load(folder / s["file"]) for s in meta["shards"]]  # allow_pickle stays off
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0].files}


@pytest.mark.parametrize("engine", ["mjc", "mjwarp"])
def test_rollout_is_the_simulation_in_plain_arrays(tmp_path, engine):
    """mjc copies world by world; mjwarp copies each array once for all worlds, its sensors computed on
    the device at the sample's state: both are MuJoCo's simulation."""
    model = tmp_path / "sensored.xml"
    model.write_text(SENSORED)
    settings = rollout.RolloutSettings(
        model=str(model), engine=engine, engine_config=EngineConfig(nworld=3, ctrl="zero", device="cpu"),
        duration=0.2, rate=50.0,
    )  # fmt: skip
    result = rollout.rollout(settings, tmp_path)
    data = load_all(tmp_path)
    assert result.samples == 11 and data["qpos"].shape == (11, 3, 1) and data["qpos"].dtype == np.float32
    assert data["sensordata"].shape == (11, 3, 2) and data["ctrl"].shape == (11, 3, 1)
    np.testing.assert_allclose(data["time"], np.arange(11) * 0.02, atol=1e-12)

    mjm = mujoco.MjModel.from_xml_path(str(model))  # the same simulation by hand: 10 steps per sample
    mjd = mujoco.MjData(mjm)
    mujoco.mj_resetDataKeyframe(mjm, mjd, 0)
    expected = []
    for k in range(11):
        if k:
            mujoco.mj_step(mjm, mjd, 10)
        mujoco.mj_forward(mjm, mjd)
        expected.append((mjd.qpos.copy(), mjd.qvel.copy(), mjd.sensordata.copy()))
    for w in range(3):  # zero controls: every world is that simulation
        np.testing.assert_allclose(data["qpos"][:, w], [e[0] for e in expected], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(data["qvel"][:, w], [e[1] for e in expected], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(data["sensordata"][:, w], [e[2] for e in expected], rtol=1e-5, atol=1e-6)
    meta = json.loads((tmp_path / rollout.META).read_text())
    assert (
        meta["joints"] == ["hinge"]
        and meta["actuators"] == ["torque"]
        and meta["sensors"] == ["angle", "speed"]
    )
    assert meta["arrays"]["qpos"] == {"shape": ["T", 3, 1], "dtype": "float32"}


def test_noise_controls_differ_per_world_and_are_recorded(tmp_path):
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=2, seed=3), duration=0.2, rate=25.0, sensors=False
    )
    rollout.rollout(settings, tmp_path)
    data = load_all(tmp_path)
    assert "sensordata" not in data
    assert not np.allclose(data["ctrl"][1:, 0], data["ctrl"][1:, 1])  # worlds draw their own noise
    assert np.abs(data["ctrl"]).max() <= 1.0  # within the ctrlrange


def test_images_and_shards(tmp_path):
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=2, ctrl="zero"), duration=0.1, rate=50.0,
        images=("rgb",), width=64, height=64, cameras=("front",), shard_mb=2 * 64 * 64 * 3 * 2.5 / 2**20,
    )  # fmt: skip
    result = rollout.rollout(settings, tmp_path)
    assert result.shards == [
        "rollout-00000.npz",
        "rollout-00001.npz",
        "rollout-00002.npz",
    ]  # 2 + 2 + 2 samples
    data = load_all(tmp_path)
    assert data["rgb"].shape == (6, 2, 1, 64, 64, 3) and data["rgb"].dtype == np.uint8
    assert data["rgb"].std() > 0  # a picture, not a blank buffer
    np.testing.assert_array_equal(data["rgb"][:, 0], data["rgb"][:, 1])  # same state, same picture
    meta = json.loads((tmp_path / rollout.META).read_text())
    assert [s["first_sample"] for s in meta["shards"]] == [0, 2, 4]
    assert [c["name"] for c in meta["images"]["cameras"]] == ["front"]


@pytest.mark.parametrize("fmt", ["npz", "hdf5"])
def test_every_shard_file_is_at_most_shard_mb(tmp_path, fmt):
    """A shard's size counts its file's own structure (HDF5's grows with the worlds: a demo of several
    datasets each), so no file is larger than shard_mb, and shards are filled, not cut to a sample."""
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=16, ctrl="zero"), duration=0.3, rate=50.0,
        images=("rgb",), width=32, height=32, format=fmt, shard_mb=0.5,
    )  # fmt: skip
    result = rollout.rollout(settings, tmp_path)
    sizes = [(tmp_path / name).stat().st_size for name in result.shards]
    assert len(sizes) >= 2 and max(sizes) <= settings.shard_mb * 2**20, sizes
    assert sizes[0] > 0.6 * settings.shard_mb * 2**20, sizes


def test_output_goes_to_the_workspace_and_an_earlier_rollout_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MJPOD_WORKSPACE", str(tmp_path))
    folder = rollout.default_output("franka_emika_panda/mjx_scene", "mjwarp")
    assert folder.parent == tmp_path / "rollouts" and folder.name.startswith(
        "franka_emika_panda-mjx_scene-mjwarp-"
    )
    assert rollout.output_folder(folder).is_dir()
    (folder / "rollout-00000.npz").write_bytes(b"earlier")
    with pytest.raises(
        MjpodError, match=r"already holds a rollout \(rollout-00000\.npz\): choose another --out"
    ):
        rollout.output_folder(folder)
    assert (folder / "rollout-00000.npz").read_bytes() == b"earlier"


def test_links_planted_at_the_shard_names_are_replaced_not_followed(tmp_path):
    """Shards and rollout.json replace whatever holds their names in one step, never writing through
    a link planted there (a shared output folder)."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("rollout-00000.npz", rollout.META):
        (out / name).symlink_to(victim)
    settings = rollout.RolloutSettings(model="pendulum", duration=0.1)
    rollout.rollout(settings, out)
    assert victim.read_bytes() == b"precious"  # not written through
    assert load_all(out)["qpos"].shape[0] == settings.samples


def test_one_sample_larger_than_a_shard_is_refused_before_simulating(tmp_path):
    settings = rollout.RolloutSettings(
        model="pendulum",
        engine_config=EngineConfig(nworld=4),
        images=("rgb",),
        width=512,
        height=512,
        shard_mb=1,
    )
    with pytest.raises(
        SettingError,
        match=r"one sample of every world is 3\.0 MiB as npz \(its arrays 3\.0 MiB\), more than shard_mb = 1: "
        "raise shard_mb to at least 4",
    ):
        rollout.rollout(settings, tmp_path)
    assert not list(tmp_path.iterdir())
