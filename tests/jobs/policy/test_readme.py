"""The README's policy example runs as written: its PD law, in `mjpod record`'s loop on the bundled
pendulum, holds every world near the pose it names; its `mjpod rollout --policy` line writes a dataset
(with fewer samples and pixels)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np

from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.jobs import policy as policies
from tests.cli_runner import run_mjpod

README = Path(__file__).resolve().parents[3] / "README.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return next(b for b in blocks if b.startswith("# controllers/pd.py"))


def test_the_readme_pd_example_holds_the_pendulum(tmp_path):
    (tmp_path / "controllers").mkdir()
    (tmp_path / "controllers" / "pd.py").write_text(example())
    mjm = models.load("pendulum").model
    policy = policies.load(f"{tmp_path}/controllers/pd.py:act", mjm, 4)
    config = policies.engine_config(EngineConfig(nworld=4, ctrl="hold"))
    with policies.drive(make("mjc", mjm, config), policy) as run:
        run.step(1000)  # 2 s
        qpos = run.observe()["qpos"]
    target = np.array([0.5, -0.3])
    assert np.abs(qpos - target).max() < 0.15, qpos
    assert np.abs(mjm.key_qpos[0] - target).max() > 0.5  # it started far from there


def test_the_readme_rollout_with_the_pd_policy_writes_a_dataset(tmp_path):
    (tmp_path / "controllers").mkdir()
    (tmp_path / "controllers" / "pd.py").write_text(example())
    line = next(
        x for x in README.read_text().splitlines() if x.startswith("mjpod rollout") and "--policy" in x
    )
    args = shlex.split(line.split("#")[0])[1:]
    smaller = ["--duration", "0.1", "--width", "32", "--height", "24"]
    proc = run_mjpod(*args, *smaller, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = json.loads((tmp_path / "datasets" / "pd" / "rollout.json").read_text())
    assert meta["ended"] == "completed" and meta["nworld"] == 8 and meta["policy"]["calls"] == 50
    assert meta["images"]["kinds"] == ["rgb"] and meta["policy"]["sha256"]
