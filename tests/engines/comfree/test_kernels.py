"""The ComFree kernels against a NumPy row-by-row oracle built from MuJoCo C's own constraint data.

Guards against a pass that runs but computes another rule: wrong row mass, gap sign, clamp, Jᵀ map or
mass-matrix solve, in either Jacobian layout mujoco_warp may choose.
"""

import mujoco
import numpy as np
import pytest
import warp as wp

from mjpod import models
from mjpod.engines import comfree as cf
from mjpod.engines import warp_setup

# Every kind of row ComFree handles, each one active in the initial state: contacts of condim 1, 3, 4
# and 6 (penetrating and moving), a violated hinge limit and tendon limit, dof and tendon friction loss
# (h2's small enough to saturate), and equalities of every rigid kind: joint, body weld, site connect,
# tendon. solimp widths are 0.01 everywhere so MuJoCo C's impedance is the one ComFree uses.
SCENE = """
<mujoco>
  <option timestep="0.002" integrator="implicitfast"/>
  <default>
    <geom solimp="0.9 0.95 0.01 0.5 2" friction="0.7 0.02 0.002"/>
    <joint solimplimit="0.85 0.97 0.01 0.4 3" solimpfriction="0.8 0.9 0.01 0.5 2"/>
    <tendon solimplimit="0.7 0.96 0.01 0.5 2" solimpfriction="0.75 0.9 0.01 0.5 2"/>
    <equality solimp="0.8 0.95 0.01 0.5 2"/>
  </default>
  <worldbody>
    <geom name="floor" type="plane" size="2 2 .1" condim="1"/>
    <site name="anchor" pos="-0.497 0.5 0.6"/>
    <body pos="0 0 0.048"><freejoint/><geom type="box" size=".05 .05 .05" condim="3"/></body>
    <body pos="0.3 0 0.039"><freejoint/><geom type="sphere" size=".04" condim="4"/></body>
    <body pos="-0.3 0 0.0295" euler="0 90 0"><freejoint/>
      <geom type="capsule" size=".03 .05" condim="6"/></body>
    <body pos="0 0.3 0.0285"><freejoint/><geom type="sphere" size=".03" condim="1"/></body>
    <body pos="0 -0.5 0.5">
      <joint name="h1" type="hinge" axis="0 1 0" range="-0.5 0.5" frictionloss="0.3"/>
      <geom type="capsule" fromto="0 0 0 0.2 0 0" size=".02" contype="0" conaffinity="0"/>
      <body pos="0.2 0 0">
        <joint name="h2" type="hinge" axis="0 1 0" frictionloss="0.001"/>
        <geom type="capsule" fromto="0 0 0 0.2 0 0" size=".02" contype="0" conaffinity="0"/>
      </body>
    </body>
    <body name="welded" pos="0.5 0.5 0.6"><freejoint/>
      <geom type="box" size=".03 .03 .03" contype="0" conaffinity="0"/></body>
    <body name="connected" pos="-0.5 0.5 0.6"><freejoint/>
      <geom type="sphere" size=".03" contype="0" conaffinity="0"/><site name="pin"/></body>
  </worldbody>
  <tendon>
    <fixed name="sum" limited="true" range="-0.2 0.2" frictionloss="0.05">
      <joint joint="h1" coef="1"/><joint joint="h2" coef="1"/></fixed>
    <fixed name="second"><joint joint="h2" coef="1"/></fixed>
  </tendon>
  <equality>
    <joint joint1="h2" joint2="h1" polycoef="0 0.5 0 0 0"/>
    <weld body1="welded"/>
    <connect site1="pin" site2="anchor"/>
    <tendon tendon1="second" polycoef="0.1 0 0 0 0"/>
  </equality>
</mujoco>
"""

# row kinds as plain ints: MuJoCo's enums do not compare equal to the numbers in MjData
EQUALITY = int(mujoco.mjtConstraint.mjCNSTR_EQUALITY)
FRICTION_DOF = int(mujoco.mjtConstraint.mjCNSTR_FRICTION_DOF)
FRICTION_TENDON = int(mujoco.mjtConstraint.mjCNSTR_FRICTION_TENDON)
LIMIT_JOINT = int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT)
LIMIT_TENDON = int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON)
FRICTION = (FRICTION_DOF, FRICTION_TENDON)
CONTACT_TYPES = (
    int(mujoco.mjtConstraint.mjCNSTR_CONTACT_FRICTIONLESS),
    int(mujoco.mjtConstraint.mjCNSTR_CONTACT_PYRAMIDAL),
)
EQ_JOINT = int(mujoco.mjtEq.mjEQ_JOINT)
EQ_TENDON = int(mujoco.mjtEq.mjEQ_TENDON)
OBJ_SITE = int(mujoco.mjtObj.mjOBJ_SITE)
ROW_KINDS = {*CONTACT_TYPES, EQUALITY, *FRICTION, LIMIT_JOINT, LIMIT_TENDON}


@pytest.fixture(scope="module")
def scene() -> tuple[mujoco.MjModel, mujoco.MjData]:
    """The scene in a state where every row kind is active and moving, after MuJoCo C's mj_forward."""
    mjm = mujoco.MjModel.from_xml_string(SCENE)
    mjm.opt.jacobian = mujoco.mjtJacobian.mjJAC_DENSE  # the oracle reads efc_J as a dense matrix
    mjd = mujoco.MjData(mjm)
    rng = np.random.default_rng(3)
    mjd.qvel[:] = rng.normal(0.0, 0.2, mjm.nv)
    mjd.qpos[mjm.jnt_qposadr[mjm.joint("h1").id]] = 0.56  # past its 0.5 limit
    weld_free = mjm.jnt_qposadr[mjm.body("welded").jntadr[0]]
    mjd.qpos[weld_free : weld_free + 3] += (0.004, -0.003, 0.002)  # off its welded pose
    mujoco.mj_forward(mjm, mjd)
    assert set(mjd.efc_type.tolist()) == ROW_KINDS
    assert set(mjm.eq_type.tolist()) == {
        EQ_JOINT,
        EQ_TENDON,
        int(mujoco.mjtEq.mjEQ_WELD),
        int(mujoco.mjtEq.mjEQ_CONNECT),
    }
    return mjm, mjd


def impedance(solimp: np.ndarray, x_abs: float, width: float = 0.01) -> float:
    """MuJoCo's impedance curve (documented in Modeling > Solver parameters), width fixed."""
    dmin, dmax = np.clip(solimp[:2], mujoco.mjMINIMP, mujoco.mjMAXIMP)
    mid, power = np.clip(solimp[3], mujoco.mjMINIMP, mujoco.mjMAXIMP), max(1.0, solimp[4])
    x = x_abs / width
    if dmin == dmax or x >= 1:
        return dmax
    if x <= 0:
        return dmin
    y = x**power / mid ** (power - 1) if x <= mid else 1 - (1 - x) ** power / (1 - mid) ** (power - 1)
    return float(np.clip(dmin + y * (dmax - dmin), dmin, dmax))


def row_object(mjm: mujoco.MjModel, mjd: mujoco.MjData, i: int) -> tuple[float, np.ndarray]:
    """(invweight0, solimp) of constraint row i, read from MuJoCo C's model and data."""
    kind, obj = int(mjd.efc_type[i]), int(mjd.efc_id[i])
    if kind in CONTACT_TYPES:
        con = mjd.contact[obj]
        bodies = mjm.geom_bodyid[con.geom]
        return float(mjm.body_invweight0[bodies, 0].sum()), con.solimp
    if kind == LIMIT_JOINT:
        return float(mjm.dof_invweight0[mjm.jnt_dofadr[obj]]), mjm.jnt_solimp[obj]
    if kind == FRICTION_DOF:
        return float(mjm.dof_invweight0[obj]), mjm.dof_solimp[obj]
    if kind == LIMIT_TENDON:
        return float(mjm.tendon_invweight0[obj]), mjm.tendon_solimp_lim[obj]
    if kind == FRICTION_TENDON:
        return float(mjm.tendon_invweight0[obj]), mjm.tendon_solimp_fri[obj]
    assert kind == EQUALITY, kind
    ids = [int(mjm.eq_obj1id[obj]), int(mjm.eq_obj2id[obj])]
    if mjm.eq_type[obj] == EQ_JOINT:
        weight = sum(mjm.dof_invweight0[mjm.jnt_dofadr[j]] for j in ids if j >= 0)
        return float(weight), mjm.eq_solimp[obj]
    if mjm.eq_type[obj] == EQ_TENDON:
        return float(sum(mjm.tendon_invweight0[t] for t in ids if t >= 0)), mjm.eq_solimp[obj]
    if mjm.eq_objtype[obj] == OBJ_SITE:
        ids = [int(mjm.site_bodyid[s]) for s in ids]
    first = i
    while first > 0 and mjd.efc_type[first - 1] == kind and mjd.efc_id[first - 1] == obj:
        first -= 1
    part = 1 if i - first >= 3 else 0  # a weld's rows 3-5 are rotational
    return float(mjm.body_invweight0[ids, part].sum()), mjm.eq_solimp[obj]


def oracle(mjm: mujoco.MjModel, mjd: mujoco.MjData, k: float, d: float) -> tuple[np.ndarray, np.ndarray]:
    """(row forces, qacc) of one ComFree pass, row by row as docs/comfree.md states it."""
    h = mjm.opt.timestep
    J = mjd.efc_J.reshape(mjd.nefc, mjm.nv)
    v_hat = mjd.qvel + h * mjd.qacc_smooth
    forces = np.zeros(mjd.nefc)
    for i in range(mjd.nefc):
        u = J[i] @ v_hat
        invweight, solimp = row_object(mjm, mjd, i)
        imp = impedance(solimp, abs(mjd.efc_pos[i] - mjd.efc_margin[i]))
        mass = imp / ((1 - imp) * invweight)
        f = mass * (-(d / h) * u - (k / h) * (mjd.efc_pos[i] + h * u))
        if mjd.efc_type[i] in FRICTION:
            f = np.clip(f, -mjd.efc_frictionloss[i], mjd.efc_frictionloss[i])
        elif mjd.efc_type[i] != EQUALITY:
            f = max(f, 0.0)
        forces[i] = f
    M = np.zeros((mjm.nv, mjm.nv))
    mujoco.mj_fullM(mjm, mjd, M)
    qacc = np.linalg.solve(M, mjd.qfrc_smooth + J.T @ forces)
    return forces, qacc


def test_numpy_impedance_is_mujocos_at_width_001(scene):
    """The oracle's impedance must be MuJoCo's own, or matching it would prove nothing."""
    mjm, mjd = scene
    checked = 0
    for i in range(mjd.nefc):
        kind = int(mjd.efc_type[i])
        if kind == EQUALITY and mjm.eq_type[mjd.efc_id[i]] != EQ_JOINT:
            continue  # C evaluates connect/weld impedance at the norm of the whole violation
        _, solimp = row_object(mjm, mjd, i)
        x = abs(mjd.efc_pos[i] - mjd.efc_margin[i])
        assert impedance(solimp, x) == pytest.approx(mjd.efc_KBIP[i, 2], rel=1e-9), (i, kind)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("jacobian", ["dense", "sparse"])
def test_kernels_match_the_row_by_row_oracle(scene, jacobian):
    mjm_c, mjd = scene
    mjm = mujoco.MjModel.from_xml_string(SCENE)
    mjm.opt.jacobian = getattr(mujoco.mjtJacobian, f"mjJAC_{jacobian.upper()}")
    start = mujoco.MjData(mjm)  # the same state, in this model's own Jacobian layout
    start.qpos[:], start.qvel[:] = mjd.qpos, mjd.qvel
    mujoco.mj_forward(mjm, start)
    k, d = 0.3, 0.05
    warp_setup.init()
    with wp.ScopedDevice("cpu"):
        m = cf.put_model(mjm, comfree_stiffness=k, comfree_damping=d)
        assert bool(m.is_sparse) == (jacobian == "sparse")
        data = cf.put_data(mjm, start, nworld=1, nconmax=32, njmax=128)
        cf.forward(m, data)
        nefc = int(data.nefc.numpy()[0])
        forces = data.efc.force.numpy()[0, :nefc]
        qacc = data.qacc.numpy()[0]
        qfrc = data.qfrc_constraint.numpy()[0]
        kinds = data.efc.type.numpy()[0, :nefc]
    want_forces, want_qacc = oracle(mjm_c, mjd, k, d)
    assert nefc == mjd.nefc  # the same rows, perhaps in another order
    assert np.count_nonzero(want_forces) > 10  # most rows push: the comparison has teeth
    loss = mjd.efc_frictionloss[np.isin(mjd.efc_type, FRICTION)]
    held = np.abs(want_forces[np.isin(mjd.efc_type, FRICTION)])
    assert np.any(held == loss) and np.any(held < loss)  # friction loss both saturated and not
    for kind in ROW_KINDS:  # kind by kind (rows may come in another order within a kind)
        got, want = np.sort(forces[kinds == kind]), np.sort(want_forces[mjd.efc_type == kind])
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"row kind {kind}")
    J = mjd.efc_J.reshape(mjd.nefc, mjm.nv)
    np.testing.assert_allclose(qfrc, J.T @ want_forces, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(qacc, want_qacc, rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("scene_name", ["box_drop", "pendulum"])
def test_without_constraints_qacc_is_qacc_smooth(scene_name):
    """No rows, no change: the pass must hand the smooth dynamics through untouched."""
    mjm = models.load(scene_name).model  # the box starts in the air; the pendulum has no limits
    mjd = mujoco.MjData(mjm)
    mjd.qvel[:] = 0.3
    mujoco.mj_forward(mjm, mjd)
    warp_setup.init()
    with wp.ScopedDevice("cpu"):
        m = cf.put_model(mjm)
        data = cf.put_data(mjm, mjd, nworld=2, nconmax=16, njmax=64)
        cf.forward(m, data)
        nefc = data.nefc.numpy()
        qacc, smooth = data.qacc.numpy(), data.qacc_smooth.numpy()
    assert not nefc.any()
    assert np.abs(smooth).max() > 0.01  # gravity: a real acceleration to preserve
    np.testing.assert_array_equal(qacc, smooth)
