"""`mjpod bench-report` and the files `mjpod bench` writes, against hostile and careless input: a result
file that is no regular file is refused unread, one of thousands of models is drawn in a bounded plot,
and a link planted at any name they write is replaced, never written through."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from mjpod import files
from mjpod.host.sysinfo import Host
from mjpod.jobs.bench import report
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row
from tests.cli_runner import run_mjpod


def result(models: int = 1, out=None) -> BenchResult:
    rows = [
        Row("physics", f"model{m}", 1000.0 + m, "world-steps/s", 10, 1.0, engine=e, device="cpu", nworld=n)
        for m in range(models)
        for e in ("mjc", "mjwarp")
        for n in (1, 8)
    ]
    config = BenchConfig(quick=True, out=out) if out else BenchConfig(quick=True)
    return BenchResult(config, host=Host(gpus=(), cpu_count=2), gl=None, warp_device="cpu", rows=rows)


def test_a_result_file_that_is_dev_zero_is_refused_unread(tmp_path):
    """Medium: `bench-report /dev/zero` read without end (run with its memory capped)."""
    link = tmp_path / "bench-x.json"
    link.symlink_to("/dev/zero")
    proc = run_mjpod("bench-report", str(link), memory_mb=1024, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "is a character device, not a regular file" in " ".join(proc.stderr.split())


def test_a_result_of_many_models_draws_a_bounded_plot():
    """High 4: a 3.7 MB result of 20,000 models drew a panel per model (151 s, then MemoryError)."""
    fig = report.figure(result(models=200))
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == report.MAX_PANELS + 1  # the physics panels, then batch vs GL
    assert "(188 more models in the table)" in fig.texts[0].get_text()


def test_a_result_of_many_figures_prints_a_bounded_table():
    """High 4 too: printing 20,000 table lines took most of bench-report's time."""
    many = result(models=200)  # 800 figures
    table = report.table(many)
    assert table.row_count == report.MAX_ROWS and table.caption == "... and 300 more figures in the JSON"
    assert report.targets_table(many).row_count <= report.MAX_ROWS


def test_links_planted_at_the_report_names_are_replaced_not_followed(tmp_path):
    """Medium: bench-report wrote X-targets.md (and the plot) through whatever link sat at that name, so
    anyone who can write to a shared results folder could make a user overwrite their own files."""
    path = tmp_path / "bench-x.json"
    path.write_text(json.dumps(result().to_json()))
    victims = {}
    for name in ("bench-x-targets.md", "bench-x.png"):
        victims[name] = tmp_path / f"victim-{name}"
        victims[name].write_text("precious")
        (tmp_path / name).symlink_to(victims[name])
    proc = run_mjpod("bench-report", str(path))
    assert proc.returncode == 0, proc.stderr
    for name, victim in victims.items():
        assert victim.read_text() == "precious"
        assert not (tmp_path / name).is_symlink() and (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "bench-x.png").read_bytes().startswith(b"\x89PNG")


def test_the_bench_run_writes_its_files_past_planted_links(tmp_path):
    """The JSON, plot and transcript `mjpod bench` writes (the transcript appended to with --append)."""
    out = tmp_path / "results"
    out.mkdir()
    first = result(out=out)
    names = report.paths(first, out)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for key in ("json", "plot", "log"):
        names[key].symlink_to(victim)
    console = Console(record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print("first run")
    report.write(first, console, out)
    assert victim.read_text() == "precious"
    assert not any(names[k].is_symlink() for k in ("json", "plot", "log"))
    names["log"].unlink()
    names["log"].symlink_to(victim)
    appended = BenchResult(
        BenchConfig(quick=True, out=out, append=True), host=first.host, gl=None, warp_device="cpu"
    )
    report.write(appended, console, out)
    assert victim.read_text() == "precious"
    assert "precious" not in names["log"].read_text()  # what the link pointed to is not copied in


def test_bench_append_refuses_a_result_file_that_is_a_link(tmp_path):
    """bench --append reads this hardware's result back from --out: a link there would carry another
    file's figures (or contents) into the new result."""
    victim = tmp_path / "elsewhere.json"
    victim.write_text(json.dumps(result().to_json()))
    link = tmp_path / "bench-x.json"
    link.symlink_to(victim)
    assert report.load(link) is not None  # bench-report of a file the user names follows it
    with pytest.raises(files.FileRefused, match="is a link: mjpod reads back only files it wrote there"):
        report.load(link, follow=False)
