"""The output folder of a sweep is shared, so what mjpod reads back from it is checked and what it
writes there never goes through a planted link: a record that does not prove its job done makes the
job run again (with a log line saying why), never a traceback; results.csv is safe to open in a
spreadsheet. Real sweeps of one short rollout, run in this process (the --no-ray backend)."""

from __future__ import annotations

import json
import logging

import pytest

from mjpod.jobs.sweep import grid, runner, spec
from mjpod.jobs.sweep.store import OutputFolderError, Store
from tests.cli_runner import run_mjpod
from tests.jobs.sweep import results

SPEC = """
[grid]
kind = ["rollout"]
model = ["pendulum"]
[settings]
duration = 0.1
"""


@pytest.fixture
def done(tmp_path):
    """One finished sweep: (its job, the output folder, the job's folder)."""
    (tmp_path / "s.toml").write_text(SPEC)
    [job] = grid.expand(spec.load(tmp_path / "s.toml"))
    out = tmp_path / "out"
    assert sweep(job, out).records[0]["status"] == "done"
    return job, out, out / "jobs" / job.id


def sweep(job: grid.Job, out) -> runner.Outcome:
    return runner.run([job], Store(out), runner.LoopBackend(), runner.Events())


def tamper_record(folder, change) -> None:
    path = folder / "result.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps(change(record)))


HOSTILE = {
    "truncated": lambda p: p.write_text(p.read_text()[:50]),
    "a list": lambda p: p.write_text("[1, 2, 3]"),
    "deep": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "a link to /dev/zero": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
    "another job's": lambda p: p.write_text(p.read_text().replace('"id": "', '"id": "x')),
    "figures not a table": lambda p: p.write_text(
        json.dumps(json.loads(p.read_text()) | {"figures": [1, 2]})
    ),
}


@pytest.mark.parametrize("how", HOSTILE)
def test_a_broken_or_hostile_record_makes_its_job_run_again_with_a_log_line(done, how, caplog):
    """Medium: a hostile or truncated result.json stopped every later run of the sweep with a traceback
    (or, saying done, was trusted)."""
    job, out, folder = done
    HOSTILE[how](folder / "result.json")
    with caplog.at_level(logging.WARNING, logger="mjpod.sweep"):
        outcome = sweep(job, out)
    assert outcome.ran == 1 and outcome.records[0]["status"] == "done"
    assert caplog.records[0].getMessage().startswith(f"job {job.id} runs again: ")
    assert json.loads((folder / "result.json").read_text())["id"] == job.id  # a whole new record
    assert [r["status"] for r in results.table(out)] == ["done"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda folder: (folder / "rollout-00000.npz").unlink(), "rollout-00000.npz is missing"),
        (lambda folder: (folder / "rollout-00000.npz").write_bytes(b"x"), "is not the size the job wrote"),
        (
            lambda folder: tamper_record(folder, lambda r: r | {"artifacts": ["jobs/../../../etc/passwd"]}),
            "names a file outside its folder",
        ),
    ],
)
def test_a_record_whose_files_are_gone_is_not_trusted(done, change, why, caplog):
    """Low: a result.json that said done was trusted although its shard had been deleted."""
    job, out, folder = done
    change(folder)
    with caplog.at_level(logging.WARNING, logger="mjpod.sweep"):
        assert sweep(job, out).ran == 1
    assert why in caplog.records[0].getMessage()
    with caplog.at_level(logging.WARNING, logger="mjpod.sweep"):
        assert sweep(job, out).ran == 0  # the fresh record holds up


def test_a_link_planted_at_the_tables_temporary_name_is_not_followed(done, tmp_path):
    """Medium: results.csv was written through the fixed name .results.csv.tmp, so a link planted
    there made mjpod overwrite whatever it pointed to."""
    job, out, _ = done
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / ".results.csv.tmp").symlink_to(victim)
    sweep(job, out)
    assert victim.read_text() == "precious"
    assert [r["id"] for r in results.table(out)] == [job.id]


def test_a_link_planted_at_the_lock_file_is_refused_not_followed(done, tmp_path):
    job, out, _ = done
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / ".sweep.lock").unlink()
    (out / ".sweep.lock").symlink_to(victim)
    with pytest.raises(OutputFolderError, match=r"cannot take the lock .*\.sweep\.lock"):
        sweep(job, out)
    assert victim.read_text() == "precious"


def test_a_staging_folder_that_is_a_link_is_removed_not_followed(done, tmp_path):
    job, out, folder = done
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    (out / "jobs" / ".staging").symlink_to(elsewhere)
    folder.joinpath("result.json").unlink()  # so the job runs again and stages its attempt
    sweep(job, out)
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]
    assert not (out / "jobs" / ".staging").exists()


def test_a_jobs_folder_that_is_a_link_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "jobs").symlink_to(tmp_path)
    with pytest.raises(OutputFolderError, match=r"jobs is a link to .*: mjpod makes that folder itself"):
        Store(out).check()


def test_text_a_spreadsheet_would_run_is_written_as_text(tmp_path):
    """Low: a camera name (or any text value) starting with = + - @ became a formula in a spreadsheet."""
    store = Store(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    row = {"id": "j", "status": "done", "params": {"camera": '=HYPERLINK("http://x","y")', "seed": -1},
           "figures": {"note": "@SUM(A1)", "value": -2.5, "text": "-3"}, "error": None}  # fmt: skip
    store.write_table([row])
    [written] = results.table(tmp_path)
    assert written["camera"] == '\'=HYPERLINK("http://x","y")' and written["fig_note"] == "'@SUM(A1)"
    assert written["seed"] == "-1" and written["fig_value"] == "-2.5" and written["fig_text"] == "-3"


@pytest.mark.parametrize("dry", [True, False])
def test_an_output_folder_that_is_a_file_is_refused_by_name(tmp_path, dry):
    """Medium: --out naming a file gave a traceback, and --dry-run reported success."""
    (tmp_path / "s.toml").write_text(SPEC)
    (tmp_path / "out").write_text("a file")
    args = ["--dry-run"] if dry else ["--no-ray"]
    result = run_mjpod("sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is a file: give a folder with --out" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
