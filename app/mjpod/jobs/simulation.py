"""Start a simulation from what a user typed: load the model spec, then build the engine on it; and
step it to a clock (video frames, rollout samples).

Shared by record, rollout, serve and `view --local`, so a model or engine that cannot start is reported
the same way everywhere: which engine, on which model, and why.
"""

from __future__ import annotations

import math

import mujoco

from mjpod import models
from mjpod.engines import ENGINES, Engine, EngineConfig, make
from mjpod.errors import MjpodError, SettingError

MAX_FRAMES = 10_000_000  # frames (or samples) of one run: 3.8 days of video at 30 fps; more is a typo


def start(spec: str, engine: str, config: EngineConfig) -> tuple[models.LoadedModel, Engine]:
    """The loaded model and the engine running it; raises ModelError or MjpodError with the fix."""
    lm = models.load(spec)
    return lm, make_engine(lm.name, lm.model, engine, config)


def make_engine(model_name: str, mjm: mujoco.MjModel, engine: str, config: EngineConfig) -> Engine:
    """`engines.make`, with a refusal (a model setting, a missing device) stated as an MjpodError."""
    if engine not in ENGINES:
        raise SettingError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    try:
        return make(engine, mjm, config)
    except (ValueError, RuntimeError) as err:
        raise MjpodError(f"cannot start {engine} on {model_name}: {err}") from None


def check_frames(rate: float, duration: float, what: str = "frames") -> None:
    """Refuse a rate and duration whose frame count is not finite or beyond MAX_FRAMES (a product that
    overflows would otherwise fail at the first frame, or never end)."""
    count = rate * duration
    if not (math.isfinite(count) and count <= MAX_FRAMES):
        raise SettingError(
            f"{rate:g} {what} a second for {duration:g} s is {count:g} {what}, more than the "
            f"{MAX_FRAMES:,} one run makes: shorten the duration or lower the rate"
        )


def steps_before_frame(k: int, rate: float, timestep: float) -> int:
    """Physics steps between frame (or sample) k-1 and k at `rate` per simulated second, rounded per
    frame without drifting over a long run; none before frame 0, the initial state."""
    if k <= 0:
        return 0
    per_frame = 1.0 / (rate * timestep)
    return round(k * per_frame) - round((k - 1) * per_frame)
