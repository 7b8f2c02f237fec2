"""ComFree on the mujoco_warp pipeline, with the seed's module API (the law: docs/comfree.md).

Seed scripts port by changing one import (`import mjpod.comfree_warp as mjwarp`, which re-exports this
package): `put_model` takes `comfree_stiffness` and `comfree_damping`, and `put_data`, `step`,
`forward`, `get_data_into`, `reset_data` keep their mujoco_warp shapes. A step runs mujoco_warp up to
the smooth dynamics and replaces only the constraint solve with the closed-form ComFree pass
(`kernels`). Every other mujoco_warp name (types, enums, kinematics, collision, rendering) passes
through, as the seed re-exports them, except those that would run mujoco_warp's own solver instead.
The `Engine` behind `mjpod.engines.make("comfree", ...)` is `engine.ComFreeEngine`.
"""

from __future__ import annotations

import mujoco_warp as mjw

from mjpod.engines.comfree.forward import forward, step
from mjpod.engines.comfree.model import (
    DEFAULT_DAMPING,
    DEFAULT_STIFFNESS,
    ComFreeSettingError,
    Model,
    check_supported,
    put_model,
)

# mujoco_warp's host <-> device functions work unchanged on a ComFree model
put_data = mjw.put_data
make_data = mjw.make_data
get_data_into = mjw.get_data_into
reset_data = mjw.reset_data
reset_data_keyframe = mjw.reset_data_keyframe
Data = mjw.Data

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
