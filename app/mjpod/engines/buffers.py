"""Per-world buffer sizes (nconmax, njmax) for the Warp engines, measured instead of guessed.

mujoco_warp's defaults are a heuristic from nv alone, too small for piles of free bodies: contacts are
then dropped and a benchmark measures a different simulation. A short MuJoCo C probe from the same
initial state finds the real peak, and a margin covers what noise controls add.
"""

from __future__ import annotations

import math

import mujoco

from mjpod.engines.base import initial_data

PROBE_SECONDS = 2.0  # simulated time: long enough for dropped objects to land and pile up
PROBE_MAX_STEPS = 2000
MARGIN = 1.5
# Per engine: ComFree's softer contacts settle into denser piles than MuJoCo C's solver, with more
# touching pairs (the bin scene: 211 contacts at peak against 145 for mjwarp and 135 in the probe).
ENGINE_MARGIN = {"mjwarp": MARGIN, "comfree": 2.5}


def probe(mjm: mujoco.MjModel, keyframe: int | None) -> tuple[int, int]:
    """(peak contacts, peak constraint rows) over a short zero-control MuJoCo C run."""
    mjd = initial_data(mjm, keyframe)
    peak_con, peak_efc = mjd.ncon, mjd.nefc
    for _ in range(min(PROBE_MAX_STEPS, math.ceil(PROBE_SECONDS / mjm.opt.timestep))):
        mujoco.mj_step(mjm, mjd)
        peak_con, peak_efc = max(peak_con, mjd.ncon), max(peak_efc, mjd.nefc)
    return peak_con, peak_efc


def margin(engines: tuple[str, ...] | list[str]) -> float:
    """The margin that covers every one of these Warp engines (one buffer size serves them all)."""
    return max((ENGINE_MARGIN.get(e, MARGIN) for e in engines), default=MARGIN)


def sized(
    mjm: mujoco.MjModel,
    keyframe: int | None,
    nconmax: int | None,
    njmax: int | None,
    margin: float = MARGIN,
) -> tuple[int, int]:
    """The given sizes, or the probe's peaks with a margin (at least 48 contacts and 64 rows)."""
    if nconmax is not None and njmax is not None:
        return nconmax, njmax
    peak_con, peak_efc = probe(mjm, keyframe)
    auto_con = max(48, math.ceil(margin * peak_con))
    auto_efc = max(64, math.ceil(margin * peak_efc))
    return (nconmax if nconmax is not None else auto_con, njmax if njmax is not None else auto_efc)
