"""scripts/gpu_gate.py, the GPU check's gate: on a machine that is not the GPU one it must stop the check
(exit 3) with every reason doctor gives and the fix, before any GPU time is spent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import nvidia_smi

ROOT = Path(__file__).resolve().parents[2]
GATE_EXIT = 3


def gate(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_gate.py")],
        env={**os.environ, "PYTHONPATH": str(ROOT / "app"), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(autouse=True)
def _not_on_a_gpu(has_cuda):
    if has_cuda:
        pytest.skip("this machine has CUDA: the gate would let the check go on")


def test_a_box_without_an_nvidia_gpu_is_refused_with_the_reasons_and_the_fix():
    proc = gate()
    said = " ".join(proc.stderr.split())
    assert proc.returncode == GATE_EXIT, proc.stdout + proc.stderr
    assert "not a GPU machine for the GPU check" in said
    assert "NVIDIA driver info: no NVIDIA GPU visible" in said
    assert "GL renderer info: software rendering (no GPU here): llvmpipe" in said
    assert "source /root/stage/env.sh" in said


def test_an_nvidia_box_whose_gl_and_warp_miss_the_gpu_is_refused_naming_both(tmp_path):
    """nvidia-smi lists an H100 (tests/nvidia_smi.py) but GL is Mesa's and Warp has no CUDA."""
    proc = gate(**nvidia_smi.on_path(tmp_path / "bin"))
    said = " ".join(proc.stderr.split())
    assert proc.returncode == GATE_EXIT, proc.stdout + proc.stderr
    assert "NVIDIA driver: ok: 1 x NVIDIA H100 80GB HBM3" in proc.stdout
    assert "GL renderer fail: software rendering on an NVIDIA box: llvmpipe" in said
    assert "Warp fail: NVIDIA GPU present but Warp sees no CUDA device (cpu)" in said
    assert "NVIDIA driver" not in said.split("GPU check:")[1].split("Fix:")[0]  # the driver passed
