"""mjwarp (on Warp's cpu device) and MuJoCo C agree on the same model over many steps."""

import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig


def pair(spec: str, nworld: int, **kw):
    mjm = models.load(spec).model
    config = EngineConfig(nworld=nworld, device="cpu", **kw)
    return engines.make("mjc", mjm, config), engines.make("mjwarp", mjm, config)


def test_no_contact_trajectories_match_tightly():
    """The pendulum starts from its keyframe and swings under given torques for 2 s."""
    mjc, mjwarp = pair("pendulum", nworld=3, ctrl="hold")
    ctrl = np.array([[0.3, -0.2], [0.0, 0.0], [-0.5, 0.4]])
    mjc.set_ctrl(ctrl)
    mjwarp.set_ctrl(ctrl)
    worst = 0.0
    for _ in range(10):
        mjc.step(100)
        mjwarp.step(100)
        mjwarp.sync()
        for w in range(3):
            a, b = mjc.get_world(w), mjwarp.get_world(w)
            worst = max(worst, np.abs(a.qpos - b.qpos).max(), np.abs(a.qvel - b.qvel).max() / 10)
            assert b.time == pytest.approx(a.time, abs=1e-4)
    assert worst < 1e-4  # float32 on the Warp side over 1000 steps
    moved = mjc.get_world(0).qpos - mjc.get_world(1).qpos
    assert np.abs(moved).max() > 0.05  # the torques made the worlds differ: the check had teeth


def test_contact_comes_to_the_same_rest():
    """A dropped box settles on the floor at the same pose in both engines and stays there."""
    mjc, mjwarp = pair("box_drop", nworld=2, ctrl="zero")
    mjc.step(1500)
    mjwarp.step(1500)
    mjwarp.sync()
    a, b = mjc.get_world(1), mjwarp.get_world(1)
    assert b.ncon >= 4  # resting on a face
    assert np.abs(b.qvel).max() < 1e-3 and np.abs(a.qvel).max() < 1e-3
    assert b.qpos[2] == pytest.approx(a.qpos[2], abs=1e-3)  # resting height
    assert b.qpos[2] == pytest.approx(0.05, abs=2e-3)  # half the box size above the floor
    np.testing.assert_allclose(np.abs(b.qpos[3:]), np.abs(a.qpos[3:]), atol=1e-3)
    mjwarp.step(500)  # stable: still at rest
    mjwarp.sync()
    assert np.abs(mjwarp.get_world(0).qvel).max() < 1e-3
