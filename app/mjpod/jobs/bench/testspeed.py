"""mujoco_warp's own benchmark, run in a subprocess on the exact settings an mjpod figure used."""

from __future__ import annotations

import json
import subprocess
import sys

from mjpod import models


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
        raise TestspeedError(
            f"mjwarp-testspeed {' '.join(extra)} on {lm.name} nworld={nworld} failed: {err}"
        ) from None
