"""The MuJoCo C engine: many worlds through rollout threads behave like one mj_step loop each."""

import mujoco
import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig


@pytest.fixture(scope="module")
def pendulum():
    return models.load("pendulum").model


def test_rollout_worlds_equal_a_plain_mj_step_loop(pendulum):
    engine = engines.make("mjc", pendulum, EngineConfig(nworld=4, ctrl="hold", nthread=2))
    ctrl = np.linspace(-1, 1, 8).reshape(4, 2)
    engine.set_ctrl(ctrl)
    engine.step(150)
    engine.step(150)
    for w in range(4):
        mjd = mujoco.MjData(pendulum)
        mujoco.mj_resetDataKeyframe(pendulum, mjd, 0)
        mjd.ctrl[:] = ctrl[w]
        for _ in range(300):
            mujoco.mj_step(pendulum, mjd)
        got = engine.get_world(w)
        np.testing.assert_allclose(got.qpos, mjd.qpos, atol=1e-9)
        assert got.time == pytest.approx(mjd.time)
    engine.close()


def test_noise_controls_stay_in_range_and_differ_per_world(pendulum):
    engine = engines.make("mjc", pendulum, EngineConfig(nworld=3, ctrl="noise", noise_std=0.5))
    engine.step(200)
    ctrls = np.array([engine.get_world(w).ctrl for w in range(3)])
    assert np.all(np.abs(ctrls) <= 1.0)  # ctrlrange is [-1, 1]
    assert np.abs(ctrls[0] - ctrls[1]).max() > 1e-3
    engine.close()


def test_zero_controls_and_reset_to_keyframe(pendulum):
    engine = engines.make("mjc", pendulum, EngineConfig(ctrl="zero"))
    start = engine.get_world(0).qpos.copy()
    np.testing.assert_allclose(start, pendulum.key_qpos[0])
    engine.step(50)
    assert np.abs(engine.get_world(0).qpos - start).max() > 1e-3
    assert not engine.get_world(0).ctrl.any()
    engine.reset()
    np.testing.assert_allclose(engine.get_world(0).qpos, start)


def test_bad_arguments_are_clear(pendulum):
    engine = engines.make("mjc", pendulum, EngineConfig(nworld=2, ctrl="hold"))
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(2, 2\)"):
        engine.set_ctrl(np.zeros(3))
    with pytest.raises(IndexError, match="2 world"):
        engine.get_world(2)
    with pytest.raises(ValueError, match="unknown engine 'mjx'"):
        engines.make("mjx", pendulum)
    with pytest.raises(ValueError, match="nworld must be at least 1"):
        EngineConfig(nworld=0)
    engine.close()
