"""Present a benchmark: a table on the console, a JSON file with every figure, a PNG plot."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mjpod.bench.runner import BenchResult


def table(result: BenchResult) -> Table:
    t = Table(title="mjpod bench", show_lines=False)
    for col in ("section", "model", "engine", "device", "nworld", "size", "value", "unit"):
        t.add_column(col, justify="right" if col in ("nworld", "value") else "left")
    for r in result.rows:
        size = f"{r.width}x{r.height}" if r.width else ""
        t.add_row(
            r.section,
            r.model,
            r.engine or "",
            r.device or "",
            str(r.nworld or ""),
            size,
            f"{r.value:,.1f}",
            r.unit,
        )
    return t


def tag(result: BenchResult) -> str:
    """A file name stem naming the hardware: the GPU when there is one, else the CPU count."""
    gpus = result.host["gpus"]
    name = gpus[0]["name"] if gpus else f"cpu-{result.host['cpu_count']}core"
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return stem + ("-quick" if result.config.quick else "")


def write(result: BenchResult, console: Console, out: Path) -> dict[str, Path]:
    """Write JSON, plot and the console transcript under `out`; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"bench-{tag(result)}"
    paths = {
        "json": stem.with_suffix(".json"),
        "plot": stem.with_suffix(".png"),
        "log": stem.with_suffix(".txt"),
    }
    paths["json"].write_text(json.dumps(result.to_json(), indent=2) + "\n")
    plot(result, paths["plot"])
    if console.record:
        paths["log"].write_text(console.export_text(clear=False))
    else:
        del paths["log"]
    return paths


def plot(result: BenchResult, path: Path) -> None:
    """world-steps/s against nworld, one line per model and engine (testspeed dashed beside mjwarp)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in result.rows:
        if r.section in ("physics", "testspeed", "contact") and r.nworld and r.unit == "world-steps/s":
            engine = (r.engine or "") + (" (settled pile)" if r.section == "contact" else "")
            series.setdefault((r.model, engine), []).append((r.nworld, r.value))
    for (model, engine), points in sorted(series.items()):
        points.sort()
        xs, ys = zip(*points, strict=True)
        style = "--" if engine.endswith("testspeed") else ":" if engine.endswith("pile)") else "-"
        ax.plot(xs, ys, style, marker="o", label=f"{model} · {engine}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("nworld (parallel worlds)")
    ax.set_ylabel("world-steps / s")
    gpus = result.host["gpus"]
    where = gpus[0]["name"] if gpus else f"CPU only ({result.host['cpu_count']} cores)"
    ax.set_title(f"mjpod bench: physics throughput on {where}")
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no physics figures in this run", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
