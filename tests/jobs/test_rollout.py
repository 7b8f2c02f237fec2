"""Rollout shards: what they hold is the simulation (checked against MuJoCo stepped directly), in
plain NPZ arrays that numpy reads without mjpod or pickle, split into shards as they fill."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

from mjpod.engines import EngineConfig
from mjpod.errors import SettingError
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


def test_rollout_is_the_simulation_in_plain_arrays(tmp_path):
    model = tmp_path / "sensored.xml"
    model.write_text(SENSORED)
    settings = rollout.RolloutSettings(
        model=str(model), engine_config=EngineConfig(nworld=3, ctrl="zero"), duration=0.2, rate=50.0
    )
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


def test_frames_and_shards(tmp_path):
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=2, ctrl="zero"), duration=0.1, rate=50.0,
        frames=True, width=32, height=32, camera="front", shard_mb=2 * 32 * 32 * 3 * 2.5 / 2**20,
    )  # fmt: skip
    result = rollout.rollout(settings, tmp_path)
    assert result.shards == [
        "rollout-00000.npz",
        "rollout-00001.npz",
        "rollout-00002.npz",
    ]  # 2 + 2 + 2 samples
    data = load_all(tmp_path)
    assert data["frames"].shape == (6, 2, 32, 32, 3) and data["frames"].dtype == np.uint8
    assert data["frames"].std() > 0  # a picture, not a blank buffer
    np.testing.assert_array_equal(data["frames"][:, 0], data["frames"][:, 1])  # same state, same picture
    meta = json.loads((tmp_path / rollout.META).read_text())
    assert [s["first_sample"] for s in meta["shards"]] == [0, 2, 4]


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
    assert victim.read_text() == "precious"
    assert load_all(out)["qpos"].shape[0] == settings.samples


def test_one_sample_larger_than_a_shard_is_refused_before_simulating(tmp_path):
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=4), frames=True, width=512, height=512, shard_mb=1
    )
    with pytest.raises(SettingError, match=r"one sample of every world is 3\.0 MiB, more than shard_mb = 1"):
        rollout.rollout(settings, tmp_path)
    assert not list(tmp_path.iterdir())
