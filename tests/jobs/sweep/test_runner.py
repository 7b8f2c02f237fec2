"""The sweep driver without Ray (--no-ray runs the same code): failures are recorded and do not stop
the others, folders appear whole, a re-run skips finished jobs, one sweep at a time per folder."""

from __future__ import annotations

import json

import pytest

from mjpod.jobs.sweep import grid, runner, spec
from mjpod.jobs.sweep.store import Store, SweepLocked
from tests.jobs.sweep import results

SPEC = """
[[grid]]
kind = ["rollout"]
model = ["pendulum"]
seed = [0, 1]
[[grid]]
kind = ["rollout"]
model = ["elliptic.xml"]
engine = ["comfree"]
[settings]
duration = 0.1
device = "cpu"
"""


def plan(tmp_path) -> list[grid.Job]:
    from tests.jobs.sweep.specs import ELLIPTIC

    (tmp_path / "elliptic.xml").write_text(ELLIPTIC)
    (tmp_path / "s.toml").write_text(SPEC)
    return grid.expand(spec.load(tmp_path / "s.toml"))


def sweep(planned, out, events=None) -> runner.Outcome:
    return runner.run(planned, Store(out), runner.LoopBackend(), events or runner.Events())


def test_a_failing_job_is_recorded_and_the_others_complete(tmp_path):
    planned, out = plan(tmp_path), tmp_path / "out"
    outcome = sweep(planned, out)
    assert [r["status"] for r in outcome.records] == ["done", "done", "failed"]
    failed = outcome.records[2]
    assert failed["error"].startswith(  # the engine's refusal, as every command states it
        "MjpodError: cannot start comfree on elliptic: comfree supports the pyramidal friction cone only"
    )
    assert "Traceback" in failed["traceback"]
    rows = results.table(out)
    assert [r["status"] for r in rows] == ["done", "done", "failed"]
    for r in rows:  # every folder is whole: its record, and the files the record names
        record = json.loads((out / "jobs" / r["id"] / "result.json").read_text())
        assert record["status"] == r["status"]
        assert all((out / a).is_file() for a in record["artifacts"])
    assert rows[0]["artifacts"].split(";") == [
        f"jobs/{rows[0]['id']}/rollout.json",
        f"jobs/{rows[0]['id']}/rollout-00000.npz",
    ]
    assert not (out / "jobs" / ".staging").exists()


def test_a_rerun_skips_finished_jobs_and_retries_failed_ones(tmp_path):
    planned, out = plan(tmp_path), tmp_path / "out"
    sweep(planned, out)
    done_before = (out / "jobs" / planned[0].id / "result.json").read_text()
    (out / "jobs" / ".staging" / f"{planned[1].id}.dead").mkdir(parents=True)  # what a killed worker leaves
    outcome = sweep(planned, out)
    assert [r.get("reused") for r in outcome.records] == [True, True, False]
    assert outcome.ran == 1
    assert (out / "jobs" / planned[0].id / "result.json").read_text() == done_before
    assert not (out / "jobs" / ".staging").exists()


def test_a_stop_request_leaves_the_rest_pending(tmp_path):
    planned, out = plan(tmp_path), tmp_path / "out"
    events = runner.Events()
    events.on_change = events.stop.set  # stop as soon as the first job starts
    outcome = sweep(planned, out, events)
    assert [r["status"] for r in outcome.records] == ["done", "pending", "pending"]
    assert [r["status"] for r in results.table(out)] == ["done", "pending", "pending"]


def test_one_sweep_at_a_time_per_output_folder(tmp_path):
    planned, out = plan(tmp_path), tmp_path / "out"
    with Store(out).lock(), pytest.raises(SweepLocked, match="another mjpod sweep is writing to"):
        sweep(planned, out)
    assert not (out / "results.csv").exists()


def test_a_missing_output_folder_on_a_node_fails_the_job_with_the_fix(tmp_path):
    from mjpod.jobs.sweep import execute

    job = plan(tmp_path)[0]
    record = execute.run(job.id, job.params, str(tmp_path / "not-mounted"), "cpu", 1, "10.0.0.9")
    assert record["status"] == "failed"
    assert "does not exist on node 10.0.0.9" in record["error"] and "shared folder" in record["error"]
