"""The timed loops. Each returns (work units done, seconds) and nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import mujoco

from mjpod.engines import Engine
from mjpod.render.gl import GLRenderer

if TYPE_CHECKING:
    from mjpod.render.batch import BatchRenderer


def frames(draw: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Call `draw` (one frame) for `seconds`, after one untimed call that builds GL resources."""
    draw()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count < 3:
        draw()
        count += 1
    return count, elapsed


def seed_loop(mjm: mujoco.MjModel, renderer: GLRenderer, seconds: float) -> tuple[int, float]:
    """The seed loop: mj_step, update_scene, render, one frame per physics step."""
    mjd = mujoco.MjData(mjm)

    def step_and_draw() -> None:
        mujoco.mj_step(mjm, mjd)
        renderer.render(mjd)

    return frames(step_and_draw, seconds)


def render_only(
    mjd: mujoco.MjData, renderer: GLRenderer, seconds: float, camera: int = -1
) -> tuple[int, float]:
    """update_scene + render of a fixed state: the GL cost alone."""
    return frames(lambda: renderer.render(mjd, camera), seconds)


def batch_render(engine: Engine, renderer: BatchRenderer, nstep: int, seconds: float) -> tuple[int, float]:
    """Batch frames (each covers every world) and the seconds spent drawing them, as mjwarp-testspeed
    --function=render times them: a physics step between frames, untimed; refit + render, timed with a sync.
    """
    renderer.draw(update_poses=False)  # compile / load kernels, capture the graph
    renderer.sync()
    done, busy = 0, 0.0
    while done < nstep and (busy < seconds or done < 3):
        engine.step(1)
        engine.sync()
        start = time.perf_counter()
        renderer.draw(update_poses=False)
        renderer.sync()
        busy += time.perf_counter() - start
        done += 1
    return done, busy


def physics(engine: Engine, nstep: int, seconds: float) -> tuple[int, float]:
    """World-steps (nworld x steps) and the seconds they took, counted as mjwarp-testspeed counts them.

    With a CUDA graph each step is one timed launch + synchronize, exactly testspeed's loop, so the two
    figures compare. Elsewhere steps run in chunks and the loop stops early after `seconds`.
    """
    engine.step(1)  # compile / load kernels, capture the graph
    engine.sync()
    graph = getattr(engine, "uses_cuda_graph", False)
    chunk = 1 if graph else max(1, min(nstep // 10, 50))
    done, busy = 0, 0.0
    while done < nstep and (graph or busy < seconds or done == 0):
        n = min(chunk, nstep - done)
        start = time.perf_counter()
        engine.step(n)
        engine.sync()
        busy += time.perf_counter() - start
        done += n
    return done * engine.nworld, busy
