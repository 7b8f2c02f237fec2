"""MuJoCo C on the CPU: one MjData for a single world, `mujoco.rollout` threads for many."""

from __future__ import annotations

import os

import mujoco
import numpy as np
from mujoco import rollout

from mjpod.engines.base import Engine, EngineConfig, ctrl_half_range, initial_data, noise_coefficients

STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


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

    @property
    def _on_action(self) -> bool:
        return self.config.ctrl == "noise" and self.config.noise_on_action

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
        return self._ctrl

    def step(self, n: int = 1) -> None:
        if self._rollout is None:
            for _ in range(n):
                self._data.ctrl[:] = self._next_ctrl()[0]
                mujoco.mj_step(self.mjm, self._data)
            return
        controls = np.empty((self.nworld, n, self.mjm.nu))
        for k in range(n):
            controls[:, k] = self._next_ctrl()
        states, _ = self._rollout.rollout(
            self.mjm, self._scratch, self._state, controls, nstep=n, skip_checks=False
        )
        self._state[:] = states[:, -1]

    def get_world(self, i: int, mjd: mujoco.MjData | None = None) -> mujoco.MjData:
        if not 0 <= i < self.nworld:
            raise IndexError(f"world {i} out of range: this engine has {self.nworld} world(s)")
        mjd = mjd if mjd is not None else mujoco.MjData(self.mjm)
        if self._rollout is None:
            mujoco.mj_getState(self.mjm, self._data, self._state[0], STATE)
        mujoco.mj_setState(self.mjm, mjd, self._state[i], STATE)
        mjd.ctrl[:] = self._ctrl[i]
        mujoco.mj_forward(self.mjm, mjd)
        return mjd

    def close(self) -> None:
        if self._rollout is not None:
            self._rollout.close()
            self._rollout = None
