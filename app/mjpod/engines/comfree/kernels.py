"""The ComFree constraint pass in Warp: one closed-form sweep over constraint rows, no iterations.

Replaces mujoco_warp's iterative solve inside a step (docs/comfree.md): each active row gets a force
from the smooth dynamics' predicted velocity and gap, the forces map to joint space through Jᵀ, and
one solve with the mass matrix's existing factorization gives qacc. Every launch has a fixed size
and no host synchronisation, so the pass records into a CUDA graph like the rest of the step.

The authors' rule clamps every row as f = max(m a, 0); here only contacts and limits are clamped so:
an equality row holds both ways (clamping it would let a weld pull but never push) and a friction-loss
row is clamped to ±frictionloss, MuJoCo's bound for it. Jᵀf is a per-dof loop over rows (ordered,
deterministic) with a dense Jacobian; with a sparse one it is row-parallel atomics, made run-to-run
deterministic by Warp when the model asks for DeterminismType.ATOMICS.
"""

from __future__ import annotations

import functools

import mujoco
import mujoco_warp as mjw
import warp as wp

_vec5 = wp.types.vector(length=5, dtype=float)

# Row kinds, as MuJoCo numbers them (mujoco_warp uses the same values).
_EQUALITY = wp.constant(int(mujoco.mjtConstraint.mjCNSTR_EQUALITY))
_FRICTION_DOF = wp.constant(int(mujoco.mjtConstraint.mjCNSTR_FRICTION_DOF))
_FRICTION_TENDON = wp.constant(int(mujoco.mjtConstraint.mjCNSTR_FRICTION_TENDON))
_LIMIT_JOINT = wp.constant(int(mujoco.mjtConstraint.mjCNSTR_LIMIT_JOINT))
_LIMIT_TENDON = wp.constant(int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON))
_EQ_CONNECT = wp.constant(int(mujoco.mjtEq.mjEQ_CONNECT))
_EQ_WELD = wp.constant(int(mujoco.mjtEq.mjEQ_WELD))
_EQ_JOINT = wp.constant(int(mujoco.mjtEq.mjEQ_JOINT))
_OBJ_SITE = wp.constant(int(mujoco.mjtObj.mjOBJ_SITE))

IMP_WIDTH = 0.01  # solimp width is fixed here, so that large initial penetrations do not jump
_IMP_WIDTH = wp.constant(IMP_WIDTH)
_MINIMP = wp.constant(float(mujoco.mjMINIMP))
_MAXIMP = wp.constant(float(mujoco.mjMAXIMP))
_MINVAL = wp.constant(float(mujoco.mjMINVAL))


@wp.func
def impedance(solimp: _vec5, x_abs: float) -> float:
    """MuJoCo's impedance curve at |dist - margin| with the width fixed at IMP_WIDTH."""
    dmin = wp.clamp(solimp[0], _MINIMP, _MAXIMP)
    dmax = wp.clamp(solimp[1], _MINIMP, _MAXIMP)
    mid = wp.clamp(solimp[3], _MINIMP, _MAXIMP)
    power = wp.max(1.0, solimp[4])
    x = x_abs / _IMP_WIDTH
    if dmin == dmax or x >= 1.0:
        return dmax
    if x <= 0.0:
        return dmin
    y = x
    if power != 1.0:
        if x <= mid:
            y = wp.pow(x, power) / wp.pow(mid, power - 1.0)
        else:
            y = 1.0 - wp.pow(1.0 - x, power) / wp.pow(1.0 - mid, power - 1.0)
    return wp.clamp(dmin + y * (dmax - dmin), dmin, dmax)


@wp.func
def _weld_row(efc_type: wp.array2d[int], efc_id: wp.array2d[int], world: int, row: int) -> int:
    """Position of `row` within its equality's block of rows (a weld's rows 3-5 are rotational)."""
    k = int(0)
    eq = efc_id[world, row]
    while row - k - 1 >= 0 and efc_type[world, row - k - 1] == _EQUALITY and efc_id[world, row - k - 1] == eq:
        k += 1
    return k


@functools.cache
def row_force_kernel(is_sparse: bool) -> wp.Kernel:
    """Kernel over (world, row): the ComFree force of every active row, written to efc.force."""

    @wp.kernel(module="unique", enable_backward=False)
    def row_force(
        # Model:
        opt_timestep: wp.array[float],
        stiffness: wp.array[float],
        damping: wp.array[float],
        body_invweight0: wp.array2d[wp.vec2],
        dof_invweight0: wp.array2d[float],
        tendon_invweight0: wp.array2d[float],
        geom_bodyid: wp.array[int],
        site_bodyid: wp.array[int],
        jnt_dofadr: wp.array[int],
        jnt_solimp: wp.array2d[_vec5],
        dof_solimp: wp.array2d[_vec5],
        tendon_solimp_lim: wp.array2d[_vec5],
        tendon_solimp_fri: wp.array2d[_vec5],
        eq_type: wp.array[int],
        eq_obj1id: wp.array[int],
        eq_obj2id: wp.array[int],
        eq_objtype: wp.array[int],
        eq_solimp: wp.array2d[_vec5],
        # Data in:
        nefc: wp.array[int],
        qvel: wp.array2d[float],
        qacc_smooth: wp.array2d[float],
        contact_geom: wp.array[wp.vec2i],
        contact_solimp: wp.array[_vec5],
        efc_type: wp.array2d[int],
        efc_id: wp.array2d[int],
        efc_J_rownnz: wp.array2d[int],
        efc_J_rowadr: wp.array2d[int],
        efc_J_colind: wp.array3d[int],
        efc_J: wp.array3d[float],
        efc_pos: wp.array2d[float],
        efc_margin: wp.array2d[float],
        efc_frictionloss: wp.array2d[float],
        # Data out:
        efc_force: wp.array2d[float],
    ):
        world, row = wp.tid()
        if row >= nefc[world]:
            return
        h = opt_timestep[world % opt_timestep.shape[0]]
        k = stiffness[world % stiffness.shape[0]]
        d = damping[world % damping.shape[0]]

        # row velocity at the smooth prediction v̂ = qvel + h qacc_smooth
        u = float(0.0)
        if wp.static(is_sparse):
            adr = efc_J_rowadr[world, row]
            for j in range(efc_J_rownnz[world, row]):
                dof = efc_J_colind[world, 0, adr + j]
                u += efc_J[world, 0, adr + j] * (qvel[world, dof] + h * qacc_smooth[world, dof])
        else:
            for dof in range(qvel.shape[1]):
                u += efc_J[world, row, dof] * (qvel[world, dof] + h * qacc_smooth[world, dof])

        # the row object's inverse weight and impedance parameters
        kind = efc_type[world, row]
        obj = efc_id[world, row]
        wb = world % body_invweight0.shape[0]
        wd = world % dof_invweight0.shape[0]
        wt = world % tendon_invweight0.shape[0]
        invweight = float(0.0)
        solimp = _vec5()
        if kind == _EQUALITY:
            solimp = eq_solimp[world % eq_solimp.shape[0], obj]
            o1 = eq_obj1id[obj]
            o2 = eq_obj2id[obj]
            etype = eq_type[obj]
            if etype == _EQ_CONNECT or etype == _EQ_WELD:
                if eq_objtype[obj] == _OBJ_SITE:
                    o1 = site_bodyid[o1]
                    o2 = site_bodyid[o2]
                part = 0
                if etype == _EQ_WELD and _weld_row(efc_type, efc_id, world, row) >= 3:
                    part = 1
                invweight = body_invweight0[wb, o1][part] + body_invweight0[wb, o2][part]
            elif etype == _EQ_JOINT:
                invweight = dof_invweight0[wd, jnt_dofadr[o1]]
                if o2 >= 0:
                    invweight += dof_invweight0[wd, jnt_dofadr[o2]]
            else:  # tendon coupling (flex equalities are refused when the model is put)
                invweight = tendon_invweight0[wt, o1]
                if o2 >= 0:
                    invweight += tendon_invweight0[wt, o2]
        elif kind == _FRICTION_DOF:
            solimp = dof_solimp[world % dof_solimp.shape[0], obj]
            invweight = dof_invweight0[wd, obj]
        elif kind == _FRICTION_TENDON:
            solimp = tendon_solimp_fri[world % tendon_solimp_fri.shape[0], obj]
            invweight = tendon_invweight0[wt, obj]
        elif kind == _LIMIT_JOINT:
            solimp = jnt_solimp[world % jnt_solimp.shape[0], obj]
            invweight = dof_invweight0[wd, jnt_dofadr[obj]]
        elif kind == _LIMIT_TENDON:
            solimp = tendon_solimp_lim[world % tendon_solimp_lim.shape[0], obj]
            invweight = tendon_invweight0[wt, obj]
        else:  # a contact: the two bodies' translational inverse weights, shared by every pyramid edge
            solimp = contact_solimp[obj]
            geom = contact_geom[obj]
            invweight = (
                body_invweight0[wb, geom_bodyid[geom[0]]][0] + body_invweight0[wb, geom_bodyid[geom[1]]][0]
            )

        dist = efc_pos[world, row]
        imp = impedance(solimp, wp.abs(dist - efc_margin[world, row]))
        mass = imp / ((1.0 - imp) * wp.max(invweight, _MINVAL))

        gap = dist + h * u
        force = mass * (-(d / h) * u - (k / h) * gap)
        if kind == _FRICTION_DOF or kind == _FRICTION_TENDON:
            loss = efc_frictionloss[world, row]
            force = wp.clamp(force, -loss, loss)
        elif kind != _EQUALITY:  # an equality holds both ways; contacts and limits only push
            force = wp.max(force, 0.0)
        efc_force[world, row] = force

    return row_force


@wp.kernel
def _jt_force_dense(
    nefc: wp.array[int],
    efc_J: wp.array3d[float],
    efc_force: wp.array2d[float],
    qfrc_constraint: wp.array2d[float],
):
    """qfrc_constraint = Jᵀ f, one thread per dof summing its rows in order: deterministic."""
    world, dof = wp.tid()
    total = float(0.0)
    # efc.J is padded past njmax but efc.force is not; nefc itself passes njmax when rows overflow
    for row in range(wp.min(nefc[world], efc_force.shape[1])):
        total += efc_J[world, row, dof] * efc_force[world, row]
    qfrc_constraint[world, dof] = total


@functools.cache
def jt_force_sparse_kernel(deterministic: bool, nv: int) -> wp.Kernel:
    """qfrc_constraint += Jᵀ f by row; with `deterministic`, Warp orders the adds run to run."""
    options: dict[str, object] = {"enable_backward": False}
    if deterministic:
        options["deterministic"] = wp.DeterministicMode.RUN_TO_RUN
        options["deterministic_max_records"] = nv

    @wp.kernel(module="unique", module_options=options)
    def jt_force_sparse(
        nefc: wp.array[int],
        efc_J_rownnz: wp.array2d[int],
        efc_J_rowadr: wp.array2d[int],
        efc_J_colind: wp.array3d[int],
        efc_J: wp.array3d[float],
        efc_force: wp.array2d[float],
        qfrc_constraint: wp.array2d[float],
    ):
        world, row = wp.tid()
        if row >= nefc[world]:
            return
        force = efc_force[world, row]
        if force == 0.0:
            return
        adr = efc_J_rowadr[world, row]
        for j in range(efc_J_rownnz[world, row]):
            wp.atomic_add(
                qfrc_constraint[world], efc_J_colind[world, 0, adr + j], efc_J[world, 0, adr + j] * force
            )

    return jt_force_sparse


@wp.kernel
def _total_force(
    qfrc_smooth: wp.array2d[float], qfrc_constraint: wp.array2d[float], qfrc_total: wp.array2d[float]
):
    world, dof = wp.tid()
    qfrc_total[world, dof] = qfrc_smooth[world, dof] + qfrc_constraint[world, dof]


def solve(m: mjw.Model, d: mjw.Data, stiffness: wp.array, damping: wp.array) -> None:
    """The constraint solve of one step: row forces, qfrc_constraint, then qacc = M⁻¹ (smooth + constraint).

    efc.Ma holds the total force afterwards, because mujoco_warp's Euler and implicitfast integrators
    read it as the right-hand side of their own solve.
    """
    nworld, nv = d.nworld, m.nv
    if d.njmax == 0 or nv == 0:
        wp.copy(d.qacc, d.qacc_smooth)
        d.qfrc_constraint.zero_()
        wp.copy(d.efc.Ma, d.qfrc_smooth)
        return
    wp.launch(
        row_force_kernel(bool(m.is_sparse)),
        dim=(nworld, d.njmax),
        inputs=[
            m.opt.timestep,
            stiffness,
            damping,
            m.body_invweight0,
            m.dof_invweight0,
            m.tendon_invweight0,
            m.geom_bodyid,
            m.site_bodyid,
            m.jnt_dofadr,
            m.jnt_solimp,
            m.dof_solimp,
            m.tendon_solimp_lim,
            m.tendon_solimp_fri,
            m.eq_type,
            m.eq_obj1id,
            m.eq_obj2id,
            m.eq_objtype,
            m.eq_solimp,
            d.nefc,
            d.qvel,
            d.qacc_smooth,
            d.contact.geom,
            d.contact.solimp,
            d.efc.type,
            d.efc.id,
            d.efc.J_rownnz,
            d.efc.J_rowadr,
            d.efc.J_colind,
            d.efc.J,
            d.efc.pos,
            d.efc.margin,
            d.efc.frictionloss,
        ],
        outputs=[d.efc.force],
    )
    if m.is_sparse:
        d.qfrc_constraint.zero_()
        deterministic = bool(m.opt.deterministic & mjw.DeterminismType.ATOMICS)
        wp.launch(
            jt_force_sparse_kernel(deterministic, nv if deterministic else 0),
            dim=(nworld, d.njmax),
            inputs=[d.nefc, d.efc.J_rownnz, d.efc.J_rowadr, d.efc.J_colind, d.efc.J, d.efc.force],
            outputs=[d.qfrc_constraint],
        )
    else:
        wp.launch(
            _jt_force_dense,
            dim=(nworld, nv),
            inputs=[d.nefc, d.efc.J, d.efc.force],
            outputs=[d.qfrc_constraint],
        )
    wp.launch(_total_force, dim=(nworld, nv), inputs=[d.qfrc_smooth, d.qfrc_constraint], outputs=[d.efc.Ma])
    mjw.solve_m(m, d, d.qacc, d.efc.Ma)
