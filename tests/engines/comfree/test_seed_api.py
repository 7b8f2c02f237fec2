"""The seed-shaped module API: a seed script ports by swapping its mujoco_warp import for this one."""

import mujoco
import numpy as np
import pytest
import warp as wp

import mjpod.comfree_warp as mjwarp  # the seed's own alias: the point of this module
from mjpod import models
from mjpod.engines import warp_setup


@pytest.fixture(scope="module")
def box():
    return models.load("box_drop").model


def test_a_seed_style_loop_runs_and_copies_a_world_back(box):
    warp_setup.init()
    mjd = mujoco.MjData(box)
    mujoco.mj_forward(box, mjd)
    with wp.ScopedDevice("cpu"):
        m = mjwarp.put_model(box, comfree_stiffness=[0.1, 0.4], comfree_damping=0.001)
        d = mjwarp.put_data(box, mjd, nworld=4, nconmax=64, njmax=256)
        for _ in range(300):
            mjwarp.step(m, d)
        out = mujoco.MjData(box)
        mjwarp.get_data_into(out, box, d, world_id=1)
        assert out.time == pytest.approx(300 * box.opt.timestep, rel=1e-5)  # float32 time
        assert out.qpos[2] < 0.1 and out.ncon > 0  # landed, with its contacts copied back
        qpos = d.qpos.numpy()
        np.testing.assert_array_equal(qpos[0], qpos[2])  # worlds 0 and 2 share stiffness 0.1
        assert not np.array_equal(qpos[0], qpos[1])
        mjwarp.reset_data(m, d)
        np.testing.assert_allclose(d.qpos.numpy()[3], box.qpos0, atol=1e-6)


def test_step_refuses_a_model_without_comfree_gains(box):
    import mujoco_warp

    warp_setup.init()
    with wp.ScopedDevice("cpu"):
        plain = mujoco_warp.put_model(box)
        d = mjwarp.make_data(box, nworld=1)
        with pytest.raises(TypeError, match=r"mjpod\.comfree_warp\.put_model"):
            mjwarp.step(plain, d)


@pytest.mark.parametrize("bad", [[], -0.1, [0.2, float("nan")]])
def test_bad_gains_are_refused_with_the_parameter_named(box, bad):
    with pytest.raises(ValueError, match="comfree_stiffness needs one or more finite numbers >= 0"):
        mjwarp.put_model(box, comfree_stiffness=bad)


def test_elliptic_cone_is_refused_before_touching_a_device():
    box = models.load("box_drop").model  # a fresh copy: the shared fixture stays pyramidal
    box.opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    with pytest.raises(mjwarp.ComFreeSettingError, match='cone="pyramidal"'):
        mjwarp.put_model(box)


def test_the_rest_of_mujoco_warp_passes_through_but_not_its_solver():
    """A seed script may call mujoco_warp helpers through the same alias; none may bypass ComFree."""
    import mujoco_warp

    assert mjwarp.kinematics is mujoco_warp.kinematics
    assert mjwarp.DisableBit is mujoco_warp.DisableBit
    assert mjwarp.step is not mujoco_warp.step and mjwarp.forward is not mujoco_warp.forward
    for name in ("step1", "step2", "solve", "inverse", "rungekutta4"):
        with pytest.raises(AttributeError, match=f"no {name}: .*use step or forward"):
            getattr(mjwarp, name)
    with pytest.raises(AttributeError, match="no attribute 'not_a_function'"):
        mjwarp.not_a_function  # noqa: B018
