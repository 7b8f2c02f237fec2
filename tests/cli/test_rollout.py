"""`mjpod rollout` as a user runs it: the README's vision-dataset commands (fewer worlds, samples and
pixels), a bad setting refused before anything is written, and Ctrl-C keeping whole shards."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.cli_runner import run_mjpod

README = Path(__file__).resolve().parents[2] / "README.md"
SMALLER = {"--nworld": "2", "--duration": "0.1", "--width": "32", "--height": "24"}


def readme_commands() -> list[list[str]]:
    """The `mjpod rollout` lines of the README's dataset section, continuation lines joined."""
    section = README.read_text().split("## Datasets for learning")[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    return [
        shlex.split(line.split("#")[0]) for line in block.splitlines() if line.startswith("mjpod rollout")
    ]


def smaller(command: list[str], out: Path) -> list[str]:
    """The command with fewer worlds, samples and pixels, on Warp's cpu device, into `out`."""
    args = command[1:]  # rollout and its options
    for i, arg in enumerate(args[:-1]):
        if arg in SMALLER:
            args[i + 1] = SMALLER[arg]
        if arg == "-o":
            args[i + 1] = str(out)
    return [*args, "--device", "cpu", *([] if "-o" in args else ["-o", str(out)])]


@pytest.mark.parametrize("index", [0, 1])
def test_the_readme_commands_write_a_vision_dataset(tmp_path, index):
    command = readme_commands()[index]
    out = tmp_path / "dataset"
    proc = run_mjpod(*smaller(command, out), timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = json.loads((out / "rollout.json").read_text())
    assert f"wrote {meta['samples']} samples of 2 world(s)" in proc.stdout
    kinds = command[command.index("--images") + 1].split(",")
    assert meta["images"]["kinds"] == kinds and meta["nworld"] == 2
    shard = out / meta["shards"][0]["file"]
    if shard.suffix == ".hdf5":
        with h5py.File(shard, "r") as f:
            assert f["data/demo_1/obs/overview_image"].shape[1:] == (24, 32, 3)
            assert f["data/demo_1/obs/overview_segmentation"][()].max() >= 0  # something labelled
    else:
        arrays = np.load(shard)
        assert arrays["rgb"].shape[1:] == (2, 1, 24, 32, 3) and arrays["depth"].max() > 0


def test_a_bad_camera_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "never"
    proc = run_mjpod(
        "rollout", "-m", "box_drop", "--images", "depth", "--cameras", "side,top", "-o", str(out)
    )
    assert proc.returncode == 2
    said = " ".join(proc.stderr.split())
    assert "cameras: no camera 'top' in this model; the model's cameras: side" in said
    assert "Traceback" not in proc.stderr and not out.exists()


def test_ctrl_c_keeps_whole_shards_and_says_so(tmp_path):
    out = tmp_path / "stopped"
    # fmt: off
    args = ["-m", "pendulum", "--duration", "60", "--images", "rgb", "--width", "32", "--height", "32",
            "--shard-mb", "0.01", "-o", str(out)]
    # fmt: on
    proc = subprocess.Popen(
        [sys.executable, "-m", "mjpod", "rollout", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 300
    while len(list(out.glob("rollout-*.npz"))) < 3:  # until shards are being written
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else proc.returncode
        assert time.monotonic() < deadline, "the rollout never wrote a shard"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 130, output
    assert "interrupted: kept" in " ".join(output.split())
    meta = json.loads((out / "rollout.json").read_text())
    assert meta["interrupted"] and 3 <= meta["samples"] < meta["samples_planned"]
    assert sum(np.load(out / s["file"])["rgb"].shape[0] for s in meta["shards"]) == meta["samples"]
    assert {p.name for p in out.iterdir()} == {"rollout.json", *(s["file"] for s in meta["shards"])}


POLICY = """
import numpy as np

def push(obs):
    return np.full((len(obs["qpos"]), 2), 0.25)

def diverges(obs):
    if obs["time"][0] >= 0.1:
        raise FloatingPointError("controller diverged")
    return push(obs)
"""


def test_a_dataset_with_your_policy_in_the_loop(tmp_path):
    (tmp_path / "mine.py").write_text(POLICY)
    out = tmp_path / "driven"
    # fmt: off
    args = ["rollout", "-m", "pendulum", "--nworld", "2", "--duration", "0.2", "--policy",
            f"{tmp_path}/mine.py:push", "--policy-hz", "25", "--images", "rgb", "--width", "32",
            "--height", "24"]
    # fmt: on
    proc = run_mjpod(*args, "-o", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = json.loads((out / "rollout.json").read_text())
    assert meta["ctrl"] == f"policy {tmp_path}/mine.py:push" and meta["ended"] == "completed"
    assert meta["policy"]["calls"] == 5 and meta["policy"]["hz"] == 25.0  # at 0, 40, ... 160 ms
    ctrl = np.load(out / meta["shards"][0]["file"])["ctrl"]  # (11, 2, 2): samples every 20 ms
    np.testing.assert_array_equal(ctrl[0], 0.0)  # the initial state, before the policy acted
    np.testing.assert_array_equal(ctrl[1:], 0.25)  # its action, held between its calls

    stopped = tmp_path / "stopped"
    proc = run_mjpod(*args[:8], f"{tmp_path}/mine.py:diverges", "-o", str(stopped))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = " ".join(proc.stderr.split())
    assert "raised FloatingPointError: controller diverged" in said and "ended: policy error" in said
    assert "Traceback" not in proc.stderr
    meta = json.loads((stopped / "rollout.json").read_text())
    assert meta["ended"] == "policy error" and meta["samples"] == 6  # 0 .. 100 ms, before the failing step
    assert len(np.load(stopped / meta["shards"][0]["file"])["time"]) == 6
