"""`mjpod bench`: measure this box (the sections and their figures are the library's, in jobs/bench)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mjpod.cli.common import DampingOpt, StiffnessOpt, console, engine_config, fail, user_errors


def bench(
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="model spec; repeat for several")
    ] = None,
    engine: Annotated[list[str] | None, typer.Option(help="engine(s): mjc, mjwarp, comfree")] = None,
    nworld: Annotated[
        list[int] | None, typer.Option(help="worlds per physics run; repeat for a sweep")
    ] = None,
    nstep: Annotated[int | None, typer.Option(help="steps per physics measurement")] = None,
    seconds: Annotated[float | None, typer.Option(help="time budget per measurement on CPU")] = None,
    skip: Annotated[
        list[str] | None, typer.Option(help="skip a section: seed, render, physics, contact")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="a CI-sized run")] = False,
    device: Annotated[
        str | None, typer.Option(help="Warp device: cuda:0, cpu (default: WARP_DEVICE or best)")
    ] = None,
    nconmax: Annotated[int | None, typer.Option(help="contacts per world (Warp engines)")] = None,
    njmax: Annotated[int | None, typer.Option(help="constraint rows per world (Warp engines)")] = None,
    testspeed: Annotated[
        bool | None,
        typer.Option("--testspeed/--no-testspeed", help="compare with mjwarp-testspeed (default: on CUDA)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="folder for the JSON, plot and transcript")] = Path(
        "bench/results"
    ),
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
) -> None:
    """Benchmark this box: the seed loop, GL rendering, and physics steps/s for every engine across nworld."""
    from mjpod.jobs.bench import BenchConfig, report, runner

    given = {
        k: v
        for k, v in {
            "models": tuple(model) if model else None,
            "engines": tuple(engine) if engine else None,
            "nworld": tuple(nworld) if nworld else None,
            "nstep": nstep,
            "seconds": seconds,
            "skip": tuple(skip) if skip else None,
            "testspeed": testspeed,
            "out": out,
        }.items()
        if v is not None
    }
    given["engine_config"] = engine_config(
        device=device,
        nconmax=nconmax,
        njmax=njmax,
        comfree_stiffness=comfree_stiffness,
        comfree_damping=comfree_damping,
    )
    with user_errors():
        config = BenchConfig.quick_run(**given) if quick else BenchConfig(**given)
    recorder = Console(record=True, width=max(console.width, 150))  # the transcript keeps rows on one line
    result = runner.run(config, recorder)
    recorder.print(report.table(result))
    for w in result.warnings:
        recorder.print(f"[yellow]warning:[/] {w}")
    paths = report.write(result, recorder, config.out)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    if not result.rows:
        raise fail("no figures were measured; see the warnings above", code=1)
