"""ComFree on the mujoco_warp pipeline, with the seed's module API.

Seed scripts port by changing one import (`import mjpod.comfree_warp as mjwarp`): `put_model` takes
`comfree_stiffness` and `comfree_damping`, and `put_data`, `step`, `forward`, `get_data_into`,
`reset_data` keep their mujoco_warp shapes. A step runs mujoco_warp up to the smooth dynamics and
replaces only the constraint solve with the closed-form ComFree pass (engines/comfree_kernels.py).
Every other mujoco_warp name (types, enums, kinematics, collision, rendering) passes through, as the
seed re-exports them, except those that would run mujoco_warp's own solver instead of ComFree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import mujoco
import mujoco_warp as mjw
import numpy as np
import warp as wp

from mjpod.engines import comfree_kernels

DEFAULT_STIFFNESS = 0.2
DEFAULT_DAMPING = 0.001

# mujoco_warp's host <-> device functions work unchanged on a ComFree model
put_data = mjw.put_data
make_data = mjw.make_data
get_data_into = mjw.get_data_into
reset_data = mjw.reset_data
reset_data_keyframe = mjw.reset_data_keyframe
Data = mjw.Data


class ComFreeSettingError(ValueError):
    """A model setting ComFree does not implement; the message names it and what to use instead."""


@dataclasses.dataclass
class Model(mjw.Model):
    """A mujoco_warp model plus the ComFree gains; world w uses element w % len of each."""

    comfree_stiffness: wp.array | None = None
    comfree_damping: wp.array | None = None


def check_supported(mjm: mujoco.MjModel) -> None:
    """Refuse what the closed-form pass does not cover, before anything is put on a device."""
    opt = mjm.opt
    if opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC:
        raise ComFreeSettingError(
            'comfree supports the pyramidal friction cone only, and this model sets cone="elliptic": '
            'set <option cone="pyramidal"/> in the model, or use --engine mjwarp'
        )
    allowed = (mujoco.mjtIntegrator.mjINT_EULER, mujoco.mjtIntegrator.mjINT_IMPLICITFAST)
    if opt.integrator not in allowed:
        name = mujoco.mjtIntegrator(opt.integrator).name.removeprefix("mjINT_")
        raise ComFreeSettingError(
            f"comfree integrates with Euler or implicitfast only, and this model sets integrator={name}: "
            'set <option integrator="implicitfast"/> (or "Euler") in the model, or use --engine mjwarp'
        )
    if opt.noslip_iterations > 0:
        raise ComFreeSettingError(
            f"comfree has no noslip pass, and this model sets noslip_iterations={opt.noslip_iterations}: "
            'set <option noslip_iterations="0"/>, or use --engine mjwarp'
        )
    if opt.enableflags & mujoco.mjtEnableBit.mjENBL_SLEEP:
        raise ComFreeSettingError(
            "comfree does not run with sleeping bodies, and this model enables sleep: "
            'remove <flag sleep="enable"/> from the model, or use --engine mjwarp'
        )
    if mjm.nflex:
        raise ComFreeSettingError(
            f"comfree covers rigid bodies only, and this model has {mjm.nflex} flex(es): use --engine mjwarp"
        )
    flex_eq = {int(mujoco.mjtEq.mjEQ_FLEX), int(mujoco.mjtEq.mjEQ_FLEXSTRAIN)}
    if any(int(t) in flex_eq for t in mjm.eq_type):
        raise ComFreeSettingError(
            "comfree has no flex equality constraints, and this model has one: use --engine mjwarp"
        )


def _gains(values: float | Sequence[float], name: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
    if array.size == 0 or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name} needs one or more finite numbers >= 0, got {values!r}")
    return array.astype(np.float32)


def put_model(
    mjm: mujoco.MjModel,
    comfree_stiffness: float | Sequence[float] = DEFAULT_STIFFNESS,
    comfree_damping: float | Sequence[float] = DEFAULT_DAMPING,
) -> Model:
    """The device model with the ComFree gains (a scalar, or a vector that worlds share by w % len)."""
    check_supported(mjm)
    stiffness = _gains(comfree_stiffness, "comfree_stiffness")
    damping = _gains(comfree_damping, "comfree_damping")
    base = mjw.put_model(mjm)
    base.opt.run_qacc_smooth = True  # the pass starts from qacc_smooth: it must always be computed
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(mjw.Model) if f.init}
    return Model(
        **fields,
        comfree_stiffness=wp.array(stiffness, dtype=float),
        comfree_damping=wp.array(damping, dtype=float),
    )


def _require_comfree(m: mjw.Model) -> Model:
    if not isinstance(m, Model) or m.comfree_stiffness is None or m.comfree_damping is None:
        raise TypeError("this model has no ComFree gains: make it with mjpod.comfree_warp.put_model")
    return m


def forward(m: Model, d: mjw.Data) -> None:
    """Forward dynamics with the ComFree pass as the constraint solve."""
    m = _require_comfree(m)
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
    comfree_kernels.solve(m, d, m.comfree_stiffness, m.comfree_damping)
    if m.opt.run_rne_postconstraint or (sensors and m.sensor_rne_postconstraint):
        mjw.rne_postconstraint(m, d)
    if sensors:
        mjw.sensor_acc(m, d, skip_rne_postconstraint=True)


# mujoco_warp entry points that run its own constraint solver (or an integrator ComFree refuses):
# passing them through would quietly simulate without ComFree
_NOT_COMFREE = frozenset({"step1", "step2", "solve", "inverse", "rungekutta4", "discrete"})


def __getattr__(name: str) -> object:
    """The rest of mujoco_warp's public API, so seed scripts that call e.g. `kinematics` still port."""
    if name in _NOT_COMFREE:
        raise AttributeError(
            f"mjpod.comfree_warp has no {name}: mujoco_warp's {name} runs its own constraint solver, "
            "not ComFree; use step or forward (or mujoco_warp itself for the iterative solver)"
        )
    if not name.startswith("_") and hasattr(mjw, name):
        return getattr(mjw, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def step(m: Model, d: mjw.Data) -> None:
    """One step of every world: ComFree forward dynamics, then Euler or implicitfast."""
    forward(m, d)
    if m.opt.integrator == mjw.IntegratorType.EULER:
        mjw.euler(m, d)
    else:  # check_supported let only implicitfast through besides Euler
        mjw.implicit(m, d)


__all__ = [
    "DEFAULT_DAMPING",
    "DEFAULT_STIFFNESS",
    "ComFreeSettingError",
    "Data",
    "Model",
    "check_supported",
    "forward",
    "get_data_into",
    "make_data",
    "put_data",
    "put_model",
    "reset_data",
    "reset_data_keyframe",
    "step",
]
