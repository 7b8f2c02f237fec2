"""A policy in a rollout that draws camera images sees them too: every world's images and camera poses
at the state it is asked at, under the names the shards use, the very arrays the rollout saves for the
sample taken at that step (drawn once for both)."""

from __future__ import annotations

import json

import numpy as np

from mjpod.engines import EngineConfig
from mjpod.jobs import rollout

SEEING = """
import numpy as np

class Seeing:
    def __init__(self):
        self.k = 0

    def __call__(self, obs):
        np.savez(f"{folder}/seen-{{self.k}}.npz", **{{k: np.asarray(v) for k, v in obs.items()}})
        self.k += 1
        return np.zeros((len(obs["qpos"]), 2))
"""
SEEN = ("qpos", "qvel", "sensordata", "rgb", "depth", "cam_xpos", "cam_xmat")


def test_the_policy_sees_the_observation_the_rollout_saves(tmp_path):
    (tmp_path / "seeing.py").write_text(SEEING.format(folder=tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=2, ctrl="hold"), duration=0.1, rate=50.0,
        images=("rgb", "depth"), width=48, height=48, policy=f"{tmp_path}/seeing.py:Seeing", policy_hz=50.0,
    )  # fmt: skip
    rollout.rollout(settings, out)
    meta = json.loads((out / rollout.META).read_text())
    saved = np.load(out / meta["shards"][0]["file"])  # samples at 0..100 ms
    assert meta["policy"]["calls"] == 5 and saved["rgb"].shape == (6, 2, 1, 48, 48, 3)
    for k in range(5):  # calls at 0..80 ms, before each step: the state of sample k
        seen = np.load(tmp_path / f"seen-{k}.npz")
        for name in SEEN:
            np.testing.assert_array_equal(seen[name].astype(saved[name].dtype), saved[name][k], err_msg=name)
        np.testing.assert_allclose(seen["time"], saved["time"][k])
    assert not np.array_equal(saved["rgb"][0], saved["rgb"][-1])  # the pendulum moved between them
