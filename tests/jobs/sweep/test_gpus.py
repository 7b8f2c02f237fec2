"""A box with several GPUs, on this CPU machine: the embedded Ray declares 4 GPUs (Ray schedules GPUs it
does not have), and probe jobs say where they landed. Each GPU job gets a GPU of its own while it runs,
all four are used, each job's GL follows its GPU's rule (here Mesa: no EGL device reports a CUDA id, so
EGL's default draws, said in the record), and a job that hangs is stopped at its timeout_s, recorded
failed, and tried again by the next run while the finished ones are kept."""

from __future__ import annotations

import json
from itertools import combinations

import pytest

from tests.cli_runner import run_mjpod
from tests.jobs.sweep import results

GPUS = 4
HANG_TIMEOUT_S = 15.0

SPEC = f"""
[[grid]]
kind = ["probe"]
model = ["pendulum"]
seed = [0, 1, 2, 3, 4, 5, 6, 7]
hold_s = [2.0]            # long enough for the jobs of one wave to run together
timeout_s = [3600.0]

[[grid]]
kind = ["probe"]
model = ["pendulum"]
seed = [99]
hold_s = [120.0]          # a job that hangs (far past its timeout)
timeout_s = [{HANG_TIMEOUT_S}]

[settings]
device = "auto"           # cuda: the cluster has GPUs

[resources]
cpus = 1
gpus = 1
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpus")
    (folder / "probe.toml").write_text(SPEC)
    out = folder / "out"
    args = ("sweep", str(folder / "probe.toml"), "--out", str(out), "--gpus", str(GPUS), "--cpus", str(GPUS))
    first = run_mjpod(*args, timeout=900, RAY_ADDRESS="")
    rows = results.table(out)
    again = run_mjpod(*args, timeout=900, RAY_ADDRESS="")
    return first, rows, again, results.table(out), out


def test_every_gpu_job_gets_a_gpu_of_its_own_and_all_four_are_used(sweep):
    first, rows, *_ = sweep
    assert first.returncode == 1, first.stdout + first.stderr  # 1: the hanging job failed
    assert "4 GPU" in first.stdout  # the embedded Ray offers the GPUs it was told to
    probes = [r for r in rows if r["status"] == "done"]
    assert len(probes) == 8 and all(r["device"] == "cuda" for r in probes)
    assert {r["fig_gpu"] for r in probes} == {str(i) for i in range(GPUS)}
    for a, b in combinations(probes, 2):  # no two jobs of gpus = 1 on one GPU at once
        if a["fig_gpu"] == b["fig_gpu"]:
            overlap = min(float(a["fig_ended_at"]), float(b["fig_ended_at"])) - max(
                float(a["fig_started_at"]), float(b["fig_started_at"])
            )
            assert overlap <= 0, (a["id"], b["id"], a["fig_gpu"])


def test_each_job_records_its_gpu_and_the_egl_device_it_chose(sweep):
    _, rows, *_, out = sweep
    for r in rows:
        if r["status"] != "done":
            continue
        record = json.loads((out / "jobs" / r["id"] / "result.json").read_text())
        assert record["gpus"] == r["fig_gpu"]  # CUDA_VISIBLE_DEVICES as Ray set it
        assert record["egl_device"]["index"] == int(r["fig_egl_device"]) == 0
        assert "no EGL device reports a CUDA device" in record["egl_device"]["how"]  # Mesa: said, and on
        assert "llvmpipe" in r["fig_gl_renderer"] and float(r["fig_frame_mean"]) > 0
        probe = json.loads((out / "jobs" / r["id"] / "probe.json").read_text())
        assert probe["egl"]["index"] == 0 and probe["egl"]["software"]


def test_a_hanging_job_is_stopped_at_its_timeout_and_the_rest_finishes(sweep):
    first, rows, *_ = sweep
    hung = [r for r in rows if r["status"] != "done"]
    assert len(hung) == 1 and hung[0]["status"] == "failed" and hung[0]["seed"] == "99"
    assert (
        hung[0]["error"].startswith("timeout: still running after ") and "timeout_s = 15" in hung[0]["error"]
    )
    assert "1 failed" in first.stdout and "8 done" in first.stdout


def test_a_rerun_keeps_the_finished_jobs_and_tries_the_stopped_one_again(sweep):
    _, rows, again, rows_again, out = sweep
    assert again.returncode == 1, again.stdout + again.stderr
    reused = {r["id"]: r["reused"] for r in rows_again}
    assert [reused[r["id"]] for r in rows] == ["True" if r["status"] == "done" else "False" for r in rows]
    hung = next(r for r in rows_again if r["seed"] == "99")
    assert hung["status"] == "failed" and hung["error"].startswith("timeout")
    assert not list((out / "jobs" / ".staging").glob("*"))  # the killed attempts left nothing behind
