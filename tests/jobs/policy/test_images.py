"""A policy in a rollout that draws camera images sees them too: every world's picture at the state it
is asked at, the very pictures the rollout saves for the sample taken at that step (drawn once)."""

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
        np.save(f"{folder}/seen-{{self.k}}.npy", obs["frames"])
        self.k += 1
        return np.zeros((len(obs["qpos"]), 2))
"""


def test_the_policy_sees_the_frames_the_rollout_saves(tmp_path):
    (tmp_path / "seeing.py").write_text(SEEING.format(folder=tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=2, ctrl="hold"), duration=0.1, rate=50.0,
        frames=True, width=48, height=48, policy=f"{tmp_path}/seeing.py:Seeing", policy_hz=50.0,
    )  # fmt: skip
    rollout.rollout(settings, out)
    meta = json.loads((out / rollout.META).read_text())
    saved = np.load(out / meta["shards"][0]["file"])["frames"]  # (6, 2, 48, 48, 3): samples at 0..100 ms
    seen = [np.load(tmp_path / f"seen-{k}.npy") for k in range(5)]  # calls at 0..80 ms, before each step
    assert meta["policy"]["calls"] == 5 and saved.shape == (6, 2, 48, 48, 3)
    for k, frames in enumerate(seen):
        np.testing.assert_array_equal(frames, saved[k])
    assert not np.array_equal(saved[0], saved[-1])  # the pendulum moved between them
