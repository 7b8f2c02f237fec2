"""The user's controller in the loop (docs/policy.md): `--policy SPEC` in record, serve, rollout,
`view --local` and the sweep's `policy` key.

`load(spec, mjm, nworld)` reads the spec (source), imports a Python policy (python_policy) or opens
an ONNX one (onnx_policy), checking it against the model before anything runs; `Controlled` (an
Engine around the job's engine) calls it at its rate and checks every answer. `engine_config` says
how the engine's own controls combine with it: `hold` (the policy's action alone; the default with a
policy) or `noise` (the engine's noise on top of the action).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mujoco

from mjpod import models
from mjpod.engines import Engine, EngineConfig
from mjpod.jobs import simulation
from mjpod.jobs.policy import onnx_policy, python_policy
from mjpod.jobs.policy.controlled import Controlled, PolicyFailed, steps_per_call
from mjpod.jobs.policy.source import Policy, PolicyError, PolicySource, resolve

CTRL_WITH_POLICY = "hold"  # --ctrl when a policy drives and none is given: its action alone


def load(
    spec: str, mjm: mujoco.MjModel, nworld: int, device: str | None = None, folder: Path | None = None
) -> Policy:
    """The policy `spec` names, ready to call; a PolicyError (import, signature, ONNX inputs and
    outputs against `mjm` and `nworld`) before any engine starts."""
    source = resolve(spec, folder)
    if source.kind == "onnx":
        return onnx_policy.load(source, mjm, nworld, device)
    return python_policy.load(source)


def default_ctrl(policy: str | None) -> str:
    """The control mode when none is given: the engines' default, or the policy's action alone."""
    return CTRL_WITH_POLICY if policy else EngineConfig.ctrl


def engine_config(config: EngineConfig) -> EngineConfig:
    """`config` for an engine a policy drives: `hold` keeps the action between calls, `noise` adds the
    engine's noise on top of it; `zero` would throw the action away, so it is refused."""
    if config.ctrl == "zero":
        raise PolicyError(
            "--ctrl zero would throw the policy's actions away: leave --ctrl out (the policy's action "
            "alone) or give --ctrl noise to add the engine's control noise on top of it"
        )
    return dataclasses.replace(config, noise_on_action=config.ctrl == "noise")


def prepare(
    spec: str | None, hz: float | None, mjm: mujoco.MjModel, config: EngineConfig, folder: Path | None = None
) -> tuple[Policy | None, EngineConfig]:
    """A job's policy, loaded and checked against the model before anything runs, and the engine
    settings it drives with; (None, config) without one."""
    if spec is None:
        if hz is not None:
            raise PolicyError("--policy-hz is set without a policy: give --policy too, or leave the rate out")
        return None, config
    steps_per_call(hz, float(mjm.opt.timestep))
    return load(spec, mjm, config.nworld, config.device, folder), engine_config(config)


def drive(engine: Engine, policy: Policy | None, hz: float | None = None) -> Engine:
    """`engine` as the job steps it: Controlled by `policy` when there is one."""
    if policy is None:
        return engine
    try:
        return Controlled(engine, policy, hz)
    except BaseException:
        engine.close()
        raise


def start(
    spec: str, engine: str, config: EngineConfig, policy: str | None = None, hz: float | None = None
) -> tuple[models.LoadedModel, Engine]:
    """`simulation.start` with the policy in the loop: the model, the policy checked against it, then
    the engine it drives (serve, `view --local`)."""
    loaded = models.load(spec)
    ready, config = prepare(policy, hz, loaded.model, config)
    return loaded, drive(simulation.make_engine(loaded.name, loaded.model, engine, config), ready, hz)


__all__ = [
    "CTRL_WITH_POLICY",
    "Controlled",
    "Policy",
    "PolicyError",
    "PolicyFailed",
    "PolicySource",
    "default_ctrl",
    "drive",
    "engine_config",
    "load",
    "prepare",
    "resolve",
    "start",
    "steps_per_call",
]
