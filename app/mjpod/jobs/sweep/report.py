"""What a sweep shows on the console: the plan (`--dry-run`) and the results summary.

Both are tables the command prints; results.csv (store.write_table) holds everything, these the gist.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

from mjpod.jobs.sweep.grid import Job
from mjpod.jobs.sweep.runner import Outcome

TABLE_ROWS = 40  # the console shows this many jobs; results.csv has them all


def plan(jobs: list[Job], done: dict[str, Any], has_gpus: bool, root: Path, where: str) -> Group:
    """One line per job, for the first TABLE_ROWS: the id (kind-model-engine-nworld-seed-hash), gains,
    device, what it asks for (on a cluster with or without GPUs, as `has_gpus` says) and whether it is
    `done` already; then what the rest hold, counted."""
    header = f"{len(jobs)} jobs -> {root} ({len(done)} already done); resources on {where}:"
    table = Table(box=None, pad_edge=False)
    for col in ("job", "gains", "device", "cpus", "gpus", "state"):
        table.add_column(col, no_wrap=col == "job")
    for job in jobs[:TABLE_ROWS]:
        request = job.request(has_gpus)
        gains = [job.params.get(k) for k in ("comfree_stiffness", "comfree_damping")]
        table.add_row(
            job.id,
            "{:g}/{:g}".format(*gains) if gains[0] is not None else "",
            job.device(has_gpus),
            f"{request['CPU']:g}",
            f"{request['GPU']:g}",
            "done" if job.id in done else "to run",
        )
    rest = jobs[TABLE_ROWS:]
    if not rest:
        return Group(header, table)
    kinds = Counter(f"{j.kind} on {j.params['engine']}" for j in rest)
    ready = sum(j.id in done for j in rest)
    more = (
        f"... and {len(rest)} more ({', '.join(f'{n} {k}' for k, n in kinds.most_common())}; "
        f"{len(rest) - ready} to run, {ready} done)"
    )
    return Group(header, table, more)


def results(outcome: Outcome) -> Table:
    """The first TABLE_ROWS jobs: status, wall time, node, and the figures or the error."""
    table = Table(box=None, pad_edge=False, title="sweep results")
    for col in ("job", "status", "wall s", "node", "figures / error"):
        table.add_column(col, no_wrap=col == "job", overflow="fold")
    for record in outcome.records[:TABLE_ROWS]:
        figures = record.get("figures") or {}
        text = record.get("error") or ", ".join(f"{k}={v}" for k, v in figures.items() if k != "warnings")
        status = record["status"] + (" (earlier)" if record.get("reused") else "")
        table.add_row(
            record["id"], status, str(record.get("wall_s") or ""), str(record.get("node") or ""), text
        )
    return table


def summary(outcome: Outcome) -> str:
    """The counts, this run's throughput and where the full table is."""
    more = len(outcome.records) - TABLE_ROWS
    counts = ", ".join(
        f"{outcome.count(s)} {s}" for s in ("done", "failed", "cancelled", "pending") if outcome.count(s)
    )
    return (
        (f"... and {more} more in the table\n" if more > 0 else "")
        + f"{counts}; {outcome.ran} ran now in {outcome.seconds:.1f} s ({outcome.jobs_per_second:.2f} jobs/s); "
        f"table: {outcome.table}"
    )
