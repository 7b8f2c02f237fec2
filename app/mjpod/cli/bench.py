"""`mjpod bench`: measure this box; `mjpod bench-report`: present a result file again, its figures beside
their targets (the sections, figures and targets are the library's, in jobs/bench)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mjpod.cli.common import (
    DampingOpt,
    DeviceOpt,
    NconmaxOpt,
    NjmaxOpt,
    StiffnessOpt,
    console,
    engine_config,
    fail,
    frame_size,
    user_errors,
)
from mjpod.engines import ENGINES
from mjpod.jobs.bench import BenchConfig
from mjpod.jobs.bench.sections import SECTIONS


def bench(
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="model spec; repeat for several")
    ] = None,
    engine: Annotated[list[str] | None, typer.Option(help=f"engine(s): {', '.join(ENGINES)}")] = None,
    nworld: Annotated[
        list[int] | None, typer.Option(help="worlds per physics run; repeat for a sweep")
    ] = None,
    nstep: Annotated[int | None, typer.Option(help="steps per physics measurement")] = None,
    seconds: Annotated[float | None, typer.Option(help="time budget per measurement on CPU")] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(help=f"skip a section: {', '.join(SECTIONS)}"),
    ] = None,
    only: Annotated[list[str] | None, typer.Option(help="run only this section; repeat for several")] = None,
    size: Annotated[
        list[str] | None,
        typer.Option(help="WIDTHxHEIGHT frames of the render and batch sections; repeat for several"),
    ] = None,
    contact_scene: Annotated[
        list[str] | None,
        typer.Option(help="model spec of the contact section (default: bin and mujoco_warp's primitives)"),
    ] = None,
    append: Annotated[
        bool,
        typer.Option(
            "--append",
            help="add to the result file already in --out for this hardware instead of replacing it",
        ),
    ] = False,
    quick: Annotated[bool, typer.Option("--quick", help="a CI-sized run")] = False,
    device: DeviceOpt = None,
    nconmax: NconmaxOpt = None,
    njmax: NjmaxOpt = None,
    testspeed: Annotated[
        bool | None,
        typer.Option("--testspeed/--no-testspeed", help="compare with mjwarp-testspeed (default: on CUDA)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="folder for the JSON, plot and transcript")] = BenchConfig.out,
    comfree_stiffness: StiffnessOpt = None,
    comfree_damping: DampingOpt = None,
) -> None:
    """Benchmark this box: the seed loop, GL rendering, and physics steps/s for every engine across nworld."""
    from mjpod.jobs.bench import report, runner

    given = {
        k: v
        for k, v in {
            "models": tuple(model) if model else None,
            "engines": tuple(engine) if engine else None,
            "nworld": tuple(nworld) if nworld else None,
            "nstep": nstep,
            "seconds": seconds,
            "skip": tuple(skip) if skip else None,
            "only": tuple(only) if only else None,
            "sizes": tuple(frame_size(s, "--size") for s in size) if size else None,
            "contact_scenes": tuple(contact_scene) if contact_scene else None,
            "testspeed": testspeed,
            "out": out,
            "append": append or None,
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
    with user_errors():
        result = runner.run(config, recorder)
    rows, warnings = result.own()
    recorder.print(report.table(result, rows))
    _warnings_and_skips(recorder, warnings, result.skipped)
    paths = report.write(result, recorder, config.out)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    if not rows:
        raise fail("no figures were measured; see the warnings above", code=1)


def _warnings_and_skips(out: Console, warnings: list[str], skipped: list[str]) -> None:
    for w in warnings:
        out.print(f"[yellow]warning:[/] {w}")
    for s in skipped:
        out.print(f"[cyan]skipped:[/] {s}")


def bench_report(
    result_file: Annotated[Path, typer.Argument(help="a bench-*.json that mjpod bench wrote")],
) -> None:
    """Present a bench result again: its table, the figures beside their targets (written beside it as
    bench-*-targets.md) and its plot, re-drawn from every figure it holds."""
    from mjpod.jobs.bench import report

    with user_errors():
        result = report.load(result_file)
    if result is None:
        raise fail(f"{result_file} does not exist; give a bench-*.json that mjpod bench wrote")
    files = report.named(result_file.with_suffix(""))
    console.print(report.table(result))
    _warnings_and_skips(console, result.warnings, result.skipped)
    console.print(report.targets_table(result))
    report.write_targets(result, files["targets"])
    report.plot(result, files["plot"])
    console.print(f"wrote {files['targets']}, {files['plot']}")
