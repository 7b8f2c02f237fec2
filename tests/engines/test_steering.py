"""One world steered from outside (the browser view's --web-control), in every engine: held controls,
applied forces and a reset touch that world and no other."""

import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig

CASES = [  # engine, nworld: mjc with one world steps one MjData, with several it rolls out in threads
    ("mjc", 1),
    ("mjc", 3),
    ("mjwarp", 3),
    ("comfree", 3),
]


@pytest.fixture(scope="module")
def pendulum():
    return models.load("pendulum").model


def make(name: str, nworld: int, pendulum, ctrl: str = "noise"):
    return engines.make(name, pendulum, EngineConfig(nworld=nworld, device="cpu", ctrl=ctrl, noise_std=0.5))


@pytest.mark.parametrize(("name", "nworld"), CASES)
def test_held_controls_stay_while_the_other_worlds_draw_noise(pendulum, name, nworld):
    engine = make(name, nworld, pendulum)
    w = nworld - 1
    engine.hold_ctrl(w, np.array([0.25, -0.5]))
    engine.step(60)
    np.testing.assert_allclose(engine.get_world(w).ctrl, [0.25, -0.5], atol=1e-6)
    if nworld > 1:
        assert np.abs(engine.get_world(0).ctrl - [0.25, -0.5]).max() > 1e-3, "the other worlds were held too"
    engine.reset_world(w)  # a reset ends the hold: noise again
    engine.step(60)
    assert np.abs(engine.get_world(w).ctrl - [0.25, -0.5]).max() > 1e-3
    engine.close()


@pytest.mark.parametrize(("name", "nworld"), CASES)
def test_held_controls_survive_zero_control_mode(pendulum, name, nworld):
    engine = make(name, nworld, pendulum, ctrl="zero")
    engine.hold_ctrl(0, np.array([1.0, 1.0]))
    engine.step(20)
    np.testing.assert_allclose(engine.get_world(0).ctrl, [1.0, 1.0])
    if nworld > 1:
        assert not engine.get_world(1).ctrl.any()
    engine.close()


@pytest.mark.parametrize(("name", "nworld"), CASES)
def test_a_force_moves_its_world_only_and_a_reset_ends_it(pendulum, name, nworld):
    free = make(name, nworld, pendulum, ctrl="zero")
    free.step(100)
    engine = make(name, nworld, pendulum, ctrl="zero")
    w = nworld - 1
    xfrc = np.zeros((pendulum.nbody, 6))
    xfrc[pendulum.body("lower").id, 0] = 30.0  # a push along x on the lower link
    engine.apply_force(w, xfrc)
    engine.step(100)
    pushed = engine.get_world(w)
    np.testing.assert_allclose(pushed.xfrc_applied, xfrc)
    assert np.abs(pushed.qpos - free.get_world(w).qpos).max() > 0.05, "the force did not move the pendulum"
    if nworld > 1:
        np.testing.assert_allclose(engine.get_world(0).qpos, free.get_world(0).qpos, atol=1e-5)
    engine.reset_world(w)
    assert not engine.get_world(w).xfrc_applied.any()
    engine.step(100)
    np.testing.assert_allclose(engine.get_world(w).qpos, free.get_world(w).qpos, atol=1e-5)
    free.close()
    engine.close()


@pytest.mark.parametrize(("name", "nworld"), CASES)
def test_reset_world_restarts_that_world_alone(pendulum, name, nworld):
    engine = make(name, nworld, pendulum)
    engine.step(100)
    w = nworld - 1
    before = [engine.get_world(i).time for i in range(nworld)]
    engine.reset_world(w)
    reset = engine.get_world(w)
    assert reset.time == 0.0
    np.testing.assert_allclose(reset.qpos, pendulum.key_qpos[0], atol=1e-6)
    for i in range(nworld - 1):
        assert engine.get_world(i).time == pytest.approx(before[i])
    engine.close()


def test_bad_steering_is_refused_clearly(pendulum):
    engine = make("mjc", 2, pendulum)
    with pytest.raises(IndexError, match="2 world"):
        engine.reset_world(2)
    with pytest.raises(ValueError, match=r"ctrl must be finite with shape \(2,\)"):
        engine.hold_ctrl(0, np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"xfrc must be finite with shape \(3, 6\)"):
        engine.apply_force(0, np.zeros(6))
    engine.close()
