"""The simulation engines behind one interface: `make(name, model, config)`."""

from __future__ import annotations

import mujoco

from mjpod.engines.base import Engine, EngineConfig
from mjpod.errors import SettingError

ENGINES = ("mjc", "mjwarp", "comfree")
DEFAULT_ENGINE = "mjc"  # what a command simulates with when no --engine is given


def make(name: str, mjm: mujoco.MjModel, config: EngineConfig | None = None) -> Engine:
    """Build engine `name` on `mjm`. Imports lazily so `mjc` never loads Warp."""
    config = config or EngineConfig()
    if name == "mjc":
        from mjpod.engines.mjc import MjcEngine

        return MjcEngine(mjm, config)
    if name == "mjwarp":
        from mjpod.engines.mjwarp import MjWarpEngine

        return MjWarpEngine(mjm, config)
    if name == "comfree":
        from mjpod.engines.comfree.engine import ComFreeEngine

        return ComFreeEngine(mjm, config)
    raise SettingError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")


__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "EngineConfig", "make"]
