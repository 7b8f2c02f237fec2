"""mujoco_warp's own benchmark, run in a subprocess on the exact settings an mjpod figure used."""

from __future__ import annotations

import json
import subprocess
import sys

import mujoco

from mjpod import models
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row


class TestspeedError(RuntimeError):
    """mjwarp-testspeed failed or printed no figures; the message says which run."""


def run(
    lm: models.LoadedModel,
    nworld: int,
    nstep: int,
    nconmax: int,
    njmax: int,
    device: str | None,
    *extra: str,
) -> dict:
    """`python -m mujoco_warp.testspeed MODEL --format=json …`: its JSON figures (steps_per_second, run_time)."""
    cmd = [sys.executable, "-m", "mujoco_warp.testspeed", str(lm.path), "--format=json"]
    cmd += [f"--nworld={nworld}", f"--nstep={nstep}", f"--nconmax={nconmax}", f"--njmax={njmax}", *extra]
    if device:
        cmd.append(f"--device={device}")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as err:
        # its own last words say why (a flag it does not know, "testspeed available for gpu only", ...)
        said = getattr(err, "stderr", None) or ""
        why = f" ({said.strip().splitlines()[-1]})" if said.strip() else ""
        raise TestspeedError(
            f"{' '.join(['mjwarp-testspeed', *extra])} on {lm.name} nworld={nworld} failed: {err}{why}"
        ) from None


def wanted(config: BenchConfig, device: str | None) -> bool:
    """Compare with mjwarp-testspeed? As told (--testspeed/--no-testspeed), else on CUDA only: testspeed
    runs on GPUs only, so elsewhere a run asked for fails with its reason as a warning."""
    if config.testspeed is not None:
        return config.testspeed
    return str(device).startswith("cuda")


def row(
    config: BenchConfig,
    result: BenchResult,
    lm: models.LoadedModel,
    nworld: int,
    nconmax: int,
    njmax: int,
    section: str,
    unit: str,
    flags: tuple[str, ...] = (),
    **fields: object,
) -> Row | None:
    """mjwarp-testspeed's figure on the same model, nworld and buffers, appended as a row of `section`;
    a failed run is a warning."""
    try:
        device = config.engine_config.device
        figures = run(lm, nworld, config.nstep, nconmax, njmax, device, *flags)
    except TestspeedError as err:
        result.warnings.append(str(err))
        return None
    figure = Row(
        section,
        lm.name,
        float(figures["steps_per_second"]),
        unit,
        nworld * config.nstep,
        float(figures["run_time"]),
        engine="mjwarp-testspeed",
        device=config.engine_config.device or "cuda",
        nworld=nworld,
        **fields,  # type: ignore[arg-type]
    )
    return result.add(figure)


def render_flags(mjm: mujoco.MjModel, width: int = 64, height: int = 64) -> list[str]:
    """mjwarp-testspeed flags for the image BatchRenderer draws of camera 0: RGB, skybox and textures,
    no shadows, pinned rather than left to testspeed's defaults so both figures measure the same work."""
    flags = ["--function=render", f"--render_width={width}", f"--render_height={height}"]
    flags += [
        "--render_depth=false",
        "--render_skybox=true",
        "--render_textures=true",
        "--render_shadows=false",
    ]
    camera = mujoco.mj_id2name(mjm, mujoco.mjtObj.mjOBJ_CAMERA, 0)
    if camera:
        return [*flags, f"--camera_name={camera}"]
    return [*flags, "--cam_active=true", *["--cam_active=false"] * (mjm.ncam - 1)]  # unnamed camera 0


def ratio_row(ours: Row, theirs: Row) -> Row:
    """Batch world-frames/s over mjwarp-testspeed's at the same nworld and size: the figure the
    issue's target (within 10%, so at least 0.9) is read from."""
    return Row(
        section="batch",
        model=ours.model,
        value=ours.value / theirs.value,
        unit="x mjwarp-testspeed",
        count=ours.count,
        seconds=ours.seconds + theirs.seconds,  # the timed work this ratio rests on
        engine="mjwarp",
        device=ours.device,
        nworld=ours.nworld,
        width=ours.width,
        height=ours.height,
        note="batch render world-frames/s over mjwarp-testspeed --function=render's, same run",
    )
