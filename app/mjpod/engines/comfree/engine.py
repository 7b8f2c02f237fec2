"""The ComFree engine: mujoco_warp's pipeline with the closed-form ComFree pass as constraint solve."""

from __future__ import annotations

import mujoco

from mjpod.engines.base import EngineConfig
from mjpod.engines.comfree.forward import forward, step
from mjpod.engines.comfree.model import Model, check_supported, put_model
from mjpod.engines.mjwarp import MjWarpEngine


class ComFreeEngine(MjWarpEngine):
    """Everything of MjWarpEngine (devices, CUDA graph, controls, reset); only the step differs."""

    name = "comfree"

    def __init__(self, mjm: mujoco.MjModel, config: EngineConfig) -> None:
        check_supported(mjm)  # refuse before the contact probe and device buffers
        super().__init__(mjm, config)

    def _put_model(self) -> Model:
        return put_model(
            self.mjm,
            comfree_stiffness=self.config.comfree_stiffness,
            comfree_damping=self.config.comfree_damping,
        )

    def _physics_step(self) -> None:
        step(self.m, self.d)

    def _forward(self) -> None:
        forward(self.m, self.d)

    def gains(self, world: int) -> tuple[float, float]:
        """(stiffness, damping) that world `world` runs with: element world % len of each vector."""
        k, d = self.config.comfree_stiffness, self.config.comfree_damping
        return k[world % len(k)], d[world % len(d)]
