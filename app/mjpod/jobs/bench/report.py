"""Present a benchmark: a table on the console, a JSON file with every figure, a PNG plot, and the
figures beside their targets."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mjpod import files
from mjpod.errors import SettingError
from mjpod.jobs.bench import targets
from mjpod.jobs.bench.types import BenchResult, Row

NOTE_WIDTH = 30  # longer notes become numbered footnotes under the table, so every row stays one line
RESULT_BYTES = 32 << 20  # a result file: a full GPU run is a few hundred KB
MAX_PANELS = 12  # physics panels in the plot, one per model; the JSON has every model
MAX_ROWS = 500  # lines of a console table (a full GPU run has a few hundred); the JSON has them all


def table(result: BenchResult, rows: list[Row] | None = None) -> Table:
    """The figures (`rows`, else all of the result's) one per line; long notes as footnotes."""
    t = Table(title="mjpod bench", show_lines=False, caption_justify="left")
    footnotes: dict[str, int] = {}
    for col in (
        "section",
        "model",
        "engine",
        "device",
        "nworld",
        "size",
        "value",
        "unit",
        "contacts",
        "note",
    ):
        t.add_column(col, justify="right" if col in ("nworld", "value", "contacts") else "left")
    rows = result.rows if rows is None else rows
    for r in rows[:MAX_ROWS]:
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
            "" if r.contacts is None else f"{r.contacts:,.0f}",  # per world: how dense the figure was
            _note(r.note or "", footnotes),
        )
    lines = [f"[{n}] {text}" for text, n in footnotes.items()] + _left_out(len(rows), "figures")
    t.caption = "\n".join(lines) or None
    return t


def _left_out(count: int, what: str) -> list[str]:
    return [f"... and {count - MAX_ROWS} more {what} in the JSON"] if count > MAX_ROWS else []


def _note(note: str, footnotes: dict[str, int]) -> str:
    if len(note) <= NOTE_WIDTH:
        return note
    return f"[{footnotes.setdefault(note, len(footnotes) + 1)}]"


def tag(result: BenchResult) -> str:
    """A file name stem naming the hardware: the GPU when there is one, else the CPU count."""
    gpus = result.host.gpus
    name = gpus[0].name if gpus else f"cpu-{result.host.cpu_count}core"
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return stem + ("-quick" if result.config.quick else "")


def paths(result: BenchResult, out: Path) -> dict[str, Path]:
    """Where a result's files go under `out`, named for the hardware."""
    return named(out / f"bench-{tag(result)}")


def named(stem: Path) -> dict[str, Path]:
    """A result's files beside each other: STEM.json, .png, .txt and STEM-targets.md."""
    return {
        "json": stem.with_suffix(".json"),
        "plot": stem.with_suffix(".png"),
        "log": stem.with_suffix(".txt"),
        "targets": stem.with_name(f"{stem.name}-targets.md"),
    }


def load(path: Path, follow: bool = True) -> BenchResult | None:
    """The result a JSON file holds (a regular file of at most RESULT_BYTES; `follow=False`: not a link,
    for the file bench --append reads back); None when there is none."""
    try:
        data = files.read_bytes(path, RESULT_BYTES, "the bench result", follow)
        return BenchResult.from_json(json.loads(data))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        if isinstance(err, files.FileRefused):
            raise
        raise SettingError(
            f"{path} is not a bench result mjpod can read ({type(err).__name__}: {files.short(str(err))}); "
            "move it away, or write to another --out"
        ) from None


def write(result: BenchResult, console: Console, out: Path) -> dict[str, Path]:
    """Write JSON, plot and the console transcript under `out` (with --append the transcript grows);
    returns what was written."""
    written = paths(result, out)
    del written["targets"]
    result.save(written["json"])
    plot(result, written["plot"])
    if console.record:
        earlier = ""
        if result.config.append:  # the transcript grows; rewritten whole, as every file here
            with contextlib.suppress(FileNotFoundError, files.FileRefused):  # a link: a fresh one
                earlier = files.read_text(written["log"], RESULT_BYTES, "the bench transcript", follow=False)
        files.write_text(written["log"], earlier + console.export_text(clear=False))
    else:
        del written["log"]
    return written


def write_targets(result: BenchResult, path: Path) -> Path:
    """The figures beside their targets, as markdown (what a closing note quotes)."""
    return files.write_text(path, targets.markdown(result))


def targets_table(result: BenchResult) -> Table:
    t = Table(title="figures beside their targets", show_lines=False)
    for col in ("claim", "model", "nworld", "device", "figure", "target", "verdict"):
        t.add_column(col, justify="right" if col == "nworld" else "left")
    style = {"met": "green", "MISSED": "bold red", "reported": "cyan", "not measured": "yellow"}
    verdicts = targets.read(result)
    t.caption = "\n".join(_left_out(len(verdicts), "verdicts")) or None
    for v in verdicts[:MAX_ROWS]:
        t.add_row(
            v.claim,
            v.model,
            str(v.nworld or ""),
            v.device or "",
            v.figure,
            v.target,
            f"[{style[v.verdict]}]{v.verdict}[/]",
        )
    return t


PHYSICS = ("physics", "testspeed", "contact")  # the sections whose rows are world-steps/s against nworld
# One colour per engine in every panel; mjwarp-testspeed is drawn dashed in mjwarp's colour beside it.
ENGINE_COLOURS = {
    "mjc": "tab:blue",
    "mjwarp": "tab:orange",
    "mjwarp-testspeed": "tab:orange",
    "comfree": "tab:green",
}


def plot(result: BenchResult, path: Path) -> None:
    """Throughput against nworld: one physics panel per model (a colour per engine, testspeed dashed
    beside mjwarp, settled piles dotted), then batch ray tracing beside GL."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = figure(result)
    with files.replacing(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)


def figure(result: BenchResult):
    """The plot as a matplotlib Figure (what `plot` saves)."""
    import matplotlib.pyplot as plt

    every = sorted({r.model for r in result.rows if r.section in PHYSICS and r.unit == "world-steps/s"})
    models = every[:MAX_PANELS]
    panels = max(1, len(models)) + 1
    cols = min(3, panels)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.6 * rows), dpi=110, squeeze=False)
    where = result.hardware
    flat_axes = list(axes.flat)
    for ax, model in zip(flat_axes, models or [None], strict=False):
        _panel(
            ax,
            result,
            PHYSICS,
            ("world-steps/s",),
            _physics_label,
            keep=lambda r, model=model: r.model == model,
            colour=lambda r: ENGINE_COLOURS.get(r.engine or ""),
        )
        ax.set_title(f"physics: {model}" if model else "physics")
    render = flat_axes[panels - 1]
    _panel(
        render,
        result,
        ("batch",),
        ("world-frames/s", "frames/s"),  # a GL frame is one world's: the same unit
        lambda r: f"{r.model} · {r.engine or 'GL'} · {r.width}x{r.height}",
    )
    render.set_title("batch ray tracing vs GL (flat: one GL frame)")
    for ax in flat_axes[panels:]:
        ax.set_visible(False)
    left_out = f" ({len(every) - len(models)} more models in the table)" if len(every) > len(models) else ""
    fig.suptitle(f"mjpod bench on {where}{left_out}")
    fig.tight_layout()
    return fig


def _physics_label(r: Row) -> str:
    return f"{r.engine}" + (" (settled pile)" if r.section == "contact" else "")


def _panel(
    ax,
    result: BenchResult,
    sections: tuple[str, ...],
    units: tuple[str, ...],
    label: Callable[[Row], str],
    keep: Callable[[Row], bool] = lambda r: True,
    colour: Callable[[Row], str | None] = lambda r: None,
) -> None:
    """One line per label (testspeed dashed, settled piles dotted); rows without nworld (GL) drawn flat.
    `keep` picks the rows of this panel; `colour` fixes a line's colour (None: matplotlib's cycle)."""
    series: dict[str, list[tuple[int, float]]] = {}
    colours: dict[str, str | None] = {}
    flat: dict[str, float] = {}
    for r in result.rows:
        if r.section not in sections or r.unit not in units or not keep(r):
            continue  # ratio rows ("x mjwarp") are tables, not lines
        if r.nworld:
            series.setdefault(label(r), []).append((r.nworld, r.value))
            colours[label(r)] = colour(r)
        else:
            flat[label(r)] = r.value
    for name, points in sorted(series.items()):
        points.sort()
        xs, ys = zip(*points, strict=True)
        style = "--" if "testspeed" in name else ":" if name.endswith("pile)") else "-"
        ax.plot(xs, ys, style, marker="o", label=name, color=colours[name])
    for name, value in sorted(flat.items()):
        ax.axhline(value, linestyle=":", color="gray", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("nworld (parallel worlds)")
    ax.set_ylabel(units[0].replace("/", " / "))
    ax.grid(True, which="both", alpha=0.3)
    if series or flat:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "not measured in this run", ha="center", transform=ax.transAxes)
