"""The comfree engine on Warp's cpu device: the contact properties docs/comfree.md promises, and its refusals.

Each test runs a small scene for a few hundred steps; several parameter settings share one batch
(world w takes element w % len of the gain vectors), which is itself one of the properties checked.
"""

import mujoco
import mujoco_warp as mjw
import numpy as np
import pytest
import warp as wp

from mjpod import engines, models
from mjpod.engines import EngineConfig
from mjpod.engines.base import COMFREE_STIFFNESS
from mjpod.engines.comfree import ComFreeSettingError

BOX_ON_FLOOR = """
<mujoco>
  <option timestep="{h}" {options}/>
  <worldbody>
    <geom type="plane" size="1 1 .1" {floor}/>
    <body pos="0 0 0.051"><freejoint/><geom type="box" size=".05 .05 .05"/></body>
  </worldbody>
</mujoco>
"""

# A box resting on a 15-degree slope (inside its friction angle), a ball (condim 4) and a capsule
# (condim 6) rolling down it: friction rows of every kind carry load.
SLOPE = """
<mujoco>
  <option timestep="0.002" integrator="implicitfast"/>
  <worldbody>
    <geom type="plane" size="2 2 .1" euler="0 15 0" friction="0.8 0.02 0.002"/>
    <body pos="0 0 0.06" euler="0 15 0"><freejoint/><geom type="box" size=".05 .05 .05"/></body>
    <body pos="0.4 0.3 0.2"><freejoint/><geom type="sphere" size=".04" condim="4"/></body>
    <body pos="-0.4 -0.3 0.2" euler="0 90 0"><freejoint/><geom type="capsule" size=".03 .05" condim="6"/></body>
  </worldbody>
</mujoco>
"""


def comfree(mjm: mujoco.MjModel, nworld: int = 1, **gains) -> engines.Engine:
    config = EngineConfig(nworld=nworld, device="cpu", ctrl="zero", nconmax=16 * nworld, njmax=64, **gains)
    return engines.make("comfree", mjm, config)


def box_on_floor(
    h: float = 0.002, floor: str = "", options: str = 'integrator="implicitfast"'
) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(BOX_ON_FLOOR.format(h=h, floor=floor, options=options))


def rest(h: float = 0.002, floor: str = "", seconds: float = 0.6, **gains) -> tuple[np.ndarray, np.ndarray]:
    """(penetration, peak speed) per world of a box set down flat on the floor after `seconds`."""
    mjm = box_on_floor(h, floor)
    nworld = max(len(v) for v in gains.values()) if gains else 1
    engine = comfree(mjm, nworld, **gains)
    engine.step(round(seconds / h))
    return 0.05 - engine.d.qpos.numpy()[:, 2], np.abs(engine.d.qvel.numpy()).max(axis=1)


def energy(mjm: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray) -> float:
    """Potential plus kinetic energy of one state, by MuJoCo C."""
    mjm.opt.enableflags |= mujoco.mjtEnableBit.mjENBL_ENERGY
    mjd = mujoco.MjData(mjm)
    mjd.qpos[:], mjd.qvel[:] = qpos, qvel
    mujoco.mj_forward(mjm, mjd)
    return float(mjd.energy.sum())


def test_rest_penetration_falls_as_stiffness_rises():
    ks = (0.05, 0.1, 0.2, 0.4)
    depth, speed = rest(comfree_stiffness=ks)
    assert np.all(speed < 1e-4), speed  # every world is at rest
    assert np.all(depth > 0)
    assert np.all(np.diff(depth) < 0), dict(zip(ks, depth, strict=True))
    assert depth[0] / depth[-1] > 4  # roughly inversely proportional: 8x stiffer, ~8x shallower


def test_rest_penetration_grows_with_the_timestep():
    steps = (0.001, 0.002, 0.004)
    depths = []
    for h in steps:
        depth, speed = rest(h=h)
        assert speed[0] < 1e-4
        depths.append(depth[0])
    assert np.all(np.diff(depths) > 0), dict(zip(steps, depths, strict=True))


def test_contact_forces_lie_in_the_friction_pyramid_and_friction_creep_falls_as_gains_rise():
    mjm = mujoco.MjModel.from_xml_string(SLOPE)
    ks = (0.1, 0.2, 0.4, 0.2, 0.2)  # worlds 0-2: stiffness rises; worlds 1, 3, 4: damping rises
    ds = (0.001, 0.001, 0.001, 0.002, 0.004)  # all inside the stable range at h = 2 ms
    engine = comfree(mjm, nworld=5, comfree_stiffness=ks, comfree_damping=ds)
    h = mjm.opt.timestep
    engine.step(200)  # landed; the box sits on the slope, the round bodies roll
    before = engine.d.qpos.numpy()[:, 0].copy()
    engine.step(100)
    creep = (engine.d.qpos.numpy()[:, 0] - before) / (100 * h)  # the box's speed down the slope
    assert np.all(creep > 0), creep  # it does not stick: ComFree friction creeps
    assert np.all(np.diff(creep[[0, 1, 2]]) < 0), dict(zip(ks, creep, strict=True))
    assert np.all(np.diff(creep[[1, 3, 4]]) < 0), dict(zip(ds, creep, strict=True))

    d = engine.d
    n = int(d.nacon.numpy()[0])
    with wp.ScopedDevice("cpu"):  # MuJoCo Warp's own decoding of pyramid rows into contact forces
        forces = wp.zeros(n, dtype=wp.spatial_vector)
        mjw.contact_force(engine.m, d, wp.array(np.arange(n, dtype=np.int32), dtype=int), False, forces)
    force = forces.numpy()
    dim, mu = d.contact.dim.numpy()[:n], d.contact.friction.numpy()[:n]
    assert set(dim) == {3, 4, 6} and n >= 3 * 6
    normal = force[:, 0]
    used = np.array([np.sum(np.abs(force[i, 1 : dim[i]]) / mu[i, : dim[i] - 1]) for i in range(n)])
    assert np.all(normal >= 0)
    assert np.all(used <= normal * (1 + 1e-5) + 1e-6), (used / normal).max()
    assert (used / normal).max() > 0.2  # friction really carries load: the bound is tested, not idle


def test_dropped_box_with_defaults_never_gains_energy_and_comes_to_rest():
    mjm = models.load("box_drop").model
    stiffness = (COMFREE_STIFFNESS, 5.0)  # world 0: the default; world 1: past the stability limit
    engine = comfree(mjm, nworld=2, comfree_stiffness=stiffness)
    energies = []
    for _ in range(800):  # every step: a gain between samples would hide in a coarser record
        engine.step(1)
        qpos, qvel = engine.d.qpos.numpy(), engine.d.qvel.numpy()
        energies.append([energy(mjm, qpos[w], qvel[w]) for w in range(2)])
    start = energy(mjm, mjm.qpos0, np.zeros(mjm.nv))
    default, stiff = np.array(energies).T
    assert default.max() <= start + 1e-6  # never above the energy it was dropped with
    assert np.abs(qvel[0]).max() < 1e-3  # and at rest on the floor
    depth = 0.05 - qpos[0, 2]  # the box's half-size less its height
    assert 0.35e-3 < depth < 0.75e-3, depth  # the README: it rests "about 0.5 mm deep" with the defaults
    assert stiff.max() > 2 * start  # the same check fails where the gains pump energy in


def test_solref_changes_nothing_and_solimp_changes_the_contact():
    base, _ = rest(seconds=0.3)
    with_solref, _ = rest(seconds=0.3, floor='solref="0.05 0.2"')
    with_solimp, _ = rest(seconds=0.3, floor='solimp="0.5 0.6 0.001 0.5 2"')
    assert with_solref[0] == base[0]
    assert abs(with_solimp[0] - base[0]) > 0.1 * base[0]


def test_gain_vectors_reach_world_w_by_w_mod_len():
    mjm = models.load("box_drop").model
    ks, ds = (0.1, 0.4), (0.001, 0.01, 0.05)
    short = comfree(mjm, nworld=6, comfree_stiffness=ks, comfree_damping=ds)
    spelled = comfree(
        mjm,
        nworld=6,
        comfree_stiffness=tuple(ks[w % 2] for w in range(6)),
        comfree_damping=tuple(ds[w % 3] for w in range(6)),
    )
    short.step(200)  # through the impact, where both gains act
    spelled.step(200)
    qpos = short.d.qpos.numpy()
    np.testing.assert_array_equal(qpos, spelled.d.qpos.numpy())
    assert len({tuple(q) for q in qpos.round(7)}) == 6  # six distinct (k, d) pairs, six outcomes
    assert [short.gains(w) for w in (0, 4, 5)] == [(0.1, 0.001), (0.1, 0.01), (0.4, 0.05)]


@pytest.mark.parametrize(
    ("option", "named", "alternative"),
    [
        ('cone="elliptic"', 'cone="elliptic"', 'cone="pyramidal"'),
        ('integrator="RK4"', "integrator=RK4", "implicitfast"),
        ('integrator="implicit"', "integrator=IMPLICIT", "implicitfast"),
        ('noslip_iterations="3"', "noslip_iterations=3", 'noslip_iterations="0"'),
    ],
)
def test_unsupported_settings_are_refused_naming_the_setting_and_the_alternative(option, named, alternative):
    mjm = box_on_floor(options=option if "integrator" in option else f'integrator="implicitfast" {option}')
    with pytest.raises(ComFreeSettingError) as err:
        engines.make("comfree", mjm, EngineConfig(device="cpu"))
    message = str(err.value)
    assert named in message and alternative in message and "--engine mjwarp" in message


def test_sleep_is_refused():
    mjm = box_on_floor()
    mjm.opt.enableflags |= mujoco.mjtEnableBit.mjENBL_SLEEP
    with pytest.raises(ComFreeSettingError, match="sleep"):
        engines.make("comfree", mjm, EngineConfig(device="cpu"))


def test_flex_is_refused():
    mjm = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><flexcomp name="cloth" type="grid" count="3 3 1" spacing=".1 .1 .1" dim="2"/>'
        "</worldbody></mujoco>"
    )
    with pytest.raises(ComFreeSettingError, match=r"1 flex.*--engine mjwarp"):
        engines.make("comfree", mjm, EngineConfig(device="cpu"))


def test_engine_resets_and_reports_its_buffers():
    mjm = models.load("box_drop").model
    engine = comfree(mjm, nworld=2)
    assert engine.name == "comfree" and engine.device == "cpu" and not engine.uses_cuda_graph
    engine.step(400)
    assert engine.get_world(1).qpos[2] < 0.06  # it fell and lies on the floor
    contacts, rows = engine.contact_counts()
    assert contacts >= 1 and rows >= 4 * contacts  # condim 3: four pyramid rows per contact
    engine.reset()
    np.testing.assert_allclose(engine.get_world(1).qpos, mjm.qpos0, atol=1e-6)
