"""The ComFree device model: mujoco_warp's Model plus the per-world gains, and what the pass refuses."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import mujoco
import mujoco_warp as mjw
import numpy as np
import warp as wp

from mjpod.engines.base import COMFREE_DAMPING, COMFREE_STIFFNESS, contact_gains
from mjpod.errors import SettingError

# the seed-compatible API's names for the defaults, which EngineConfig shares (one source: engines.base)
DEFAULT_STIFFNESS = COMFREE_STIFFNESS
DEFAULT_DAMPING = COMFREE_DAMPING


class ComFreeSettingError(SettingError):
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


def put_model(
    mjm: mujoco.MjModel,
    comfree_stiffness: float | Sequence[float] = DEFAULT_STIFFNESS,
    comfree_damping: float | Sequence[float] = DEFAULT_DAMPING,
) -> Model:
    """The device model with the ComFree gains (a scalar, or a vector that worlds share by w % len)."""
    check_supported(mjm)
    stiffness = np.array(contact_gains(comfree_stiffness, "comfree_stiffness"), dtype=np.float32)
    damping = np.array(contact_gains(comfree_damping, "comfree_damping"), dtype=np.float32)
    base = mjw.put_model(mjm)
    base.opt.run_qacc_smooth = True  # the pass starts from qacc_smooth: it must always be computed
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(mjw.Model) if f.init}
    return Model(
        **fields,
        comfree_stiffness=wp.array(stiffness, dtype=float),
        comfree_damping=wp.array(damping, dtype=float),
    )


def require_comfree(m: mjw.Model) -> Model:
    """`m` as a ComFree model; a plain mujoco_warp model has no gains to run the pass with."""
    if not isinstance(m, Model) or m.comfree_stiffness is None or m.comfree_damping is None:
        raise TypeError("this model has no ComFree gains: make it with mjpod.comfree_warp.put_model")
    return m
