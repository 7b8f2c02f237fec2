"""`--ctrl noise` as the README promises it: an Ornstein-Uhlenbeck process around the keyframe's ctrl,
with mjwarp-testspeed's coefficients, in every engine."""

import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig

CENTER = np.array([0.5, -0.3])  # the keyframe's ctrl; the ctrlrange middle is 0, so the two differ
STD, RATE = 0.2, 0.1  # fraction of the half range; seconds


@pytest.fixture(scope="module")
def pendulum_with_key_ctrl():
    mjm = models.load("pendulum").model  # the same structure as the bundled scene: no new Warp kernels
    mjm.key_ctrl[0] = CENTER
    return mjm


@pytest.mark.parametrize("name", ["mjc", "mjwarp"])
def test_noise_is_an_ou_process_around_the_keyframe_ctrl(pendulum_with_key_ctrl, name):
    mjm = pendulum_with_key_ctrl
    config = EngineConfig(nworld=64, device="cpu", ctrl="noise", noise_std=STD, noise_rate=RATE)
    with engines.make(name, mjm, config) as engine:
        engine.step(150)  # 0.3 s, three time constants: the spread is the stationary one
        trace = []
        for _ in range(100):
            engine.step(1)
            trace.append(engine.get_world(0).ctrl.copy())
        across = np.array([engine.get_world(w).ctrl for w in range(64)])
    # Stationary spread of the discrete OU step c' = a c + (1 - a) center + s (2u - 1), u uniform,
    # s = STD sqrt(1 - a^2): STD / sqrt(3) of the half range (1 here) whatever the timestep.
    spread = STD / np.sqrt(3)
    np.testing.assert_allclose(across.mean(axis=0), CENTER, atol=4 * spread / 8)  # 4 sigma of a 64-mean
    assert np.all((0.7 * spread < across.std(axis=0)) & (across.std(axis=0) < 1.35 * spread)), across.std(0)
    trace = np.array(trace)
    lag1 = [np.corrcoef(trace[:-1, i], trace[1:, i])[0, 1] for i in range(2)]
    assert min(lag1) > 0.8, lag1  # decay exp(-h / rate) = 0.98 a step: correlated, not white noise
