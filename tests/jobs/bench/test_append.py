"""One result file from several bench runs (--append), written after every figure, presented again by
`mjpod bench-report`: what the GPU check relies on to keep what it measured when a step runs out of time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from mjpod.engines import EngineConfig
from mjpod.host.sysinfo import Host
from mjpod.jobs.bench import report
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row
from mjpod.render.gl import GLInfo
from tests.cli_runner import run_mjpod

RENDER = ("--only", "render", "--model", "pendulum", "--size", "64x48", "--seconds", "0.2")
PHYSICS = ("--only", "physics", "--engine", "mjc", "--model", "pendulum", "--nworld", "1", "--nstep", "20")


def bench(out, *args: str) -> subprocess.CompletedProcess:
    proc = run_mjpod("bench", "--out", str(out), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def said(proc: subprocess.CompletedProcess) -> str:
    """stderr with the console's line folding undone."""
    return " ".join(proc.stderr.split())


def only_json(out) -> dict:
    (path,) = out.glob("bench-*.json")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def appended(tmp_path_factory):
    """A GL run, then a physics run appended to it, in one folder."""
    out = tmp_path_factory.mktemp("appended")
    first = bench(out, *RENDER, "--append")
    second = bench(out, *PHYSICS, "--append")
    return out, first, second


def test_appended_runs_share_one_file_that_records_each_run(appended):
    out, first, second = appended
    data = only_json(out)
    assert [(r["section"], r["model"]) for r in data["results"]] == [
        ("render", "pendulum"),
        ("physics", "pendulum"),
    ]
    assert [r["config"]["only"] for r in data["runs"]] == [["render"], ["physics"]]
    assert data["runs"][0]["config"]["sizes"] == ["64x48"]
    assert data["gl"]["renderer"] and data["runs"][1]["gl"] is None  # the GL the first run found is kept
    assert "does not exist yet; this run starts it" in first.stdout
    assert "1 figure(s) so far" in second.stdout


def test_the_transcript_grows_and_each_table_shows_its_own_run(appended):
    out, _, _ = appended
    (log,) = out.glob("bench-*.txt")
    runs = re.split(r"^mjpod bench \S+ on ", log.read_text(), flags=re.MULTILINE)[1:]
    sections = [
        [line.split("│")[1].strip() for line in run.splitlines() if line.startswith("│")] for run in runs
    ]
    assert sections == [["render"], ["physics"]]


def test_without_append_the_file_starts_over(tmp_path):
    bench(tmp_path, *RENDER)
    bench(tmp_path, *PHYSICS)
    data = only_json(tmp_path)
    assert [r["section"] for r in data["results"]] == ["physics"] and "runs" not in data


def test_a_run_killed_part_way_keeps_the_figures_it_measured(tmp_path):
    """The JSON is rewritten after every figure, in one step: SIGKILL between two figures loses neither."""
    args = [
        "--only",
        "render",
        "--model",
        "pendulum",
        "--model",
        "box_drop",
        "--size",
        "64x48",
        "--size",
        "96x64",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mjpod", "bench", "--out", str(tmp_path), *args, "--seconds", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("bench-*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # (two seconds, at least, before the next figure)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # killed part way, however slow the box: it had not ended
    rows = only_json(tmp_path)["results"]
    assert 1 <= len(rows) <= 4 and rows[0]["section"] == "render" and rows[0]["value"] > 0


def test_bench_report_redraws_the_plot_and_puts_figures_beside_targets(appended):
    out, _, _ = appended
    (path,) = out.glob("bench-*.json")
    plot = path.with_suffix(".png")
    plot.unlink()
    proc = run_mjpod("bench-report", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = path.with_name(path.stem + "-targets.md").read_text()
    assert "| mjwarp vs mjwarp-testspeed |" in md and "not measured" in md
    assert "figures beside their targets" in proc.stdout and "physics" in proc.stdout


def test_bench_report_and_append_refuse_a_file_that_is_no_result(tmp_path):
    bad = tmp_path / "bench-x.json"
    bad.write_text('{"results": "no"}')
    proc = run_mjpod("bench-report", str(bad))
    assert proc.returncode == 2 and "is not a bench result mjpod can read" in said(proc)
    proc = run_mjpod("bench-report", str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and "does not exist" in said(proc)
    stem = report.tag(BenchResult(BenchConfig(), Host(gpus=(), cpu_count=os.cpu_count() or 1), None, None))
    (tmp_path / f"bench-{stem}.json").write_text("not json")
    proc = run_mjpod("bench", "--out", str(tmp_path), *PHYSICS, "--append")
    assert proc.returncode == 2 and "move it away, or write to another --out" in said(proc)
    assert (tmp_path / f"bench-{stem}.json").read_text() == "not json"  # nothing lost


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--only", "gl"), "unknown section(s) to only: gl"),
        (("--size", "10x10"), "--size must be at least 16x16"),
        (("--size", "wide"), "--size takes WIDTHxHEIGHT"),
    ],
)
def test_bad_selections_are_refused(args, message):
    proc = run_mjpod("bench", *args)
    assert proc.returncode == 2 and message in said(proc)


def test_a_result_reads_back_as_it_was_written():
    config = BenchConfig(
        models=("bin",),
        nworld=(1024, 8192),
        only=("physics",),
        sizes=((240, 320), (64, 64)),
        contact_scenes=("bin",),
        testspeed=True,
        append=True,
        engine_config=EngineConfig(device="cuda:0", comfree_stiffness=(0.1, 0.2)),
    )
    assert BenchConfig.from_json(config.to_json()) == config
    gl = GLInfo("egl", "NVIDIA H100 80GB HBM3/PCIe/SSE2", "NVIDIA Corporation", "4.6.0")
    rows = [Row("physics", "bin", 1.5, "world-steps/s", 3, 2.0, engine="mjwarp", nworld=1024, nconmax=9)]
    result = BenchResult(config, Host(gpus=(), cpu_count=2), gl, "cuda:0", rows, ["w"], ["s"])
    again = BenchResult.from_json(json.loads(json.dumps(result.to_json())))
    assert (again.config, again.gl, again.rows, again.warnings, again.skipped) == (
        config,
        gl,
        rows,
        ["w"],
        ["s"],
    )
