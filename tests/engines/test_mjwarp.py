"""The mujoco_warp engine on Warp's cpu device: controls, reset, device choice, overflow reporting."""

import mujoco
import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig


@pytest.fixture(scope="module")
def pendulum():
    return models.load("pendulum").model


def test_noise_controls_move_every_world_within_range(pendulum):
    engine = engines.make(
        "mjwarp", pendulum, EngineConfig(nworld=4, device="cpu", ctrl="noise", noise_std=0.5)
    )
    engine.step(100)
    ctrls = np.array([engine.get_world(w).ctrl for w in range(4)])
    assert np.all(np.abs(ctrls) <= 1.0)
    assert len({tuple(np.round(c, 6)) for c in ctrls}) == 4  # each world draws its own noise
    assert engine.device == "cpu" and not engine.uses_cuda_graph


def test_reset_returns_to_the_keyframe(pendulum):
    engine = engines.make("mjwarp", pendulum, EngineConfig(nworld=2, device="cpu", ctrl="zero"))
    engine.step(100)
    assert abs(engine.get_world(1).qpos[0] - pendulum.key_qpos[0][0]) > 1e-3
    engine.reset()
    np.testing.assert_allclose(engine.get_world(1).qpos, pendulum.key_qpos[0], atol=1e-6)
    assert engine.get_world(1).time == 0.0


def test_warp_device_env_is_honoured(pendulum, monkeypatch, has_cuda):
    """WARP_DEVICE must reach Warp: values whose effect shows on a CPU box (cpu is the default here anyway)."""
    monkeypatch.setenv("WARP_DEVICE", "tpu:7")
    with pytest.raises(RuntimeError, match=r"unknown Warp device 'tpu:7'.*available: cpu"):
        engines.make("mjwarp", pendulum, EngineConfig())
    if not has_cuda:
        monkeypatch.setenv("WARP_DEVICE", "cuda:0")
        with pytest.raises(RuntimeError, match=r"'cuda:0' requested but no CUDA device is available"):
            engines.make("mjwarp", pendulum, EngineConfig())
    engine = engines.make("mjwarp", pendulum, EngineConfig(device="cpu"))  # --device wins over the env
    assert engine.device == "cpu"


def test_cuda_requested_without_a_gpu_says_so(pendulum, has_cuda):
    if has_cuda:
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match=r"no CUDA device is available.*--device cpu"):
        engines.make("mjwarp", pendulum, EngineConfig(device="cuda:0"))


def test_too_small_contact_buffers_are_reported():
    mjm = models.load("bin").model
    engine = engines.make(
        "mjwarp", mjm, EngineConfig(nworld=1, device="cpu", ctrl="zero", nconmax=4, njmax=16)
    )
    engine.step(120)  # the bodies land and need far more than 4 contacts
    message = engine.overflow()
    assert message is not None and "--nconmax" in message


def test_buffers_are_sized_from_a_probe_so_a_pile_does_not_overflow():
    from mjpod.engines import buffers

    mjm = models.load("bin").model
    peak_con, peak_efc = buffers.probe(mjm, keyframe=0)
    assert peak_con > 48  # more than mujoco_warp's own guess for this model: the probe matters
    engine = engines.make("mjwarp", mjm, EngineConfig(nworld=1, device="cpu", ctrl="zero"))
    assert engine.nconmax >= peak_con and engine.njmax >= peak_efc
    engine.step(400)  # 1.6 s: the pile has formed
    assert engine.overflow() is None
    assert engine.get_world(0).ncon > 48


def test_a_scene_without_joints_hands_back_its_world():
    """`mjpod record -e mjwarp` of a static scene (nq = nv = 0) draws it instead of failing to copy qpos."""
    mjm = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><geom size=".1" pos="0 0 .3"/></worldbody></mujoco>'
    )
    with engines.make("mjwarp", mjm, EngineConfig(nworld=2, device="cpu")) as engine:
        engine.step(2)
        mjd = engine.get_world(1)
    assert mjd.time == pytest.approx(2 * mjm.opt.timestep)
    assert mjd.geom_xpos[0][2] == pytest.approx(0.3)
