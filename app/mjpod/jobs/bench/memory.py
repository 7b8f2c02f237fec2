"""Bench section `memory`: the device memory each Warp engine's model and data take across the nworld
sweep (what mujoco_warp's testspeed --memory counts: every array's allocated bytes), and the largest
nworld that fits the free memory of this GPU, per model and engine, so a box can be sized before it is
rented. Engines are built, never stepped: no kernel compiles, a few seconds per model.

On a CPU the figures would be host memory, which says nothing about a GPU: the section is skipped there,
saying why, and `measure` (the same code, any device) is what tests run on Warp's cpu device.
"""

from __future__ import annotations

import math
import time

from rich.progress import Progress

from mjpod import models
from mjpod.engines import buffers, make
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row, nworld_sweep

MIB = 2**20
# Of the free memory, what a run needs beside model and data: compiled kernels, the CUDA graph, Warp's
# temporaries, a renderer's buffers. The largest nworld is reckoned with the rest.
RESERVE = 0.1
FIT = "worlds fit"  # the unit of the largest-nworld rows


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """Model + data MiB per model, Warp engine and nworld, then how many worlds fit; CUDA only."""
    device = result.warp_device
    if not device or not device.startswith("cuda"):
        where = f"Warp runs on {device} here" if device else "no Warp engine runs here"
        result.skipped.append(f"memory (device memory is measured on a CUDA GPU; {where})")
        return
    measure(config, result, loaded, progress, device)


def free_bytes(device: str) -> int:
    import warp as wp

    return int(wp.get_device(device).free_memory)


def measure(
    config: BenchConfig,
    result: BenchResult,
    loaded: list[models.LoadedModel],
    progress: Progress,
    device: str,
    free: int | None = None,
) -> None:
    """The section's rows on `device`, against `free` bytes (default: what the device has free now)."""
    engines = [e for e in config.engines if e != "mjc"]
    free = free_bytes(device) if free is None else free
    task = progress.add_task("memory", total=len(loaded) * len(engines))
    margin = buffers.margin(engines)  # the buffers the physics section sizes, so the figures match it
    base = config.engine_config
    for lm in loaded:
        sizes = buffers.sized(lm.model, base.keyframe, base.nconmax, base.njmax, margin)
        for engine_name in engines:
            progress.update(task, description=f"memory {lm.name} {engine_name}")
            points: list[tuple[int, int]] = []
            model_bytes = 0
            for nworld in nworld_sweep(config, engine_name, device):
                settings = config.engine_settings(nworld=nworld, nconmax=sizes[0], njmax=sizes[1])
                start = time.perf_counter()
                try:
                    with make(engine_name, lm.model, settings) as engine:
                        model_bytes, data_bytes = engine.memory() or (0, 0)
                        built = time.perf_counter() - start  # what making them took
                except Exception as err:  # out of memory is a finding: the worlds before it are kept
                    result.warnings.append(
                        f"memory: {engine_name} on {lm.name} nworld={nworld} failed: {err}"
                    )
                    break
                points.append((nworld, data_bytes))
                result.add(
                    Row(
                        "memory", lm.name, (model_bytes + data_bytes) / MIB, "MiB model+data", nworld, built,
                        engine=engine_name, device=device, nworld=nworld, nconmax=sizes[0], njmax=sizes[1],
                        note=f"model {model_bytes / MIB:.1f} + data {data_bytes / MIB:.1f} MiB",
                    )
                )  # fmt: skip
            if points:
                fit, per_world = largest_fit(points, model_bytes, free)
                result.add(
                    Row(
                        "memory", lm.name, fit, FIT, len(points), built, engine=engine_name, device=device,
                        nconmax=sizes[0], njmax=sizes[1],
                        note=f"{free / MIB:,.0f} MiB free, {per_world / MIB:.4f} MiB/world, {RESERVE:.0%} kept",
                    )
                )  # fmt: skip
            progress.advance(task)


def largest_fit(points: list[tuple[int, int]], model_bytes: int, free: int) -> tuple[int, float]:
    """(the largest nworld whose model + data fit `free` bytes less RESERVE, bytes per world), from data
    bytes measured at some nworld: linear through the two largest, or through zero from a single one."""
    points = sorted(points)
    (n1, d1), (n2, d2) = (points[-2], points[-1]) if len(points) > 1 else ((0, 0), points[-1])
    per_world = max((d2 - d1) / (n2 - n1), 1.0)
    fixed = model_bytes + d2 - per_world * n2  # what does not grow with the worlds
    usable = free * (1 - RESERVE) - fixed
    return max(0, math.floor(usable / per_world)), per_world
