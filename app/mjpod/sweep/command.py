"""`mjpod sweep SPEC`: the command over the sweep library (registered in the mjpod CLI)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mjpod.cli_common import console, err_console, fail
from mjpod.sweep import jobs as sweep_jobs
from mjpod.sweep import runner
from mjpod.sweep import spec as sweep_spec
from mjpod.sweep.store import Store

TABLE_ROWS = 40  # the console shows this many jobs; results.csv has them all


def default_out(spec_path: Path) -> Path:
    """$MJPOD_WORKSPACE/sweeps/<spec name> (the container's volume), else ./sweeps/<spec name>."""
    workspace = os.environ.get("MJPOD_WORKSPACE")
    return (Path(workspace) if workspace else Path(".")) / "sweeps" / spec_path.stem


def sweep(
    spec: Annotated[Path, typer.Argument(help="sweep spec, .toml or .yaml (docs/sweep.md)")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="output folder (default: the spec's out, else sweeps/NAME)"),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            envvar="RAY_ADDRESS", help="Ray cluster head (host:6379 or auto); none: an embedded Ray here"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the jobs and their resources; run nothing")
    ] = False,
    no_ray: Annotated[
        bool, typer.Option("--no-ray", help="run the jobs one after another in this process")
    ] = False,
    cpus: Annotated[int | None, typer.Option(help="CPUs the embedded Ray may use (default: all)")] = None,
) -> None:
    """Run a grid of record / rollout / bench jobs on Ray: skips finished jobs, writes results.csv."""
    address = address or None  # RAY_ADDRESS="" means no cluster, as unset does
    try:
        parsed = sweep_spec.load(spec)
        jobs = sweep_jobs.expand(parsed)
    except sweep_spec.SpecError as err:
        raise fail(str(err)) from None
    store = Store(out or (Path(parsed.out) if parsed.out else default_out(spec)))
    if dry_run and address is None:
        from mjpod import sysinfo

        _print_plan(jobs, store, bool(sysinfo.nvidia_gpus()), "this machine")
        return
    try:
        if no_ray:
            backend = runner.LoopBackend()
        else:
            from mjpod.sweep.ray_backend import RayBackend

            backend = RayBackend(address, cpus)
            backend.check(jobs)
    except RuntimeError as err:
        raise fail(str(err)) from None
    where = backend.describe() if not no_ray else "this process, one job after another (no Ray)"
    if dry_run:
        _print_plan(jobs, store, backend.has_gpus, where)
        return
    try:
        outcome = _run(jobs, store, backend, where)
    except RuntimeError as err:  # the output folder is locked by another sweep
        raise fail(str(err)) from None
    finally:
        if not no_ray:
            backend.close()
    _summary(outcome)
    if outcome.count("pending") or outcome.count("cancelled"):
        raise typer.Exit(130)
    if outcome.count("failed"):
        raise typer.Exit(1)


def _run(jobs: list[sweep_jobs.Job], store: Store, backend: Any, where: str) -> runner.Outcome:
    from mjpod.record import stop_on_signals

    console.print(f"mjpod sweep: {len(jobs)} jobs -> {store.root} on {where}")
    progress = Progress(
        TextColumn("[bold]sweep[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}  running {task.fields[running]}"),
        TimeRemainingColumn(),
        console=err_console,
    )
    with stop_on_signals() as stop, progress:
        events = runner.Events(stop=stop)
        counts = {"failed": 0}

        def on_change() -> None:
            if stop.is_set() and not events.cancel.is_set():
                progress.update(task, description="stopping")
            progress.update(task, running=events.running)

        def on_result(record: dict[str, Any]) -> None:
            if record["status"] == "failed":
                counts["failed"] += 1
                progress.console.print(f"[red]failed[/] {record['id']}: {record.get('error')}")
            progress.update(task, advance=1, failed=counts["failed"], running=events.running)

        events.on_change = on_change
        skipped = len(store.finished([j.id for j in jobs])) if store.root.is_dir() else 0
        task = progress.add_task("sweep", total=len(jobs) - skipped, failed=0, running=0)
        if skipped:
            progress.console.print(f"{skipped} job(s) already done in {store.root}: skipped")
        outcome = runner.run(jobs, store, backend, events, on_result)
        progress.update(task, running=0)
        if events.cancel.is_set():
            progress.console.print("interrupted twice: running jobs cancelled; the same command goes on")
        elif stop.is_set():
            progress.console.print(
                "interrupted: no new jobs were started, the running ones finished; the same command goes on"
            )
    return outcome


def _print_plan(jobs: list[sweep_jobs.Job], store: Store, has_gpus: bool, where: str) -> None:
    """One line per job: the id (kind-model-engine-nworld-seed-hash), gains, device and what it asks for."""
    done = store.finished([j.id for j in jobs]) if store.root.is_dir() else {}
    console.print(f"{len(jobs)} jobs -> {store.root} ({len(done)} already done); resources on {where}:")
    table = Table(box=None, pad_edge=False)
    for col in ("job", "gains", "device", "cpus", "gpus", "state"):
        table.add_column(col, no_wrap=col == "job")
    for job in jobs:
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
    console.print(table, soft_wrap=True)


def _summary(outcome: runner.Outcome) -> None:
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
    console.print(table, soft_wrap=True)
    if len(outcome.records) > TABLE_ROWS:
        console.print(f"... and {len(outcome.records) - TABLE_ROWS} more in the table")
    counts = ", ".join(
        f"{outcome.count(s)} {s}" for s in ("done", "failed", "cancelled", "pending") if outcome.count(s)
    )
    console.print(
        f"{counts}; {outcome.ran} ran now in {outcome.seconds:.1f} s ({outcome.jobs_per_second:.2f} jobs/s); "
        f"table: {outcome.table}"
    )
