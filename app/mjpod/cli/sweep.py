"""`mjpod sweep SPEC`: the options; the sweep itself is jobs/sweep (spec, grid, runner, ray_backend)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from mjpod.cli.common import console, err_console, user_errors


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
    from mjpod.jobs.signals import stop_on_signals
    from mjpod.jobs.sweep import grid, report, runner, store
    from mjpod.jobs.sweep import spec as specs
    from mjpod.jobs.sweep.progress import SweepProgress

    address = address or None  # RAY_ADDRESS="" means no cluster, as unset does
    with user_errors():
        parsed = specs.load(spec)
        jobs = grid.expand(parsed)
        folder = store.Store(out or (Path(parsed.out) if parsed.out else store.default_root(spec)))
        folder.check()
        done = folder.finished({j.id: j.params for j in jobs})
        here = dry_run and address is None  # a plan for this machine: no Ray to start for it
        if no_ray or here:
            backend: runner.Backend = runner.LoopBackend()
        else:
            from mjpod.jobs.sweep.ray_backend import RayBackend

            backend = RayBackend(address, cpus)
        with contextlib.closing(backend):
            backend.check(jobs)
            if dry_run:
                where = "this machine" if here else backend.describe()
                console.print(report.plan(jobs, done, backend.has_gpus, folder.root, where), soft_wrap=True)
                return
            console.print(f"mjpod sweep: {len(jobs)} jobs -> {folder.root} on {backend.describe()}")
            with (
                stop_on_signals() as stop,
                SweepProgress(err_console, runner.Events(stop=stop), len(jobs) - len(done), len(done)) as bar,
            ):
                outcome = runner.run(jobs, folder, backend, bar.events, bar.result)
    console.print(report.results(outcome), soft_wrap=True)
    console.print(report.summary(outcome))
    if outcome.count("pending") or outcome.count("cancelled"):
        raise typer.Exit(130)
    if outcome.count("failed"):
        raise typer.Exit(1)
