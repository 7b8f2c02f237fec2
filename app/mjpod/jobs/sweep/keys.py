"""Every key a sweep spec may set: its type, default, the job kinds that read it, and whether it may be a
grid axis. One table, so parsing, validation, job ids and the docs never disagree.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable

from mjpod.engines import DEFAULT_ENGINE, ENGINES, EngineConfig
from mjpod.engines.base import COMFREE_DAMPING, COMFREE_STIFFNESS, SEED_MAX, CtrlMode
from mjpod.jobs.record import MAX_SIDE
from mjpod.render import RENDERERS

KINDS = ("record", "rollout", "bench")
ALL = frozenset(KINDS)
SCENE_KINDS = frozenset({"record", "rollout"})
WARP_ENGINES = frozenset(e for e in ENGINES if e != "mjc")
BENCH_SECTIONS = ("physics", "contact")
CTRL_MODES = typing.get_args(CtrlMode)
MAX_COUNT = 1 << 24  # nworld, buffers, steps: beyond it a job cannot run (and its id would not fit)


def _positive(v: float) -> str | None:
    return None if math.isfinite(v) and v > 0 else "must be a positive number"


def _at_least_one(v: int) -> str | None:
    return None if 1 <= v <= MAX_COUNT else f"must be at least 1 and at most {MAX_COUNT}"


def _at_least_one_core(v: float) -> str | None:
    if math.isfinite(v) and v >= 1:
        return None
    return "must be at least 1: a job uses a whole core at least (Ray would pack several on one core)"


def _seed(v: int) -> str | None:
    return None if 0 <= v <= SEED_MAX else f"must be between 0 and {SEED_MAX}"


def _non_negative(v: float) -> str | None:
    return None if math.isfinite(v) and v >= 0 else "must be a number >= 0"


def _even_size(v: int) -> str | None:
    if 16 <= v <= MAX_SIDE and v % 2 == 0:
        return None
    return f"must be an even number of pixels from 16 to {MAX_SIDE}"


def _one_of(*choices: str) -> Callable[[str], str | None]:
    return lambda v: None if v in choices else f"must be one of: {', '.join(choices)}"


def _subset_of(*choices: str) -> Callable[[list], str | None]:
    def check(v: list) -> str | None:
        bad = [x for x in v if x not in choices]
        if not v or bad:
            return f"must list one or more of: {', '.join(choices)}"
        return None

    return check


def _worlds(v: list) -> str | None:
    return None if v and all(w >= 0 for w in v) else "must list one or more world numbers >= 0"


@dataclasses.dataclass(frozen=True)
class Key:
    """One spec key. `kind` is the Python type of one value ("int list" keys take a list as one value)."""

    kind: type
    default: object
    kinds: frozenset[str]
    axis: bool  # may be a [grid] list
    help: str
    check: Callable[[object], str | None] | None = None
    item: type | None = None  # for list-valued keys: the type of each element
    engines: frozenset[str] | None = None  # only these engines read it (else it is left out of the job)


KEYS: dict[str, Key] = {
    "kind": Key(str, None, ALL, True, "job kind: record, rollout or bench", _one_of(*KINDS)),
    "model": Key(str, None, ALL, True, "model spec: bundled scene, Menagerie robot or a path (relative to the spec)"),
    "engine": Key(str, DEFAULT_ENGINE, ALL, True, f"engine: {', '.join(ENGINES)}", _one_of(*ENGINES)),
    "nworld": Key(int, EngineConfig.nworld, ALL, True, "worlds simulated together in one job", _at_least_one),
    "seed": Key(int, EngineConfig.seed, ALL, True, "seed of the control noise", _seed),
    "ctrl": Key(str, EngineConfig.ctrl, ALL, True, "controls: zero, noise or hold", _one_of(*CTRL_MODES)),
    "device": Key(
        str, "auto", ALL, True,
        "cpu, cuda, or auto (cuda when the cluster has GPUs); Warp engines only",
        _one_of("auto", "cpu", "cuda"), engines=WARP_ENGINES,
    ),
    "comfree_stiffness": Key(
        float, COMFREE_STIFFNESS, ALL, True, "comfree contact stiffness", _non_negative, engines=frozenset({"comfree"})
    ),
    "comfree_damping": Key(
        float, COMFREE_DAMPING, ALL, True, "comfree contact damping", _non_negative, engines=frozenset({"comfree"})
    ),
    "nconmax": Key(int, None, ALL, True, "contacts per world (default: probed)", _at_least_one, engines=WARP_ENGINES),
    "njmax": Key(int, None, ALL, True, "constraint rows per world (default: probed)", _at_least_one, engines=WARP_ENGINES),
    "duration": Key(float, 2.0, SCENE_KINDS, True, "simulated seconds", _positive),
    "width": Key(int, 320, SCENE_KINDS, True, "image width of one world", _even_size),
    "height": Key(int, 240, SCENE_KINDS, True, "image height of one world", _even_size),
    "camera": Key(str, None, SCENE_KINDS, True, "model camera name or id, or free (default: the first camera)"),
    "fps": Key(float, 30.0, frozenset({"record"}), True, "video frames per second", _positive),
    "renderer": Key(str, "gl", frozenset({"record"}), True, "gl or batch (Warp engines)", _one_of(*RENDERERS)),
    "worlds": Key(list, [0], frozenset({"record"}), False, "worlds tiled into the video", _worlds, item=int),
    "rate": Key(float, 50.0, frozenset({"rollout"}), True, "samples per simulated second", _positive),
    "sensors": Key(bool, True, frozenset({"rollout"}), False, "save sensordata"),
    "frames": Key(bool, False, frozenset({"rollout"}), False, "save rendered RGB frames of every world"),
    "shard_mb": Key(float, 256.0, frozenset({"rollout"}), False, "largest shard in MiB", _positive),
    "nstep": Key(int, 1000, frozenset({"bench"}), True, "steps per physics measurement", _at_least_one),
    "seconds": Key(float, 3.0, frozenset({"bench"}), False, "time budget per measurement on CPU", _positive),
    "sections": Key(
        list, ["physics"], frozenset({"bench"}), False,
        "bench sections: physics (this cell), contact (comfree vs mjwarp on contact scenes)",
        _subset_of(*BENCH_SECTIONS), item=str,
    ),
}  # fmt: skip

REQUIRED = ("kind", "model")

# [resources]: what each job asks Ray for
RESOURCE_KEYS: dict[str, Key] = {
    "cpus": Key(
        float, 1.0, ALL, False, "CPU cores per job, 1 or more (mjc's threads follow it)", _at_least_one_core
    ),
    "gpus": Key(
        float, 1.0, ALL, False, "GPUs per job on cuda; a fraction packs small jobs on one GPU", _positive
    ),
}
