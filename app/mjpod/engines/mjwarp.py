"""mujoco_warp on any Warp device; on CUDA one step is captured in a graph and replayed."""

from __future__ import annotations

import mujoco
import mujoco_warp as mjw
import numpy as np
import warp as wp

from mjpod.engines import buffers, warp_setup
from mjpod.engines.base import Engine, EngineConfig, ctrl_half_range, initial_data, noise_coefficients


@wp.kernel
def _ctrl_noise(
    counter: wp.array(dtype=wp.int32),
    seed: int,
    decay: float,
    scale: float,
    limited: wp.array(dtype=wp.int32),
    ctrlrange: wp.array2d(dtype=wp.float32),
    half: wp.array(dtype=wp.float32),
    center: wp.array(dtype=wp.float32),
    held: wp.array(dtype=wp.int32),
    ctrl: wp.array2d(dtype=wp.float32),
):
    world, act = wp.tid()
    if held[world] != 0:  # hold_ctrl set this world's controls: they stay
        return
    state = wp.rand_init(seed, (counter[0] * ctrl.shape[0] + world) * ctrl.shape[1] + act)
    u = wp.randf(state)
    c = decay * ctrl[world, act] + (1.0 - decay) * center[act] + scale * half[act] * (2.0 * u - 1.0)
    if limited[act] != 0:
        c = wp.clamp(c, ctrlrange[act, 0], ctrlrange[act, 1])
    ctrl[world, act] = c


@wp.kernel
def _ctrl_zero(held: wp.array(dtype=wp.int32), ctrl: wp.array2d(dtype=wp.float32)):
    world, act = wp.tid()
    if held[world] == 0:
        ctrl[world, act] = 0.0


@wp.kernel
def _advance(counter: wp.array(dtype=wp.int32)):
    counter[0] = counter[0] + 1


class MjWarpEngine(Engine):
    name = "mjwarp"

    def __init__(self, mjm: mujoco.MjModel, config: EngineConfig) -> None:
        super().__init__(mjm, config)
        self._device = warp_setup.device(config.device)
        self._init = initial_data(mjm, config.keyframe)
        self._graph = None
        self.nconmax, self.njmax = buffers.sized(
            mjm, config.keyframe, config.nconmax, config.njmax, buffers.margin([self.name])
        )
        with wp.ScopedDevice(self._device):
            self.m = self._put_model()
            self.d = mjw.put_data(mjm, self._init, nworld=self.nworld, nconmax=self.nconmax, njmax=self.njmax)
            self._counter = wp.zeros(1, dtype=wp.int32)
            self._limited = wp.array(mjm.actuator_ctrllimited.astype(np.int32), dtype=wp.int32)
            self._ctrlrange = wp.array(mjm.actuator_ctrlrange.astype(np.float32), dtype=wp.float32)
            self._half = wp.array(ctrl_half_range(mjm).astype(np.float32), dtype=wp.float32)
            self._center = wp.array(self.ctrl_center.astype(np.float32), dtype=wp.float32)
            self._held = wp.zeros(self.nworld, dtype=wp.int32)  # 1: hold_ctrl set the world's controls
        self._held_host = np.zeros(self.nworld, dtype=np.int32)
        self._forces = False  # whether apply_force was ever called (copy_world then reads them back)
        self._decay, self._scale = noise_coefficients(self.timestep, config.noise_std, config.noise_rate)

    def _put_model(self) -> mjw.Model:
        """The device model; engines built on the mujoco_warp pipeline add their own fields here."""
        return mjw.put_model(self.mjm)

    def _physics_step(self) -> None:
        """One physics step of every world; what a subclass replaces to change the solver."""
        mjw.step(self.m, self.d)

    @property
    def device(self) -> str:
        return str(self._device.alias)

    @property
    def uses_cuda_graph(self) -> bool:
        return self._device.is_cuda and self.config.cuda_graph

    def _one_step(self) -> None:
        if self.config.ctrl == "zero" and self.mjm.nu:
            wp.launch(_ctrl_zero, dim=(self.nworld, self.mjm.nu), inputs=[self._held], outputs=[self.d.ctrl])
        elif self.config.ctrl == "noise" and self.mjm.nu:
            wp.launch(
                _ctrl_noise,
                dim=(self.nworld, self.mjm.nu),
                inputs=[
                    self._counter,
                    self.config.seed,
                    self._decay,
                    self._scale,
                    self._limited,
                    self._ctrlrange,
                    self._half,
                    self._center,
                    self._held,
                ],
                outputs=[self.d.ctrl],
            )
            wp.launch(_advance, dim=1, inputs=[self._counter])
        self._physics_step()

    def step(self, n: int = 1) -> None:
        with wp.ScopedDevice(self._device):
            if not self.uses_cuda_graph:
                for _ in range(n):
                    self._one_step()
                return
            if self._graph is None:
                self._one_step()  # loads every kernel, which must happen before a capture
                n -= 1
                with wp.ScopedCapture() as capture:  # records the step, does not run it
                    self._one_step()
                self._graph = capture.graph
            for _ in range(n):
                wp.capture_launch(self._graph)

    def sync(self) -> None:
        wp.synchronize_device(self._device)

    def set_ctrl(self, ctrl: np.ndarray) -> None:
        rows = self._ctrl_rows(ctrl).astype(np.float32)
        wp.copy(self.d.ctrl, wp.array(np.ascontiguousarray(rows), dtype=wp.float32, device=self._device))

    def reset(self) -> None:
        with wp.ScopedDevice(self._device):
            key = self.config.keyframe
            if key is not None and self.mjm.nkey > 0:
                mjw.reset_data_keyframe(self.m, self.d, key)
            else:
                mjw.reset_data(self.m, self.d)
            self._counter.zero_()
            self._set_held(slice(None), 0)

    def reset_world(self, i: int) -> None:
        self._world(i)
        with wp.ScopedDevice(self._device):
            key = self.config.keyframe
            if key is not None and self.mjm.nkey > 0:
                keys = np.full(self.nworld, -1, dtype=np.int32)  # -1: that world is left alone
                keys[i] = key
                mjw.reset_data_keyframe(self.m, self.d, wp.array(keys, dtype=wp.int32))
            else:
                mask = np.zeros(self.nworld, dtype=bool)
                mask[i] = True
                mjw.reset_data(self.m, self.d, reset=wp.array(mask, dtype=bool))
            self._set_held(i, 0)

    def hold_ctrl(self, i: int, ctrl: np.ndarray) -> None:
        ctrl = self._row("ctrl", ctrl, (self.mjm.nu,))
        self._world(i)
        with wp.ScopedDevice(self._device):
            if self.mjm.nu:
                src = wp.array(ctrl.astype(np.float32), dtype=wp.float32)
                wp.copy(self.d.ctrl, src, dest_offset=i * self.mjm.nu, count=self.mjm.nu)
            self._set_held(i, 1)

    def apply_force(self, i: int, xfrc: np.ndarray) -> None:
        xfrc = self._row("xfrc", xfrc, (self.mjm.nbody, 6))
        self._world(i)
        with wp.ScopedDevice(self._device):
            src = wp.array(xfrc.astype(np.float32), dtype=wp.spatial_vector)
            wp.copy(self.d.xfrc_applied, src, dest_offset=i * self.mjm.nbody, count=self.mjm.nbody)
        self._forces = True

    def _set_held(self, worlds: int | slice, value: int) -> None:
        """Mark worlds held (or not) on the host and the device; the captured graph reads the same array."""
        self._held_host[worlds] = value
        self._held.assign(self._held_host)

    def copy_world(self, i: int, mjd: mujoco.MjData) -> mujoco.MjData:
        self._world(i)
        d = self.d
        mjd.time = float(d.time[i : i + 1].numpy()[0])
        if self.mjm.nq:  # Warp cannot slice a zero-width row: a scene with no joints has none
            mjd.qpos[:] = d.qpos[i].numpy()
        if self.mjm.nv:
            mjd.qvel[:] = d.qvel[i].numpy()
        if self.mjm.na:
            mjd.act[:] = d.act[i].numpy()
        if self.mjm.nu:
            mjd.ctrl[:] = d.ctrl[i].numpy()
        if self.mjm.nmocap:
            mjd.mocap_pos[:] = d.mocap_pos[i].numpy()
            mjd.mocap_quat[:] = d.mocap_quat[i].numpy()
        if self._forces:
            mjd.xfrc_applied[:] = d.xfrc_applied[i].numpy()
        return mjd

    def contact_counts(self) -> tuple[float, float]:
        """(active contacts, constraint rows) per world, averaged over the worlds, as of the last step."""
        contacts = int(self.d.nacon.numpy()[0])  # one count for all worlds together
        return contacts / self.nworld, float(self.d.nefc.numpy().mean())

    def overflow(self) -> str | None:
        flags = self.d.overflow.numpy() if hasattr(self.d, "overflow") else None
        if flags is None or not np.any(flags):
            return None
        worlds = np.flatnonzero(flags)
        return (
            f"buffer overflow in {len(worlds)} of {self.nworld} worlds (first: {worlds[0]}): "
            "contacts or constraint rows were dropped; raise --nconmax / --njmax"
        )

    def close(self) -> None:
        self._graph = None
