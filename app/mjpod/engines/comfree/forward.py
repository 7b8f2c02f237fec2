"""One ComFree step: mujoco_warp's pipeline up to the smooth dynamics, then the closed-form pass
(kernels.solve) in place of the iterative solver, then Euler or implicitfast (docs/comfree.md)."""

from __future__ import annotations

import mujoco_warp as mjw

from mjpod.engines.comfree import kernels
from mjpod.engines.comfree.model import Model, require_comfree


def forward(m: Model, d: mjw.Data) -> None:
    """Forward dynamics with the ComFree pass as the constraint solve."""
    m = require_comfree(m)
    sensors = not (m.opt.disableflags & mjw.DisableBit.SENSOR)
    energy = bool(m.opt.enableflags & mjw.EnableBit.ENERGY)
    mjw.fwd_position(m, d, factorize=False)
    if sensors:
        d.sensordata.zero_()
        mjw.sensor_pos(m, d)
    if energy and not m.sensor_e_potential:
        mjw.energy_pos(m, d)
    mjw.fwd_velocity(m, d)
    if sensors:
        mjw.sensor_vel(m, d)
    if energy and not m.sensor_e_kinetic:
        mjw.energy_vel(m, d)
    if m.callback.control and not (m.opt.disableflags & mjw.DisableBit.ACTUATION):
        m.callback.control(m, d)
    mjw.fwd_actuation(m, d)
    mjw.fwd_acceleration(m, d, factorize=True)  # qacc_smooth and the factorization the pass reuses
    kernels.solve(m, d, m.comfree_stiffness, m.comfree_damping)
    if m.opt.run_rne_postconstraint or (sensors and m.sensor_rne_postconstraint):
        mjw.rne_postconstraint(m, d)
    if sensors:
        mjw.sensor_acc(m, d, skip_rne_postconstraint=True)


def step(m: Model, d: mjw.Data) -> None:
    """One step of every world: ComFree forward dynamics, then Euler or implicitfast."""
    forward(m, d)
    if m.opt.integrator == mjw.IntegratorType.EULER:
        mjw.euler(m, d)
    else:  # check_supported let only implicitfast through besides Euler
        mjw.implicit(m, d)
