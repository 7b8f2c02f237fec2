"""scripts/gpu-check.sh, rehearsed on this CPU box in a Python holding only what the GPU machine will
have (the staged packages and the device image's), so the check is known to run before GPU time is
spent on it; and the gate that stops it at once on a machine that is not the GPU one."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu-check.sh"
STAGE_SH = ROOT.parent / "shared" / "device" / "stage.sh"
# what the device tool brings back from $OUT: at most 8 files, named in letters, digits, '.', '_', '-'
RETURNED_FILES, RETURNED_NAME = 8, re.compile(r"^[A-Za-z0-9._-]+$")
STEPS = ("preflight", "doctor", "warm-up", "seed-render", "physics-panda", "physics-bin", "contact", "batch")


def check(out: Path, python: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args, str(out)],
        env={**os.environ, "PYTHON": python, "COLUMNS": "160", **env},
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def staged_python(tmp_path_factory) -> str:
    """scripts/staged_env.py's Python: the staged packages and the device image's, nothing else."""
    dest = tmp_path_factory.mktemp("staged") / "py"
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "staged_env.py"), str(dest)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def holding(folder: Path, python: str, pattern: str) -> str:
    """A PYTHON for the check: `python` itself, except for a command whose arguments match the bash
    `pattern`, which waits until it is stopped: a step certain to outlive its limit on any machine,
    however fast. It keeps its arguments in its name, so `ps` shows whether it was stopped."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "python"
    wrapper.write_text(
        f'#!/usr/bin/env bash\ncase " $* " in {pattern}) exec -a "held: $*" sleep infinity ;; esac\n'
        f'exec {shlex.quote(python)} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


# Every step but the held one may take what the check's whole budget leaves (450 s, 4x in a rehearsal):
# only the held step is meant to run out of time, however slow or busy the machine.
UNHURRIED = {f"GPU_CHECK_BUDGET_{step.replace('-', '_')}": "450" for step in (*STEPS[1:], "report")}


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory, staged_python, panda_available):
    if not panda_available:
        pytest.skip("the rehearsal measures the Panda: MENAGERIE_ROOT has no franka_emika_panda")
    out = tmp_path_factory.mktemp("out")
    # The warm-up is held and gets 1 s (4 s in a rehearsal): it is stopped at its limit, which shows
    # that a step that runs out of time is killed with its processes and the next steps still run;
    # the measured steps load or compile their kernels themselves.
    python = holding(tmp_path_factory.mktemp("held"), staged_python, "*/warm-[0-9]*")
    proc = check(out, python, "--rehearse", **{**UNHURRIED, "GPU_CHECK_BUDGET_warm_up": "1"})
    return proc, out


def test_the_staged_python_lacks_what_the_gpu_machine_lacks(staged_python):
    for module in ("imageio_ffmpeg", "importlinter", "selenium", "runpod", "yaml"):
        proc = subprocess.run([staged_python, "-c", f"import {module}"], capture_output=True, text=True)
        assert proc.returncode != 0 and "No module named" in proc.stderr, module
    proc = subprocess.run([staged_python, "-c", "import mujoco_warp.testspeed, matplotlib, typer"])
    assert proc.returncode == 0
    # mjpod's bench, doctor and video import there (imageio-ffmpeg only when a video is made)
    modules = "mjpod.cli, mjpod.video, mjpod.jobs.bench.runner, mjpod.host.doctor, mjpod.jobs.record"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app")}
    proc = subprocess.run([staged_python, "-c", f"import {modules}"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_staged_list_is_what_stage_sh_stages():
    if not STAGE_SH.is_file():
        pytest.skip(f"{STAGE_SH} is not beside this checkout")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import staged_env
    finally:
        sys.path.pop(0)
    staged = set(re.findall(r'"\$\(pin ([a-z-]+) ', STAGE_SH.read_text()))
    assert staged == set(staged_env.STAGED)


def test_rehearsal_runs_every_step_and_returns_what_the_device_tool_brings_back(rehearsal):
    proc, out = rehearsal
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text  # 1: the warm-up was stopped at its limit, as asked
    files = sorted(out.iterdir())
    assert len(files) <= RETURNED_FILES and all(f.is_file() and RETURNED_NAME.match(f.name) for f in files)
    stem = next(f for f in files if f.suffix == ".json").stem
    names = {f.name for f in files}
    assert names == {f"{stem}{end}" for end in (".json", ".png", ".txt", "-targets.md", "-check.log")}
    ended = dict(
        re.findall(
            r"^\| ([a-z-]+) \| \d+s \| \d+s \| (.+) \|$", (out / f"{stem}-targets.md").read_text(), re.M
        )
    )
    assert ended.pop("warm-up").startswith("STOPPED at its 4s limit"), ended
    assert ended == dict.fromkeys((*STEPS[:2], *STEPS[3:], "gpu-tests", "report"), "ok")
    log = (out / f"{stem}-check.log").read_text()
    assert "REHEARSAL" in log and re.search(r"^\d+ skipped in", log, re.M)  # tests/gpu, staged Python
    scratch = re.search(r"bash (\S+)/warm-up\.sh", log).group(1)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert scratch not in ps  # the stopped warm-up's processes went with it


def test_rehearsal_measures_each_figure_the_targets_read(rehearsal):
    _, out = rehearsal
    data = json.loads(next(out.glob("*.json")).read_text())
    rows = data["results"]
    seen = {(r["section"], r["model"], r.get("engine"), r.get("nworld"), r.get("width")) for r in rows}
    panda = "franka_emika_panda/mjx_scene"
    assert {("seed", panda, None, None, 320), ("render", panda, None, None, 320)} <= seen
    assert {("physics", m, "mjwarp", 2, None) for m in (panda, "bin")} <= seen
    assert {("contact", "bin", e, 2, None) for e in ("mjwarp", "comfree")} <= seen
    assert ("batch", "bin", "mjwarp", 2, 64) in seen
    assert any(r["unit"] == "x mjwarp" for r in rows)
    assert all(r["device"] == "cpu" for r in rows if r.get("engine"))
    assert len(data["runs"]) == 5  # seed-render, two physics, contact, batch: one file
    # mjwarp-testspeed ran in the staged Python, took the flags, and stopped where it must on a CPU
    gpu_only = [w for w in data["warnings"] if "(ValueError: testspeed available for gpu only)" in w]
    assert len(gpu_only) == 3, data["warnings"]
    md = next(out.glob("*-targets.md")).read_text()
    assert "| comfree vs mjwarp, settled pile | bin | 2 | cpu |" in md


def test_on_a_machine_without_nvidia_gl_and_cuda_the_check_stops_after_doctor(tmp_path, has_cuda):
    if has_cuda:
        pytest.skip("this machine has CUDA")
    proc = check(tmp_path, sys.executable)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    said = " ".join(proc.stdout.split())
    assert "not a GPU machine for the GPU check:" in said  # scripts/gpu_gate.py, after doctor
    assert "GL renderer info: software rendering (no GPU here): llvmpipe" in said
    assert "the GPU check stops here" in said and "warm-up" not in said
    assert [f.name for f in tmp_path.iterdir()] == ["gpu-check.log"]


def test_a_step_past_its_limit_is_stopped_and_said(tmp_path, has_cuda):
    if has_cuda:
        pytest.skip("this machine has CUDA")
    python = holding(tmp_path / "held", sys.executable, "*' -m mjpod doctor '*")
    proc = check(tmp_path / "out", python, GPU_CHECK_BUDGET_doctor="1")
    said = " ".join(proc.stdout.split())
    assert proc.returncode == 3 and "=== doctor: STOPPED at its 1s limit" in said
    assert "the GPU check stops here" in said


def test_a_folder_holding_an_earlier_result_is_refused_and_kept(tmp_path):
    (tmp_path / "bench-nvidia-h100-80gb-hbm3.json").write_text("{}")
    proc = check(tmp_path, sys.executable)
    assert proc.returncode == 2 and "already holds bench-nvidia-h100-80gb-hbm3.json" in proc.stderr
    assert [f.name for f in tmp_path.iterdir()] == ["bench-nvidia-h100-80gb-hbm3.json"]


def test_a_python_without_the_staged_packages_is_named_package_by_package(tmp_path):
    bare = tmp_path / "bare"
    venv.EnvBuilder(with_pip=False).create(bare)
    proc = check(tmp_path / "out", str(bare / "bin" / "python"))
    said = " ".join(proc.stdout.split())
    assert proc.returncode == 2 and "the GPU check cannot run: missing Python modules" in said
    for module, package in (("mujoco_warp", "mujoco-warp"), ("warp", "warp-lang"), ("OpenGL", "pyopengl")):
        assert f"needs {module} (package {package})" in said
    assert "stage.sh PACKAGE==VERSION" in said
