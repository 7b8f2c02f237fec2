"""A policy in a rollout that draws camera images sees them too: every world's images and camera poses
at the state it is asked at, under the names the shards use, the very arrays the rollout saves for the
sample taken at that step (drawn once for both); a policy that reads no image costs no drawing."""

from __future__ import annotations

import json

import numpy as np

from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.jobs import policy as policies
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


STATE_ONLY = """
import numpy as np

def state_only(obs):
    return -0.3 * obs["qvel"]

def looks(obs):
    return np.full((len(obs["qpos"]), 2), float(obs["rgb"].mean()))
"""


def test_images_are_drawn_only_when_the_policy_reads_them_once_per_state(tmp_path):
    (tmp_path / "pol.py").write_text(STATE_ONLY)
    mjm = models.load("pendulum").model
    drawn = []

    def draw():
        drawn.append(1)
        return {"rgb": np.full((2, 1, 4, 4, 3), len(drawn), np.uint8), "cam_xpos": np.zeros((2, 1, 3))}

    def run(name):
        drawn.clear()
        policy = policies.load(f"{tmp_path}/pol.py:{name}", mjm, 2)
        engine = make("mjc", mjm, policies.engine_config(EngineConfig(nworld=2, ctrl="hold")))
        with policies.drive(engine, policy) as driven:
            shared = driven.observe_also(("rgb", "cam_xpos"), draw)
            assert shared()["rgb"][0, 0, 0, 0, 0] == 1  # a sample at the first state ...
            driven.step(5)  # ... then five calls, the first at that same state
            return driven.observation(), len(drawn)

    obs, draws = run("state_only")
    assert draws == 1 and set(obs) == {"qpos", "qvel", "ctrl", "sensordata", "time", "rgb", "cam_xpos"}
    obs, draws = run("looks")
    assert draws == 5  # the sample's drawing shared with the first call, one more for each other call
