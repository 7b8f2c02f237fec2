"""The console table: long notes move to numbered footnotes, so each figure stays on one line."""

from __future__ import annotations

from rich.console import Console

from mjpod.host.sysinfo import Host
from mjpod.jobs.bench import report
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row

LONG = "comfree world-steps/s over mjwarp's: same run, same buffers, same settled start"


def render(rows: list[Row]) -> str:
    result = BenchResult(
        BenchConfig(), host=Host(gpus=(), cpu_count=2), gl=None, warp_device="cpu", rows=rows
    )
    console = Console(record=True, width=150)
    console.print(report.table(result))
    return console.export_text()


def test_long_notes_become_shared_footnotes_and_short_ones_stay():
    text = render(
        [
            Row("contact", "bin", 3.0, "x mjwarp", 1, 1.0, engine="comfree", nworld=8, note=LONG),
            Row("contact", "bin", 4.5, "x mjwarp", 1, 1.0, engine="comfree", nworld=32, note=LONG),
            Row("encode", "synthetic", 500.0, "frames/s", 1, 1.0, note="libx264"),
        ]
    )
    figures = [line for line in text.splitlines() if "x mjwarp" in line]
    assert len(figures) == 2 and all(line.split("│")[-2].strip() == "[1]" for line in figures)
    assert text.count(LONG) == 1 and f"[1] {LONG}" in text
    assert "libx264 " in text and "[2]" not in text


def test_a_table_without_long_notes_has_no_caption():
    text = render([Row("encode", "synthetic", 500.0, "frames/s", 1, 1.0, note="libx264")])
    assert "[1]" not in text


def test_the_batch_panel_draws_gl_beside_the_ray_tracer():
    """GL rows are frames/s of one world: they belong on the world-frames/s panel as flat lines."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = [
        Row("batch", "bin", 700.0, "world-frames/s", 1, 1.0, engine="mjwarp", nworld=1, width=64, height=64),
        Row("batch", "bin", 900.0, "world-frames/s", 1, 1.0, engine="mjwarp", nworld=8, width=64, height=64),
        Row("batch", "bin", 20.0, "frames/s", 1, 1.0, width=64, height=64, note="GL"),
        Row(
            "batch", "bin", 1.2, "x mjwarp-testspeed", 1, 1.0, engine="mjwarp", nworld=8, width=64, height=64
        ),
    ]
    result = BenchResult(
        BenchConfig(), host=Host(gpus=(), cpu_count=2), gl=None, warp_device="cpu", rows=rows
    )
    ax = Figure().add_subplot()
    report._panel(ax, result, ("batch",), ("world-frames/s", "frames/s"), lambda r: f"{r.engine or 'GL'}")
    assert sorted(ax.get_legend_handles_labels()[1]) == ["GL", "mjwarp"]  # the ratio row is no line
    (gl,) = [line for line in ax.get_lines() if line.get_label() == "GL"]
    assert set(gl.get_ydata()) == {20.0}


def test_physics_has_a_panel_per_model_and_a_colour_per_engine():
    """Ten lines in one panel, a colour per model·engine, did not read: each model gets its own panel,
    and an engine keeps its colour in all of them (testspeed dashed in mjwarp's colour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        Row("physics", model, value * k, "world-steps/s", 1, 1.0, engine=engine, nworld=n)
        for model, k in (("bin", 1.0), ("pendulum", 3.0))
        for engine, value in (("mjc", 100.0), ("mjwarp", 200.0), ("comfree", 300.0))
        for n in (1, 8)
    ]
    rows += [
        Row("testspeed", "bin", 250.0 * n, "world-steps/s", 1, 1.0, engine="mjwarp-testspeed", nworld=n)
        for n in (1, 8)
    ]
    result = BenchResult(
        BenchConfig(), host=Host(gpus=(), cpu_count=2), gl=None, warp_device="cpu", rows=rows
    )
    fig = report.figure(result)
    panels = {ax.get_title().removeprefix("physics: "): ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {"bin", "pendulum", "batch ray tracing vs GL (flat: one GL frame)"}
    colour = {}
    for model in ("bin", "pendulum"):
        lines = {line.get_label(): line for line in panels[model].get_lines()}
        assert {"mjc", "mjwarp", "comfree"} <= set(lines)
        for engine in ("mjc", "mjwarp", "comfree"):
            assert colour.setdefault(engine, lines[engine].get_color()) == lines[engine].get_color()
    assert len(set(colour.values())) == 3
    testspeed = next(line for line in panels["bin"].get_lines() if line.get_label() == "mjwarp-testspeed")
    assert testspeed.get_color() == colour["mjwarp"] and testspeed.get_linestyle() == "--"
    plt.close(fig)
