"""Two bench results side by side (say two GPU types): every figure both measured, how much faster the
second is, and what the work costs on each, so the cheaper GPU for a model and nworld can be read off.

Figures pair up by what was measured (section, model, engine, nworld, frame size, unit), whatever the
device was called; a figure measured twice in one file (bench --append) counts with its latest value.
"""

from __future__ import annotations

import dataclasses

from rich.table import Table

from mjpod.jobs.bench import price
from mjpod.jobs.bench.types import BenchResult, Row


def key(row: Row) -> tuple:
    return (row.section, row.model, row.engine, row.nworld, row.width, row.height, row.unit)


@dataclasses.dataclass(frozen=True)
class Pair:
    a: Row
    b: Row

    @property
    def speedup(self) -> float | None:
        """b's rate over a's (above 1: b is faster); None for figures that are not rates."""
        if not price.RATE.fullmatch(self.a.unit) or not (self.a.value > 0 and self.b.value > 0):
            return None
        return self.b.value / self.a.value

    @property
    def cost_ratio(self) -> float | None:
        """b's cost over a's for the same work (below 1: b is cheaper); None unless both are priced."""
        ca, cb = self.a.cost(), self.b.cost()
        return cb[0] / ca[0] if ca and cb else None


def pairs(a: BenchResult, b: BenchResult) -> list[Pair]:
    """The figures both results hold, in a's order."""
    latest_b = {key(r): r for r in b.rows}
    latest_a = {key(r): r for r in a.rows}
    return [Pair(row, latest_b[k]) for k, row in latest_a.items() if k in latest_b]


def with_price(result: BenchResult, per_hour: float) -> BenchResult:
    """`result` with `per_hour` for the figures measured without a price (an earlier run's file)."""
    price.check(per_hour)
    rows = [
        r if r.price_per_hour is not None else dataclasses.replace(r, price_per_hour=per_hour)
        for r in result.rows
    ]
    return dataclasses.replace(
        result, rows=rows, price=result.price or price.Price(per_hour, "--price-per-hour")
    )


def label(result: BenchResult) -> str:
    shown = f", ${result.price.per_hour:.3f}/hr" if result.price else ", no price"
    return f"{result.hardware}{shown}"


def table(a: BenchResult, b: BenchResult, found: list[Pair]) -> Table:
    t = Table(title=f"A: {label(a)}  vs  B: {label(b)}", show_lines=False, caption_justify="left")
    for col in (
        "section",
        "model",
        "engine",
        "nworld",
        "size",
        "unit",
        "A",
        "B",
        "B/A",
        "A cost",
        "B cost",
        "B/A cost",
    ):
        t.add_column(
            col, justify="left" if col in ("section", "model", "engine", "size", "unit") else "right"
        )
    for p in found:
        r = p.a
        t.add_row(
            r.section,
            r.model,
            r.engine or "",
            str(r.nworld or ""),
            f"{r.width}x{r.height}" if r.width else "",
            r.unit,
            f"{p.a.value:,.1f}",
            f"{p.b.value:,.1f}",
            "" if p.speedup is None else f"{p.speedup:.2f}x",
            price.shown(p.a.cost()),
            price.shown(p.b.cost()),
            "" if p.cost_ratio is None else f"{p.cost_ratio:.2f}x",
        )
    t.caption = "\n".join(summary(found)) or None
    return t


def summary(found: list[Pair]) -> list[str]:
    """How often B is faster and cheaper, in words."""
    rates = [p for p in found if p.speedup is not None]
    costs = [p for p in found if p.cost_ratio is not None]
    lines = []
    if rates:
        lines.append(f"B is faster in {sum(p.speedup > 1 for p in rates)} of {len(rates)} figures")  # type: ignore[operator]
    if costs:
        lines.append(
            f"B is cheaper for the same work in {sum(p.cost_ratio < 1 for p in costs)} of {len(costs)}"
        )  # type: ignore[operator]
    elif found:
        lines.append("no cost: give each file's price with --price-per-hour (A's, then B's)")
    return lines
