"""`mjpod sweep` as a user runs it: a bad spec stops the command before anything starts, and --dry-run
lists the jobs and what each asks for without running one."""

from __future__ import annotations

from tests.cli_runner import run_mjpod
from tests.jobs.sweep import specs


def test_the_command_refuses_a_bad_spec_before_any_job_starts(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[grid]\nkind = ['record']\nmodel = ['bin']\nnworld = [2, 'x']\n")
    result = run_mjpod("sweep", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "grid.nworld = 'x' must be an integer" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing was started or written


def test_dry_run_lists_jobs_and_resources_and_runs_nothing(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(specs.GAINS)
    result = run_mjpod("sweep", str(path), "--dry-run", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("rollout-")]
    assert len(lines) == 8
    comfree = next(line for line in lines if "-comfree-" in line)
    assert comfree.split()[1:] == [
        "0.1/0.001",
        "cpu",
        "2",
        "0",
        "3600",
        "to",
        "run",
    ]  # no GPU here: cpu, no GPU asked; a rollout's default timeout
    assert not (tmp_path / "out").exists()
