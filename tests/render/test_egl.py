"""The device rule for GL (render/egl.py): the EGL device of the GPU a job names, as a pure function over
tables of what EGL reports, and for real on this machine's Mesa EGL, where two vendor libraries give
two EGL devices so that a choice can be told from MuJoCo's default."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mjpod.render import egl

ROOT = Path(__file__).resolve().parents[2]

# (what each EGL device reports as its CUDA device, in EGL's order; CUDA_VISIBLE_DEVICES; cuda:N) -> EGL index
CHOICES = [
    pytest.param([0], None, 0, 0, id="one GPU"),
    pytest.param([2, 0, 3, 1], None, 0, 1, id="EGL's order is not CUDA's"),
    pytest.param([2, 0, 3, 1], None, 3, 2, id="EGL's order is not CUDA's, cuda:3"),
    pytest.param([None, 0, 1], None, 1, 2, id="Mesa's software device first"),
    # CUDA_VISIBLE_DEVICES=3,1 on 4 GPUs whose EGL order is physical 2, 0, 3, 1: NVIDIA numbers the visible
    # ones 0 (physical 3) and 1 (physical 1), the hidden ones report none
    pytest.param([None, None, 0, 1], "3,1", 0, 2, id="reordered CUDA_VISIBLE_DEVICES"),
    pytest.param([None, None, 0, 1], "3,1", 1, 3, id="reordered CUDA_VISIBLE_DEVICES, cuda:1"),
    # the same box with a driver that reports physical ids (more ids than visible devices)
    pytest.param([2, 0, 3, 1], "3,1", 0, 2, id="reordered, physical ids"),
    pytest.param([2, 0, 3, 1], "3,1", 1, 3, id="reordered, physical ids, cuda:1"),
    pytest.param([None, 0, None, None], "2", 0, 1, id="a Ray job given GPU 2"),
    pytest.param([2, 0, 3, 1], "2", 0, 0, id="a Ray job given GPU 2, physical ids"),
    pytest.param([0], "GPU-3f1c7a52-9d0e", 0, 0, id="CUDA_VISIBLE_DEVICES by UUID"),
    pytest.param([None], None, 0, None, id="Mesa only"),
    pytest.param([None, None], "0", 0, None, id="Mesa only, two devices"),
    pytest.param([0, 1], "MIG-5c3a8f2e-1b7d-5e0a-9c4f-2d6b8e1a3f70", 0, None, id="a MIG slice"),
    pytest.param([0, 1], "1", 1, None, id="cuda:1 not visible"),
    pytest.param([0, 0], None, 0, None, id="two devices claim one CUDA id"),
    pytest.param([None, 0], None, 1, None, id="no EGL device for cuda:1"),
    pytest.param([2, 0, 3, 1], "GPU-3f1c7a52", 0, None, id="physical ids, CUDA_VISIBLE_DEVICES by UUID"),
]


@pytest.mark.parametrize(("cuda_ids", "visible", "ordinal", "index"), CHOICES)
def test_the_egl_device_of_each_cuda_device(cuda_ids, visible, ordinal, index):
    choice = egl.choose(cuda_ids, visible, ordinal)
    assert choice.index == index, choice.reason
    assert choice.reason  # a choice says why; a refusal says what is missing


def test_refusals_name_the_cause_and_the_way_forward():
    mig = egl.choose([0], "MIG-5c3a8f2e-1b7d-5e0a-9c4f-2d6b8e1a3f70", 0).reason
    assert "MIG slice" in mig and "batch renderer" in mig and "browser view" in mig
    assert "Mesa" in egl.choose([None], None, 0).reason
    assert "CUDA_VISIBLE_DEVICES=1" in egl.choose([0, 1], "1", 1).reason


@pytest.mark.parametrize(
    ("device", "ordinal"), [("cuda:3", 3), ("cuda", 0), ("cuda:0", 0), ("cpu", None), (None, None)]
)
def test_the_cuda_device_a_warp_device_names(device, ordinal):
    assert egl.cuda_ordinal(device) == ordinal


# What MUJOCO_EGL_DEVICE_ID must say for the installed MuJoCo to open the chosen device: MuJoCo reads it
# as a CUDA device where EGL reports them, ordered by CUDA_VISIBLE_DEVICES, and as an EGL index elsewhere.
VALUES = [
    pytest.param([None, None], None, 1, "1", id="Mesa: the EGL index"),
    pytest.param([2, 0, 3, 1], None, 1, "0", id="NVIDIA: the CUDA device"),
    pytest.param([None, None, 0, 1], "3,1", 3, "1", id="reordered CUDA_VISIBLE_DEVICES"),
    pytest.param([None, 0, None, None], "2", 1, "0", id="a Ray job given GPU 2"),
    # both visible GPUs report ids 0 and 1 in swapped order: MuJoCo takes them for physical ids, so
    # reaching CUDA device 0 (EGL device 1) takes the value 1
    pytest.param([1, 0], "1,0", 1, "1", id="a permutation MuJoCo reads as physical ids"),
]


@pytest.mark.parametrize(("cuda_ids", "visible", "index", "value"), VALUES)
def test_the_value_mujoco_reads_as_the_chosen_device(cuda_ids, visible, index, value):
    assert egl.mujoco_value(cuda_ids, visible, index) == value
    assert egl.mujoco_opens(cuda_ids, visible, value) == index


def test_an_out_of_range_value_opens_nothing():
    assert egl.mujoco_opens([None, None], None, "2") is None
    assert egl.mujoco_opens([None], None, None) == 0  # unset: EGL's first device


# -- real EGL: two Mesa devices -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_mesa_devices(tmp_path_factory) -> dict[str, str]:
    """glvnd told to load Mesa's EGL twice (the library and a copy of it): two real EGL devices, both
    llvmpipe, neither with a CUDA id, so that device 1 can only be reached by choosing it."""
    found = sorted(glob.glob("/usr/lib*/libEGL_mesa.so.0") + glob.glob("/usr/lib*/*/libEGL_mesa.so.0"))
    if not found:
        pytest.skip("Mesa's EGL (libEGL_mesa.so.0) is not installed")
    folder = tmp_path_factory.mktemp("egl")
    copy = folder / "libEGL_mesa_copy.so.0"
    shutil.copy(os.path.realpath(found[0]), copy)
    files = []
    for name, library in (("a", found[0]), ("b", str(copy))):
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"file_format_version": "1.0.0", "ICD": {"library_path": library}}))
        files.append(str(path))
    return {"__EGL_VENDOR_LIBRARY_FILENAMES": ":".join(files), "MUJOCO_GL": "egl"}


def run(code: str, env: dict[str, str]) -> tuple[dict, str]:
    """`code` in a fresh Python (MuJoCo opens its EGL display once per process); it prints one JSON line."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={k: v for k, v in os.environ.items() if k not in ("MUJOCO_EGL_DEVICE_ID", "WARP_DEVICE")} | env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


# NVIDIA's answer to EGL_NV_device_cuda stood in for (no NVIDIA EGL here), for mjpod and MuJoCo alike:
# EGL device i reports CUDA device ANSWER[i].
NVIDIA_ANSWER = """
import mujoco.egl
from mjpod.render import egl
ANSWER = {answer}
addresses = [egl._address(h) for h in egl._handles()]
egl.cuda_id_of = lambda _egl, handle: ANSWER[addresses.index(egl._address(handle))]
mujoco.egl._get_egl_device_cuda_id = lambda handle: ANSWER[addresses.index(egl._address(handle))]
"""
IN_ORDER, SWAPPED = NVIDIA_ANSWER.format(answer=[0, 1]), NVIDIA_ANSWER.format(answer=[1, 0])

# The product's path: an engine named cuda:1 (mjc draws on the GPU --device names), its GL renderer.
RENDER = """
import json, os
from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.render import egl, make as renderer
engine = make("mjc", models.load("pendulum").model, EngineConfig(device="cuda:1"))
r = renderer("gl", engine, -1, 48, 64)
frame = r.render()
print(json.dumps({"used": egl.current().index, "info": r._gl.info.egl_device, "mean": float(frame.mean()),
                  "value": os.environ.get("MUJOCO_EGL_DEVICE_ID"), "report": egl.report()}))
"""


def test_mesa_devices_are_enumerated_without_cuda_ids(two_mesa_devices):
    out, _ = run(
        """
        import dataclasses, json
        from mjpod.render import egl
        print(json.dumps([dataclasses.asdict(d) | {"software": d.software} for d in egl.devices()]))
        """,
        two_mesa_devices,
    )
    assert [(d["index"], d["cuda_id"], d["software"]) for d in out] == [(0, None, True), (1, None, True)]


def test_the_chosen_device_is_the_one_mujocos_context_uses(two_mesa_devices):
    """cuda:1 is EGL device 1; MuJoCo left alone opens device 0 (CUDA 0's): only a variable set before
    its context moves it."""
    out, _ = run(IN_ORDER + RENDER, two_mesa_devices)
    assert out["used"] == out["info"] == 1, out
    assert out["report"]["how"] == "EGL device 1 reports CUDA device 1 (MUJOCO_EGL_DEVICE_ID=1)"
    assert out["mean"] > 0  # a real frame
    assert out["value"] is None  # read by MuJoCo, then gone: a child process chooses for itself


def test_the_variable_says_what_mujoco_reads_not_the_egl_index(two_mesa_devices):
    """EGL device 0 is CUDA 1, device 1 is CUDA 0: cuda:1 is EGL device 0, which MuJoCo (reading the
    variable as a CUDA device where EGL reports them) reaches with MUJOCO_EGL_DEVICE_ID=1, not 0."""
    out, _ = run(SWAPPED + RENDER, two_mesa_devices)
    assert out["used"] == 0 and out["report"]["how"].endswith("(MUJOCO_EGL_DEVICE_ID=1)"), out


def test_without_cuda_ids_it_is_said_once_and_egl_default_draws(two_mesa_devices):
    out, err = run(RENDER.replace("frame = r.render()", "frame = r.render(); renderer('gl', engine, -1, 48, 64)"),
                   two_mesa_devices)  # fmt: skip
    assert out["used"] == 0 and out["value"] is None, out
    assert err.count("no EGL device reports a CUDA device") == 1, err
    assert out["report"]["software"] and "Mesa" in out["report"]["how"]


def test_the_users_variable_wins_with_a_warning_when_it_names_another_gpu(two_mesa_devices):
    out, err = run(IN_ORDER + RENDER, two_mesa_devices | {"MUJOCO_EGL_DEVICE_ID": "0"})
    assert out["used"] == 0 and out["value"] == "0", out
    assert "MUJOCO_EGL_DEVICE_ID=0 draws on EGL device 0, but cuda:1 is EGL device 1" in err
    assert out["report"]["how"] == "MUJOCO_EGL_DEVICE_ID=0, set by the user"
