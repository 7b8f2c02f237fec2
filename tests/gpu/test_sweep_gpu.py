"""GPU sweep (make test-gpu): Warp jobs on cuda ask Ray for a GPU share, so fractions pack on one GPU."""

import json

import pytest

from tests.cli_runner import run_mjpod
from tests.jobs.sweep import results

pytestmark = pytest.mark.gpu

SPEC = """
[grid]
kind = ["rollout"]
model = ["box_drop"]
engine = ["mjwarp"]
seed = [0, 1, 2, 3]
[settings]
nworld = 256
duration = 0.5
device = "auto"
[resources]
gpus = 0.5
"""


def test_warp_jobs_run_on_the_gpu_two_per_gpu(tmp_path):
    (tmp_path / "s.toml").write_text(SPEC)
    out = tmp_path / "out"
    plan = run_mjpod("sweep", str(tmp_path / "s.toml"), "--out", str(out), "--dry-run")
    run = run_mjpod("sweep", str(tmp_path / "s.toml"), "--out", str(out), timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = results.table(out)
    assert [r["status"] for r in rows] == ["done"] * 4 and {r["device"] for r in rows} == {"cuda"}
    for r in rows:
        meta = json.loads((out / "jobs" / r["id"] / "rollout.json").read_text())
        assert meta["device"].startswith("cuda") and meta["nworld"] == 256
    assert plan.returncode == 0 and plan.stdout.count(" cuda ") == 4 and " 0.5 " in plan.stdout
