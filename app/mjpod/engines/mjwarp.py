"""mujoco_warp on any Warp device; on CUDA one step is captured in a graph and replayed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import mujoco
import mujoco_warp as mjw
import numpy as np
import warp as wp

from mjpod.engines import buffers, warp_setup
from mjpod.engines.base import (
    Engine,
    EngineConfig,
    ctrl_half_range,
    initial_data,
    noise_coefficients,
    observed,
)


@wp.func
def _kick(
    counter: wp.array(dtype=wp.int32),
    seed: int,
    scale: float,
    half: wp.array(dtype=wp.float32),
    world: int,
    act: int,
    nworld: int,
    nu: int,
) -> float:
    """This step's uniform kick of one actuator of one world: its own random stream, per seed and step."""
    state = wp.rand_init(seed, (counter[0] * nworld + world) * nu + act)
    return scale * half[act] * (2.0 * wp.randf(state) - 1.0)


@wp.func
def _within(
    c: float, limited: wp.array(dtype=wp.int32), ctrlrange: wp.array2d(dtype=wp.float32), act: int
) -> float:
    """`c` clamped to the actuator's ctrlrange when it is limited."""
    if limited[act] != 0:
        return wp.clamp(c, ctrlrange[act, 0], ctrlrange[act, 1])
    return c


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
    kick = _kick(counter, seed, scale, half, world, act, ctrl.shape[0], ctrl.shape[1])
    c = decay * ctrl[world, act] + (1.0 - decay) * center[act] + kick
    ctrl[world, act] = _within(c, limited, ctrlrange, act)


@wp.kernel
def _ctrl_noise_on_action(
    counter: wp.array(dtype=wp.int32),
    seed: int,
    decay: float,
    scale: float,
    limited: wp.array(dtype=wp.int32),
    ctrlrange: wp.array2d(dtype=wp.float32),
    half: wp.array(dtype=wp.float32),
    action: wp.array2d(dtype=wp.float32),
    noise: wp.array2d(dtype=wp.float32),
    held: wp.array(dtype=wp.int32),
    ctrl: wp.array2d(dtype=wp.float32),
):
    world, act = wp.tid()
    if held[world] != 0:  # hold_ctrl set this world's controls: they stay
        return
    n = decay * noise[world, act] + _kick(
        counter, seed, scale, half, world, act, ctrl.shape[0], ctrl.shape[1]
    )
    noise[world, act] = n
    ctrl[world, act] = _within(action[world, act] + n, limited, ctrlrange, act)


@wp.kernel
def _ctrl_zero(held: wp.array(dtype=wp.int32), ctrl: wp.array2d(dtype=wp.float32)):
    world, act = wp.tid()
    if held[world] == 0:
        ctrl[world, act] = 0.0


@wp.kernel
def _advance(counter: wp.array(dtype=wp.int32)):
    counter[0] = counter[0] + 1


def array_bytes(structure: object, seen: set[int] | None = None) -> int:
    """Bytes of every Warp array in a mujoco_warp dataclass (nested ones included, each array once): its
    device memory, counted as mujoco_warp's testspeed --memory counts it (allocated capacity)."""
    seen = set() if seen is None else seen
    total = 0
    for field in dataclasses.fields(structure):  # type: ignore[arg-type]
        value = getattr(structure, field.name)
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, wp.array):
            total += value.capacity
        elif dataclasses.is_dataclass(value):
            total += array_bytes(value, seen)
    return total


@wp.kernel
def _count_nonfinite(values: wp.array2d(dtype=wp.float32), count: wp.array(dtype=wp.int32)):
    world, act = wp.tid()
    if not wp.isfinite(values[world, act]):
        wp.atomic_add(count, 0, 1)


def _rows(array: wp.array, nworld: int) -> np.ndarray:
    """A (nworld, n) device array on the host; Warp cannot copy out a zero-width one."""
    return array.numpy() if array.shape[-1] else np.zeros((nworld, 0), np.float32)


class MjWarpEngine(Engine):
    name = "mjwarp"

    def __init__(self, mjm: mujoco.MjModel, config: EngineConfig) -> None:
        super().__init__(mjm, config)
        self._device = warp_setup.device(config.device)
        self._init = initial_data(mjm, config.keyframe)
        self._graphs: dict[str, object] = {}  # CUDA graphs of the step and of forward
        self.nconmax, self.njmax = buffers.sized(
            mjm, config.keyframe, config.nconmax, config.njmax, buffers.margin([self.name])
        )
        with wp.ScopedDevice(self._device):
            self.m = self._put_model()
            if config.deterministic:  # mujoco_warp's run-to-run determinism: contacts, rows, atomics
                self.m.opt.deterministic = mjw.DeterminismType.ALL
            self.d = mjw.put_data(mjm, self._init, nworld=self.nworld, nconmax=self.nconmax, njmax=self.njmax)
            self._counter = wp.zeros(1, dtype=wp.int32)
            self._limited = wp.array(mjm.actuator_ctrllimited.astype(np.int32), dtype=wp.int32)
            self._ctrlrange = wp.array(mjm.actuator_ctrlrange.astype(np.float32), dtype=wp.float32)
            self._half = wp.array(ctrl_half_range(mjm).astype(np.float32), dtype=wp.float32)
            self._center = wp.array(self.ctrl_center.astype(np.float32), dtype=wp.float32)
            # noise_on_action: what set_ctrl gave, and the noise added on top of it
            self._action = wp.clone(self.d.ctrl) if self._on_action else None
            self._noise = wp.zeros_like(self.d.ctrl) if self._on_action else None
            self._nonfinite = wp.zeros(1, dtype=wp.int32)
            self._held = wp.zeros(self.nworld, dtype=wp.int32)  # 1: hold_ctrl set the world's controls
        self._observed: dict[str, wp.array] = {}  # device_arrays' buffers
        self._held_host = np.zeros(self.nworld, dtype=np.int32)
        self._forces = False  # whether apply_force was ever called (copy_world then reads them back)
        self._decay, self._scale = noise_coefficients(self.timestep, config.noise_std, config.noise_rate)

    def _put_model(self) -> mjw.Model:
        """The device model; engines built on the mujoco_warp pipeline add their own fields here."""
        return mjw.put_model(self.mjm)

    def _physics_step(self) -> None:
        """One physics step of every world; what a subclass replaces to change the solver."""
        mjw.step(self.m, self.d)

    def _forward(self) -> None:
        """Forward dynamics of every world at its current state, with the step's own solver."""
        mjw.forward(self.m, self.d)

    @property
    def device(self) -> str:
        return str(self._device.alias)

    def memory(self) -> tuple[int, int]:
        return array_bytes(self.m), array_bytes(self.d)

    @property
    def uses_cuda_graph(self) -> bool:
        return self._device.is_cuda and self.config.cuda_graph

    @property
    def _on_action(self) -> bool:
        return self.config.ctrl == "noise" and self.config.noise_on_action

    def _one_step(self) -> None:
        if self.config.ctrl == "zero" and self.mjm.nu:
            wp.launch(_ctrl_zero, dim=(self.nworld, self.mjm.nu), inputs=[self._held], outputs=[self.d.ctrl])
        elif self.config.ctrl == "noise" and self.mjm.nu:
            shared = [
                self._counter,
                self.config.seed,
                self._decay,
                self._scale,
                self._limited,
                self._ctrlrange,
                self._half,
            ]
            if self._on_action:  # zero-mean noise on top of the action
                kernel, inputs = _ctrl_noise_on_action, [*shared, self._action, self._noise, self._held]
            else:  # hovering around the keyframe's ctrl, as mjwarp-testspeed
                kernel, inputs = _ctrl_noise, [*shared, self._center, self._held]
            wp.launch(kernel, dim=(self.nworld, self.mjm.nu), inputs=inputs, outputs=[self.d.ctrl])
            wp.launch(_advance, dim=1, inputs=[self._counter])
        self._physics_step()

    def _launch(self, key: str, launch: Callable[[], None]) -> None:
        """Run `launch` on this engine's device, as a CUDA graph replay when the engine uses graphs."""
        warp_setup.run_captured(self._device, self._graphs if self.uses_cuda_graph else None, key, launch)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self._launch("step", self._one_step)

    def forward(self) -> None:
        """Positions, velocities, forces and sensors of every world at its state now, on the device
        (a step leaves them from before its integration); the state itself does not change."""
        self._launch("forward", self._forward)

    def observe(self, sensors: bool = True) -> dict[str, np.ndarray]:
        """Every world's state in one device-to-host copy per array, sensors computed on the device."""
        if sensors and self.mjm.nsensordata:
            self.forward()
        return {name: _rows(getattr(self.d, name), self.nworld) for name in observed(sensors)}

    def device_arrays(self, sensors: bool = True) -> dict[str, wp.array]:
        """Every world's state copied into buffers on this device (sensors computed there): DLPack-ready
        for a policy on the same device, never through the host, and safe to modify."""
        if sensors and self.mjm.nsensordata:
            self.forward()
        with wp.ScopedDevice(self._device):
            for name in observed(sensors):
                source = getattr(self.d, name)
                if name not in self._observed:
                    self._observed[name] = wp.empty_like(source) if source.shape[-1] else source
                if source.shape[-1]:  # (Warp cannot copy a zero-width array; it holds nothing anyway)
                    wp.copy(self._observed[name], source)
        return {name: self._observed[name] for name in observed(sensors)}

    def set_ctrl_array(self, ctrl: object) -> None:
        """Controls from a DLPack array on this device, float32, (nworld, nu) (or (nu,) for one world):
        copied on the device. A ValueError says what does not fit, or how many values are not finite."""
        try:
            rows = wp.from_dlpack(ctrl)
        except (AttributeError, BufferError, RuntimeError, TypeError, ValueError) as err:
            raise ValueError(f"ctrl is not a DLPack array Warp can read ({err})") from None
        if rows.device != self._device:
            raise ValueError(
                f"ctrl is on {rows.device.alias}, and the engine runs on {self.device}: move it there"
            )
        if rows.dtype != wp.float32:
            raise ValueError(f"ctrl has dtype {wp.types.type_repr(rows.dtype)}: return float32 controls")
        nu = self.mjm.nu
        if rows.shape == (nu,) and self.nworld == 1:
            rows = rows.reshape((1, nu)) if rows.is_contiguous else wp.clone(rows).reshape((1, nu))
        if rows.shape != (self.nworld, nu):
            raise ValueError(f"ctrl has shape {rows.shape}; expected ({self.nworld}, {nu})")
        if not nu:
            return
        with wp.ScopedDevice(self._device):
            self._nonfinite.zero_()
            wp.launch(_count_nonfinite, dim=rows.shape, inputs=[rows, self._nonfinite])
            bad = int(self._nonfinite.numpy()[0])
            if bad:
                raise ValueError(f"ctrl holds {bad} NaN or infinite value(s)")
            wp.copy(self._action if self._on_action else self.d.ctrl, rows)

    def sync(self) -> None:
        wp.synchronize_device(self._device)

    def set_ctrl(self, ctrl: np.ndarray) -> None:
        rows = self._ctrl_rows(ctrl).astype(np.float32)
        target = self._action if self._on_action else self.d.ctrl
        wp.copy(target, wp.array(np.ascontiguousarray(rows), dtype=wp.float32, device=self._device))

    def reset(self) -> None:
        with wp.ScopedDevice(self._device):
            key = self.config.keyframe
            if key is not None and self.mjm.nkey > 0:
                mjw.reset_data_keyframe(self.m, self.d, key)
            else:
                mjw.reset_data(self.m, self.d)
            self._counter.zero_()
            if self._on_action and self.mjm.nu:
                wp.copy(self._action, self.d.ctrl)
                self._noise.zero_()
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
            if self._on_action and self.mjm.nu:  # the action under the noise starts again too
                nu = self.mjm.nu
                wp.copy(self._action, self.d.ctrl, dest_offset=i * nu, src_offset=i * nu, count=nu)
                wp.copy(self._noise, wp.zeros(nu, dtype=wp.float32), dest_offset=i * nu, count=nu)
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
        self._graphs.clear()
