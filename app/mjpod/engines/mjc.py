"""MuJoCo C on the CPU: one MjData for a single world, `mujoco.rollout` threads for many."""

from __future__ import annotations

import os

import mujoco
import numpy as np
from mujoco import rollout

from mjpod.engines.base import Engine, EngineConfig, ctrl_half_range, initial_data, noise_coefficients

STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
CTRL = int(mujoco.mjtState.mjSTATE_CTRL)
CTRL_AND_FORCES = CTRL | int(mujoco.mjtState.mjSTATE_XFRC_APPLIED)


class MjcEngine(Engine):
    name = "mjc"

    def __init__(self, mjm: mujoco.MjModel, config: EngineConfig) -> None:
        super().__init__(mjm, config)
        self._init = initial_data(mjm, config.keyframe)
        self._data = mujoco.MjData(mjm)  # world 0 when nworld == 1; rollout scratch otherwise
        self._rng = np.random.default_rng(config.seed)
        self._decay, self._scale = noise_coefficients(self.timestep, config.noise_std, config.noise_rate)
        self._half = ctrl_half_range(mjm)
        self._limited = mjm.actuator_ctrllimited.astype(bool)
        self._rollout: rollout.Rollout | None = None
        self._held = np.zeros(self.nworld, dtype=bool)  # worlds whose controls hold_ctrl set
        self._held_ctrl = np.zeros((self.nworld, mjm.nu))
        self._xfrc = np.zeros((self.nworld, mjm.nbody, 6))
        # Once a force was applied, rollouts carry every world's forces: the scratch MjData the threads
        # share would otherwise keep one world's force for the next world it steps.
        self._control_spec = CTRL
        if self.nworld > 1:
            nthread = config.nthread or os.cpu_count() or 1
            self._rollout = rollout.Rollout(nthread=min(nthread, self.nworld))
            self._scratch = [mujoco.MjData(mjm) for _ in range(min(nthread, self.nworld))]
        self.reset()

    @property
    def device(self) -> str:
        return "cpu"

    def reset(self) -> None:
        mujoco.mj_copyData(self._data, self.mjm, self._init)
        size = mujoco.mj_stateSize(self.mjm, STATE)
        self._state = np.empty((self.nworld, size))
        mujoco.mj_getState(self.mjm, self._init, self._state[0], STATE)
        self._state[1:] = self._state[0]
        self._ctrl = np.tile(self._init.ctrl, (self.nworld, 1))
        self._action = self._ctrl.copy()  # what set_ctrl gave, under the noise (noise_on_action)
        self._noise = np.zeros_like(self._ctrl)
        self._held[:] = False
        self._xfrc[:] = 0.0

    @property
    def _on_action(self) -> bool:
        return self.config.ctrl == "noise" and self.config.noise_on_action

    def reset_world(self, i: int) -> None:
        self._world(i)
        if self._rollout is None:
            mujoco.mj_copyData(self._data, self.mjm, self._init)
        else:
            mujoco.mj_getState(self.mjm, self._init, self._state[i], STATE)
        self._ctrl[i] = self._action[i] = self._init.ctrl
        self._noise[i] = 0.0
        self._held[i] = False
        self._xfrc[i] = 0.0

    def hold_ctrl(self, i: int, ctrl: np.ndarray) -> None:
        ctrl = self._row("ctrl", ctrl, (self.mjm.nu,))
        self._held[self._world(i)] = True
        self._held_ctrl[i] = self._ctrl[i] = ctrl

    def apply_force(self, i: int, xfrc: np.ndarray) -> None:
        self._xfrc[self._world(i)] = self._row("xfrc", xfrc, (self.mjm.nbody, 6))
        if self._xfrc[i].any():
            self._control_spec = CTRL_AND_FORCES

    def set_ctrl(self, ctrl: np.ndarray) -> None:
        (self._action if self._on_action else self._ctrl)[:] = self._ctrl_rows(ctrl)

    def _next_ctrl(self) -> np.ndarray:
        """The controls for the next step, per world (noise advances one step)."""
        if self.config.ctrl == "zero":
            self._ctrl[:] = 0.0
        elif self.config.ctrl == "noise" and self.mjm.nu:
            u = self._rng.random(self._ctrl.shape)
            if self._on_action:  # zero-mean noise on top of the action
                self._noise *= self._decay
                self._noise += self._scale * self._half * (2.0 * u - 1.0)
                self._ctrl[:] = self._action + self._noise
            else:  # hovering around the keyframe's ctrl, as mjwarp-testspeed
                self._ctrl[:] = self._decay * self._ctrl + (1.0 - self._decay) * self.ctrl_center
                self._ctrl += self._scale * self._half * (2.0 * u - 1.0)
            rng = self.mjm.actuator_ctrlrange
            self._ctrl[:] = np.where(self._limited, np.clip(self._ctrl, rng[:, 0], rng[:, 1]), self._ctrl)
        if self._held.any():
            self._ctrl[self._held] = self._held_ctrl[self._held]
        return self._ctrl

    def step(self, n: int = 1) -> None:
        if self._rollout is None:
            self._data.xfrc_applied[:] = self._xfrc[0]
            for _ in range(n):
                self._data.ctrl[:] = self._next_ctrl()[0]
                mujoco.mj_step(self.mjm, self._data)
            return
        nu = self.mjm.nu
        width = nu if self._control_spec == CTRL else nu + 6 * self.mjm.nbody
        controls = np.empty((self.nworld, n, width))
        for k in range(n):
            controls[:, k, :nu] = self._next_ctrl()
        if width > nu:
            controls[:, :, nu:] = self._xfrc.reshape(self.nworld, 1, -1)
        states, _ = self._rollout.rollout(
            self.mjm,
            self._scratch,
            self._state,
            controls,
            control_spec=self._control_spec,
            nstep=n,
            skip_checks=False,
        )
        self._state[:] = states[:, -1]

    def copy_world(self, i: int, mjd: mujoco.MjData) -> mujoco.MjData:
        self._world(i)
        if self._rollout is None:
            mujoco.mj_getState(self.mjm, self._data, self._state[0], STATE)
        mujoco.mj_setState(self.mjm, mjd, self._state[i], STATE)
        mjd.ctrl[:] = self._ctrl[i]
        mjd.xfrc_applied[:] = self._xfrc[i]
        return mjd

    def close(self) -> None:
        if self._rollout is not None:
            self._rollout.close()
            self._rollout = None
