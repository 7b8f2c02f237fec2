"""Bench section `contact`: comfree against mjwarp where contact dominates, in the same run.

ComFree's authors report 2-3x MJWarp's throughput in dense contact. This section measures it on the
bundled `bin` pile and on mujoco_warp's own `primitives.xml` (shipped in its package), across the
device's nworld sweep, and records mean contacts per world so each figure says how dense it was.
Both engines start from the same settled pile (a MuJoCo C run, stored as a keyframe), so the timed
steps are all dense contact rather than bodies still falling.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import mujoco
from rich.progress import Progress

from mjpod import models
from mjpod.engines import buffers
from mjpod.jobs.bench.physics import timed_physics
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row, nworld_sweep

ENGINES = ("mjwarp", "comfree")  # baseline first: the ratio row compares against it
SETTLE_SECONDS = 1.5  # simulated time for the dropped bodies to land and pile up


def scenes() -> tuple[str, ...]:
    """Model specs of the contact-rich scenes: the bundled bin and mujoco_warp's primitives (the
    default; `--contact-scene` names others). Found without importing mujoco_warp, which a bench
    without Warp sections never loads."""
    package = importlib.util.find_spec("mujoco_warp")
    if package is None or package.origin is None:
        return ("bin",)
    return ("bin", str(Path(package.origin).parent / "test_data" / "primitives.xml"))


def settled(lm: models.LoadedModel, seconds: float = SETTLE_SECONDS) -> mujoco.MjModel:
    """The scene recompiled with one keyframe: its state after `seconds` of zero-control MuJoCo C."""
    mjm = lm.model
    mjd = mujoco.MjData(mjm)
    for _ in range(round(seconds / mjm.opt.timestep)):
        mujoco.mj_step(mjm, mjd)
    spec = mujoco.MjSpec.from_file(str(lm.path))
    key = spec.add_key()
    key.name, key.qpos, key.qvel = "settled", mjd.qpos.copy(), mjd.qvel.copy()
    return spec.compile()


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """Append world-steps/s rows for each engine, scene and nworld, then comfree/mjwarp ratio rows."""
    del loaded  # this section always runs its own contact-rich scenes
    engines = [e for e in ENGINES if e in config.engines]
    if not engines:
        result.skipped.append("contact (neither mjwarp nor comfree selected)")
        return
    scenes_loaded = []
    for spec in config.contact_scenes or scenes():
        try:
            scenes_loaded.append(models.load(spec))
        except models.ModelError as err:
            result.warnings.append(f"contact section: {err}")
    sweep = nworld_sweep(config, "comfree", result.warp_device)
    task = progress.add_task("contact", total=len(scenes_loaded) * len(engines) * len(sweep))
    base = config.engine_config
    for lm in scenes_loaded:
        mjm = settled(lm)
        nconmax, njmax = buffers.sized(mjm, 0, base.nconmax, base.njmax, buffers.margin(engines))
        for nworld in sweep:
            figures: dict[str, Row] = {}
            for engine_name in engines:
                progress.update(task, description=f"contact {lm.name} {engine_name} nworld={nworld}")
                engine_config = config.engine_settings(
                    nworld=nworld, nconmax=nconmax, njmax=njmax, ctrl="zero"
                )
                row = result.add(
                    timed_physics(
                        "contact", config, result, lm.name, mjm, engine_name, engine_config, contacts=True
                    )
                )
                if row is not None:
                    figures[engine_name] = row
                progress.advance(task)
            if len(figures) == len(ENGINES):
                result.add(_ratio(figures["comfree"], figures["mjwarp"]))


def _ratio(comfree: Row, mjwarp: Row) -> Row:
    """comfree's throughput over mjwarp's at one nworld: the figure the 2-3x claim is about."""
    return Row(
        "contact",
        comfree.model,
        comfree.value / mjwarp.value,
        "x mjwarp",
        comfree.count,
        comfree.seconds + mjwarp.seconds,  # the timed work this ratio rests on
        engine="comfree",
        device=comfree.device,
        nworld=comfree.nworld,
        note="comfree world-steps/s over mjwarp's: same run, same buffers, same settled start",
        contacts=comfree.contacts,
    )
