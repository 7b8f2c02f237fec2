"""An engine whose controls come from a policy: `Controlled(engine, policy).step(n)` asks the policy
for every world's controls at its rate, holds them in between, and steps the engine.

Because it is an Engine, record, serve, rollout and `view --local` run a policy without knowing it:
they step it as any other engine (a renderer keeps drawing the engine inside, `inner`). Each call
hands the policy every world's state at once (`obs`: qpos, qvel, ctrl, sensordata as (nworld, n),
time as (nworld,)) and checks its answer before it touches the simulation: shape (nworld, nu) (or
(nu,) with one world), floating point, finite. Anything else stops the run with a PolicyFailed that
names the policy, the step and what was expected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import mujoco
import numpy as np

from mjpod.engines import Engine
from mjpod.jobs.policy.python_policy import describe_error
from mjpod.jobs.policy.source import Policy, PolicyError


class PolicyFailed(PolicyError):
    """The policy raised or answered something the engine cannot take, at `step`; the run stops there."""

    exit_code = 1  # it ran, and failed

    def __init__(self, message: str, step: int, sim_time: float) -> None:
        super().__init__(message)
        self.step, self.sim_time = step, sim_time

    def kept(self, what: str) -> PolicyFailed:
        """The same failure, saying what the job kept of the run before it."""
        return PolicyFailed(f"{self}; kept {what}", self.step, self.sim_time)


def steps_per_call(hz: float | None, timestep: float) -> float:
    """Physics steps between two policy calls at `hz` calls per simulated second (None: every step)."""
    if hz is None:
        return 1.0
    if not (math.isfinite(hz) and hz > 0):
        raise PolicyError(f"policy_hz must be a positive number of calls per second, got {hz}")
    per_call = 1.0 / (hz * timestep)
    if per_call < 1.0 - 1e-9:
        raise PolicyError(
            f"policy_hz {hz:g} is faster than the physics ({1 / timestep:g} steps per second): the policy "
            "can act at most once a step; lower policy_hz, or leave it out to act every step"
        )
    return per_call


class Observation(Mapping[str, Any]):
    """What a policy is handed: every world's state now, and a job's extras (a rollout's images) drawn
    only when the policy reads one of them, so a policy of the state alone costs no drawing."""

    def __init__(self, now: dict[str, Any], extras: Mapping[str, Callable[[], dict[str, Any]]]) -> None:
        self._now, self._extras = now, extras

    def __getitem__(self, name: str) -> Any:
        if name not in self._now and name in self._extras:
            self._now.update(self._extras[name]())
        return self._now[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._now), **dict.fromkeys(self._extras)})

    def __len__(self) -> int:
        return len(set(self._now) | set(self._extras))


class Controlled(Engine):
    """`inner` stepped with `policy`'s controls, asked for at `hz` (None: before every physics step)."""

    def __init__(self, inner: Engine, policy: Policy, hz: float | None = None) -> None:
        # not Engine.__init__: the inner engine holds the state; this only shares its description
        self.inner, self.policy = inner, policy
        self.mjm, self.config, self.nworld = inner.mjm, inner.config, inner.nworld
        self.timestep, self.ctrl_center, self.name = inner.timestep, inner.ctrl_center, inner.name
        self.hz = hz
        self._per_call = steps_per_call(hz, inner.timestep)
        self._t0 = float(inner.get_world(0).time)
        self.calls = 0  # policy calls since the run began (all episodes)
        self.policy_seconds = 0.0  # wall time inside the policy and its checks
        self._steps = 0  # physics steps since the episode began
        self._episode_calls = 0
        self._extras: dict[str, Callable[[], dict[str, Any]]] = {}  # obs name -> what draws it
        self._reset_policy()

    def observe_also(
        self, names: Iterable[str], draw: Callable[[], dict[str, Any]]
    ) -> Callable[[], dict[str, Any]]:
        """Add `names`, which draw() returns, to `obs` (a rollout's camera images, named as its shards
        name them; drawn when the policy reads one), and return `draw` made to run at most once per
        state, so the job's own sample at the state the policy acts on shares the drawing."""
        drawn: dict[str, Any] = {}

        def once() -> dict[str, Any]:
            now = (self.calls, self._steps)
            if drawn.get("at") != now:
                drawn.update(at=now, value=draw())
            return drawn["value"]

        self._extras |= dict.fromkeys(names, once)
        return once

    def record(self) -> dict[str, Any]:
        """For sidecars and sweep records: what ran (spec, file, SHA-256), how, and how often."""
        return {
            **self.policy.source.describe(),
            "about": self.policy.about,
            "hz": self.hz if self.hz is not None else 1.0 / self.timestep,
            "device_arrays": self.policy.device_arrays,
            "noise_on_top": self.config.ctrl == "noise",
            "calls": self.calls,
            "seconds_in_policy": round(self.policy_seconds, 6),
        }

    # -- the schedule ------------------------------------------------------------------------------

    def _next_call(self) -> int:
        return round(self._episode_calls * self._per_call)

    def step(self, n: int = 1) -> None:
        while n > 0:
            if self._steps >= self._next_call():
                self._act()
            run = min(n, self._next_call() - self._steps)
            self.inner.step(run)
            self._steps += run
            n -= run

    def reset(self) -> None:
        """A new episode: the worlds back to their initial state, the policy's reset() called."""
        self.inner.reset()
        self._steps = self._episode_calls = 0
        self._reset_policy()

    def _reset_policy(self) -> None:
        if self.policy.reset is None:
            return
        try:
            self.policy.reset()
        except Exception as err:
            raise self._failed(f"reset() raised {describe_error(err, self.policy.source.path)}") from err

    # -- one call ----------------------------------------------------------------------------------

    @property
    def sim_time(self) -> float:
        return self._t0 + self._steps * self.timestep

    def observation(self) -> Mapping[str, Any]:
        """What the policy is given now: host arrays, or the engine's device arrays when it asked."""
        obs = self.inner.device_arrays() if self.policy.device_arrays else self.inner.observe()
        if "time" not in obs:
            obs["time"] = np.full(self.nworld, self.sim_time)
        return Observation(obs, self._extras) if self._extras else obs

    def _act(self) -> None:
        start = time.perf_counter()
        obs = self.observation()
        try:
            action = self.policy.call(obs)
        except Exception as err:
            raise self._failed(f"raised {describe_error(err, self.policy.source.path)}") from err
        if self.policy.device_arrays and not isinstance(action, np.ndarray) and hasattr(action, "__dlpack__"):
            self._check_shape(getattr(action, "shape", None))
            try:
                self.inner.set_ctrl_array(action)
            except ValueError as err:
                raise self._failed(f"returned {err}; {self._expected()}") from None
        else:
            self.inner.set_ctrl(self._host_ctrl(action))
        self._episode_calls += 1
        self.calls += 1
        self.policy_seconds += time.perf_counter() - start

    def _expected(self) -> str:
        one = f" (or ({self.mjm.nu},) with one world)" if self.nworld == 1 else ""
        return f"expected ctrl as a float array of shape ({self.nworld}, {self.mjm.nu}){one}, finite"

    def _failed(self, what: str) -> PolicyFailed:
        return PolicyFailed(
            f"policy {self.policy.name!r} at step {self._steps} (t = {self.sim_time:.4g} s) {what}",
            self._steps,
            self.sim_time,
        )

    def _check_shape(self, shape: object) -> None:
        try:
            dims = tuple(int(d) for d in shape)  # type: ignore[union-attr]
        except TypeError:
            raise self._failed(f"returned a {type(shape).__name__} shape; {self._expected()}") from None
        nu = self.mjm.nu
        if dims != (self.nworld, nu) and not (self.nworld == 1 and dims == (nu,)):
            raise self._failed(f"returned ctrl of shape {dims}; {self._expected()}")

    def _host_ctrl(self, action: object) -> np.ndarray:
        if action is None:
            raise self._failed(f"returned None; {self._expected()}")
        try:
            ctrl = np.asarray(action)
        except Exception as err:  # a device tensor, a ragged list
            raise self._failed(
                f"returned a {type(action).__name__} that is not a host array ({err}); {self._expected()}"
                + (
                    "; set device_arrays = True on the policy to return device arrays"
                    if hasattr(action, "__dlpack__")
                    else ""
                )
            ) from None
        self._check_shape(ctrl.shape)
        if ctrl.dtype.kind != "f":
            raise self._failed(f"returned ctrl of dtype {ctrl.dtype}; {self._expected()}")
        bad = ~np.isfinite(ctrl)
        if bad.any():
            worlds = sorted({int(w) for w in np.argwhere(bad.reshape(self.nworld, -1))[:, 0]})
            raise self._failed(
                f"returned {int(bad.sum())} NaN or infinite control(s) (world(s) {worlds[:8]}); {self._expected()}"
            )
        return ctrl

    # -- the rest of the Engine interface: the inner engine's ---------------------------------------

    @property
    def device(self) -> str:
        return self.inner.device

    def set_ctrl(self, ctrl: np.ndarray) -> None:
        raise PolicyError(f"policy {self.policy.name!r} sets the controls; nothing else may")

    def copy_world(self, i: int, mjd: mujoco.MjData) -> mujoco.MjData:
        return self.inner.copy_world(i, mjd)

    def get_world(self, i: int, mjd: mujoco.MjData | None = None) -> mujoco.MjData:
        return self.inner.get_world(i, mjd)

    # The browser view's --web-control steers one world of the inner engine: a world whose controls a
    # browser holds keeps them over the policy's, until that world is reset.

    def reset_world(self, i: int) -> None:
        self.inner.reset_world(i)

    def hold_ctrl(self, i: int, ctrl: np.ndarray) -> None:
        self.inner.hold_ctrl(i, ctrl)

    def apply_force(self, i: int, xfrc: np.ndarray) -> None:
        self.inner.apply_force(i, xfrc)

    def observe(self, sensors: bool = True) -> dict[str, np.ndarray]:
        return self.inner.observe(sensors)

    def device_arrays(self, sensors: bool = True) -> dict[str, Any]:
        return self.inner.device_arrays(sensors)

    def close(self) -> None:
        self.inner.close()

    def sync(self) -> None:
        self.inner.sync()

    def overflow(self) -> str | None:
        return self.inner.overflow()

    def gains(self, world: int) -> tuple[float, float] | None:
        return self.inner.gains(world)
