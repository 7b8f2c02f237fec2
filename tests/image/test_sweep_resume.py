"""A sweep on a spot pod that is interrupted resumes on the next pod: `mjpod sweep` in one container is
killed (SIGKILL, the whole container: what a reclaimed spot machine does) with part of its jobs done,
and the same sweep in a new container on the same /workspace volume (a network volume, here a bind
mount) finishes with every job done once: the finished ones reused untouched, the rest run there."""

from __future__ import annotations

import csv
import time

import pytest

pytestmark = pytest.mark.image

JOBS = 16
SPEC = f"""
[grid]
kind = ["rollout"]
model = ["pendulum"]
seed = {list(range(JOBS))}

[settings]
duration = 20.0
rate = 50.0
nworld = 16
"""


def published(jobs) -> dict[str, bytes]:
    """Each job folder published so far: its id and its record as written."""
    found = {}
    for record in jobs.glob("*/result.json"):
        if not record.parent.name.startswith("."):
            found[record.parent.name] = record.read_bytes()
    return found


def test_a_killed_sweep_resumes_in_a_new_container_and_runs_every_job_once(docker, image, tmp_path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "spec.toml").write_text(SPEC)
    jobs = workspace / "sweeps" / "spec" / "jobs"
    mount = ("-v", f"{workspace}:/workspace")
    sweep = ("mjpod", "sweep", "/workspace/spec.toml", "--no-ray")
    with docker.container(*mount, image, *sweep) as first:
        deadline = time.monotonic() + 600
        while not published(jobs):
            assert docker.inspect(first)["State"]["Running"], docker.logs(first)
            assert time.monotonic() < deadline, docker.logs(first)
            time.sleep(0.05)
        docker.run("pause", first)  # frozen: what it has published is what the kill leaves
        before = published(jobs)
        docker.run("kill", first)
        state = docker.inspect(first)["State"]
    assert state["ExitCode"] == 137, state  # killed, not ended
    assert 1 <= len(before) < JOBS, f"{len(before)} of {JOBS} jobs were done when the sweep was killed"
    assert published(jobs) == before

    resumed = docker.run("run", "--rm", *mount, image, *sweep, timeout=900)
    assert f"{len(before)} job(s) already done: skipped" in resumed.stdout + resumed.stderr
    with (workspace / "sweeps" / "spec" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == JOBS and {r["status"] for r in rows} == {"done"}
    reused = {r["id"] for r in rows if r["reused"] == "True"}
    assert reused == set(before)  # each job ran once: the first container's kept, the rest ran now
    after = published(jobs)
    assert {job: after[job] for job in before} == before  # untouched
    assert not list(jobs.glob(".staging/*"))  # the killed attempt's debris cleared
