"""The one small interface every engine implements, and the settings they share."""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import mujoco
import numpy as np

from mjpod.errors import SettingError

CtrlMode = Literal["zero", "noise", "hold"]
# comfree's per-step contact gains (docs/comfree.md): the defaults of every entry point
COMFREE_STIFFNESS = 0.2
COMFREE_DAMPING = 0.001
SEED_MAX = 2**31 - 1  # the Warp engines pass the seed to their kernels as an int32


def contact_gains(values: float | Sequence[float], name: str) -> tuple[float, ...]:
    """comfree gains as a tuple: one number, or several that worlds share (world w takes element w % len)."""
    try:
        gains = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel())
    except (TypeError, ValueError):
        gains = ()
    if not gains or not all(math.isfinite(v) and v >= 0 for v in gains):
        raise SettingError(f"{name} needs one or more finite numbers >= 0, got {values!r}")
    return gains


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """Settings shared by every engine; an engine ignores what does not apply to it."""

    nworld: int = 1
    device: str | None = None  # Warp device ("cuda:0", "cpu"); None: WARP_DEVICE, else Warp's preferred
    nconmax: int | None = None  # contacts per world (Warp engines)
    njmax: int | None = None  # constraint rows per world (Warp engines)
    ctrl: CtrlMode = "noise"  # zero, noise (as mjwarp-testspeed), or hold what set_ctrl gave
    # ctrl = noise: add the noise on top of what set_ctrl gave (a policy's action), instead of letting
    # it hover around the keyframe's ctrl; the same Ornstein-Uhlenbeck process, centred on zero
    noise_on_action: bool = False
    noise_std: float = 0.01  # fraction of each actuator's half range
    noise_rate: float = 0.1  # seconds: time constant of the Ornstein-Uhlenbeck noise
    seed: int = 0
    keyframe: int | None = 0  # reset to this keyframe when the model has one (as mjwarp-testspeed)
    cuda_graph: bool = True  # capture the step in a CUDA graph on CUDA devices
    # Warp engines: mujoco_warp's deterministic execution (stable contact and constraint order,
    # order-invariant atomic sums), so a CUDA run repeats bit for bit; slower. The CPU device is always so.
    deterministic: bool = False
    nthread: int | None = None  # mjc: rollout threads for nworld > 1 (None: all cores)
    # comfree: per-step stiffness and damping; world w uses element w % len (docs/comfree.md)
    comfree_stiffness: tuple[float, ...] = (COMFREE_STIFFNESS,)
    comfree_damping: tuple[float, ...] = (COMFREE_DAMPING,)

    def __post_init__(self) -> None:
        if self.nworld < 1:
            raise SettingError(f"nworld must be at least 1, got {self.nworld}")
        if self.ctrl not in ("zero", "noise", "hold"):
            raise SettingError(f"ctrl must be zero, noise or hold, got {self.ctrl!r}")
        if not 0 <= self.seed <= SEED_MAX:
            raise SettingError(f"seed must be between 0 and {SEED_MAX}, got {self.seed}")
        contact_gains(self.comfree_stiffness, "comfree_stiffness")
        contact_gains(self.comfree_damping, "comfree_damping")


class Engine(abc.ABC):
    """nworld copies of one model stepped together; world i can be copied out into an MjData."""

    name: ClassVar[str]

    def __init__(self, mjm: mujoco.MjModel, config: EngineConfig) -> None:
        self.mjm = mjm
        self.config = config
        self.nworld = config.nworld
        self.timestep = float(mjm.opt.timestep)
        self.ctrl_center = ctrl_center(mjm, config.keyframe)

    @property
    @abc.abstractmethod
    def device(self) -> str:
        """Where the simulation runs ("cpu" for MuJoCo C, a Warp device name otherwise)."""

    @abc.abstractmethod
    def step(self, n: int = 1) -> None:
        """Advance every world by n steps (controls are updated before each step)."""

    @abc.abstractmethod
    def set_ctrl(self, ctrl: np.ndarray) -> None:
        """Set controls: shape (nu,) for every world or (nworld, nu)."""

    def device_arrays(self, sensors: bool = True) -> dict[str, Any]:
        """Every world's qpos, qvel, ctrl (and sensordata at this state) as (nworld, n) arrays where the
        engine keeps them, DLPack-ready: a policy on the same device reads them without a copy to the
        host. The Warp engines hand out device buffers overwritten at the next call; this default (the
        CPU engine) hands out `observe()`'s host arrays, which are DLPack-ready too."""
        return self.observe(sensors)

    def set_ctrl_array(self, ctrl: Any) -> None:
        """`set_ctrl` from any DLPack array (a Warp, PyTorch or JAX array, numpy) of shape (nworld, nu)
        or (nu,): the Warp engines copy it on their device; this default takes it through the host."""
        try:
            host = np.from_dlpack(ctrl)
        except (AttributeError, BufferError, RuntimeError, TypeError, ValueError) as err:
            raise ValueError(
                f"engine {self.name} runs on the CPU and cannot read this array ({err}): return a CPU array"
            ) from None
        if host.dtype.kind != "f":
            raise ValueError(f"ctrl has dtype {host.dtype}: return floating-point controls")
        if not np.all(np.isfinite(host)):
            raise ValueError(f"ctrl holds {np.count_nonzero(~np.isfinite(host))} NaN or infinite value(s)")
        self.set_ctrl(host)

    @abc.abstractmethod
    def copy_world(self, i: int, mjd: mujoco.MjData) -> mujoco.MjData:
        """Copy world i's state (time, qpos, qvel, act, ctrl, mocap, applied forces) into `mjd`, no more:
        the cheap part of `get_world`, for callers that run mj_forward elsewhere or not at all."""

    def get_world(self, i: int, mjd: mujoco.MjData | None = None) -> mujoco.MjData:
        """Copy world i's state into `mjd` (a new one if None) and run mj_forward, so it can be drawn."""
        mjd = self.copy_world(i, mjd if mjd is not None else mujoco.MjData(self.mjm))
        mujoco.mj_forward(self.mjm, mjd)
        return mjd

    def observe(self, sensors: bool = True) -> dict[str, np.ndarray]:
        """Every world's state now as (nworld, n) arrays: qpos, qvel, ctrl, and with `sensors` the
        sensordata computed at this state. What a rollout samples (and a policy would see); this
        default copies one world at a time, the Warp engines copy each array once for all worlds."""
        mjd = getattr(self, "_observer", None)
        if mjd is None:  # one scratch MjData, kept: making one costs more than a small model's step
            mjd = self._observer = mujoco.MjData(self.mjm)
        out = {name: np.empty((self.nworld, getattr(mjd, name).size)) for name in observed(sensors)}
        for w in range(self.nworld):
            self.get_world(w, mjd)
            for name, rows in out.items():
                rows[w] = getattr(mjd, name)
        return out

    @abc.abstractmethod
    def reset(self) -> None:
        """Back to the initial state (the keyframe when there is one); held controls and forces end."""

    # One world steered from outside (the browser view's --web-control): each call takes effect at
    # the next step and lasts until changed or until that world is reset.

    @abc.abstractmethod
    def reset_world(self, i: int) -> None:
        """World i alone back to the initial state; its held controls and applied forces end."""

    @abc.abstractmethod
    def hold_ctrl(self, i: int, ctrl: np.ndarray) -> None:
        """World i's actuators take `ctrl` (nu,) and keep it: no noise or zeroing for that world."""

    @abc.abstractmethod
    def apply_force(self, i: int, xfrc: np.ndarray) -> None:
        """Apply `xfrc` (nbody, 6: force, torque at each body's center of mass) to world i's bodies."""

    def close(self) -> None:
        """Release threads or device memory early; the engine is unusable afterwards."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sync(self) -> None:
        """Wait for queued device work; a no-op on the CPU."""

    def overflow(self) -> str | None:
        """A message when a buffer (contacts, constraint rows) overflowed in some world, else None."""
        return None

    def memory(self) -> tuple[int, int] | None:
        """Bytes of device memory the model and the data of all worlds take; None for a host engine."""
        return None

    def gains(self, world: int) -> tuple[float, float] | None:
        """The contact gains (stiffness, damping) world `world` runs with, for engines that take them."""
        return None

    def _world(self, i: int) -> int:
        if not 0 <= i < self.nworld:
            raise IndexError(f"world {i} out of range: this engine has {self.nworld} world(s)")
        return i

    def _row(self, name: str, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != shape or not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite with shape {shape}; got shape {values.shape}")
        return values

    def _ctrl_rows(self, ctrl: np.ndarray) -> np.ndarray:
        ctrl = np.asarray(ctrl, dtype=np.float64)
        nu = self.mjm.nu
        if ctrl.shape == (nu,):
            return np.broadcast_to(ctrl, (self.nworld, nu))
        if ctrl.shape == (self.nworld, nu):
            return ctrl
        raise ValueError(f"ctrl must have shape ({nu},) or ({self.nworld}, {nu}); got {ctrl.shape}")


def observed(sensors: bool) -> tuple[str, ...]:
    """The MjData fields `Engine.observe` hands back, in order."""
    return ("qpos", "qvel", "ctrl", "sensordata") if sensors else ("qpos", "qvel", "ctrl")


def initial_data(mjm: mujoco.MjModel, keyframe: int | None) -> mujoco.MjData:
    """A fresh MjData at the keyframe when the model has one, else at qpos0."""
    mjd = mujoco.MjData(mjm)
    if keyframe is not None and mjm.nkey > 0:
        if not 0 <= keyframe < mjm.nkey:
            raise ValueError(f"keyframe {keyframe} out of range: the model has {mjm.nkey} keyframe(s)")
        mujoco.mj_resetDataKeyframe(mjm, mjd, keyframe)
    mujoco.mj_forward(mjm, mjd)
    return mjd


def ctrl_center(mjm: mujoco.MjModel, keyframe: int | None) -> np.ndarray:
    """What noise controls hover around: the keyframe's ctrl, else the middle of each ctrlrange."""
    if keyframe is not None and mjm.nkey > 0:
        return mjm.key_ctrl[keyframe].copy()
    limited = mjm.actuator_ctrllimited.astype(bool)
    return np.where(limited, mjm.actuator_ctrlrange.mean(axis=1), 0.0)


def noise_coefficients(timestep: float, std: float, rate: float) -> tuple[float, float]:
    """Discrete Ornstein-Uhlenbeck decay and scale for one step, as mjwarp-testspeed uses them."""
    decay = float(np.exp(-timestep / rate))
    return decay, std * float(np.sqrt(1.0 - decay * decay))


def ctrl_half_range(mjm: mujoco.MjModel) -> np.ndarray:
    """Half of each actuator's ctrlrange; 1 for unlimited actuators (noise is scaled by it)."""
    limited = mjm.actuator_ctrllimited.astype(bool)
    return np.where(limited, 0.5 * (mjm.actuator_ctrlrange[:, 1] - mjm.actuator_ctrlrange[:, 0]), 1.0)
