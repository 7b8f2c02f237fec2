"""On an NVIDIA box (make test-gpu, the GPU check): every GPU draws on its own EGL device, the one whose
EGL_NV_device_cuda id is its CUDA number, also behind CUDA_VISIBLE_DEVICES as Ray sets it; and the
memory section measures model + data on the GPU and how many worlds fit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from mjpod import models
from mjpod.host import sysinfo
from mjpod.jobs.bench import memory
from mjpod.jobs.bench.types import BenchConfig, BenchResult

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[2]

DRAW = """
import json, sys
from mjpod.render import egl
from mjpod.render.gl import gl_info
info = gl_info(sys.argv[1])
print(json.dumps({"egl": info.egl_device, "cuda": info.egl_cuda_id, "renderer": info.renderer,
                  "how": egl.report()["how"]}))
"""


def draw(device: str, **env: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", DRAW, device],
        env={k: v for k, v in os.environ.items() if k != "MUJOCO_EGL_DEVICE_ID"}
        | {"PYTHONPATH": str(ROOT / "app"), "MUJOCO_GL": "egl", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_each_gpu_draws_on_its_own_egl_device():
    gpus = [g for g in sysinfo.nvidia_gpus() if not g.mig]
    if not gpus:
        pytest.skip("no GPU without MIG: no graphics to draw with")
    seen = [draw(f"cuda:{n}") for n in range(len(gpus))]
    for n, drawn in enumerate(seen):
        assert drawn["cuda"] == n and "nvidia" in drawn["renderer"].lower(), (n, drawn)
    assert len({d["egl"] for d in seen}) == len(gpus)  # one EGL device per GPU


def test_a_job_that_sees_only_its_gpu_draws_on_it():
    """What Ray does: CUDA_VISIBLE_DEVICES names the job's GPU, the job uses cuda:0."""
    last = len(sysinfo.nvidia_gpus()) - 1
    drawn = draw("cuda:0", CUDA_VISIBLE_DEVICES=str(last))
    alone = draw(f"cuda:{last}")  # the same GPU, seen with every GPU visible
    assert drawn["egl"] == alone["egl"] and "nvidia" in drawn["renderer"].lower(), (drawn, alone)


def test_memory_rows_on_the_gpu():
    config = BenchConfig(models=("bin",), engines=("mjwarp", "comfree"), nworld=(64, 512))
    result = BenchResult(config, sysinfo.host(), None, "cuda:0")
    with Progress(console=Console(quiet=True)) as progress:
        memory.run(config, result, [models.load("bin")], progress)
    fits = {r.engine: r.value for r in result.rows if r.unit == memory.FIT}
    assert set(fits) == {"mjwarp", "comfree"} and min(fits.values()) > 512, result.rows
    sizes = [r for r in result.rows if r.unit == "MiB model+data" and r.engine == "mjwarp"]
    assert sizes[1].value > sizes[0].value > 0 and not result.warnings
