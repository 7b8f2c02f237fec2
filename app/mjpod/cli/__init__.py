"""The `mjpod` command: thin command groups over the library (argument parsing and output only)."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless by default: set before anything imports mujoco

import typer

from mjpod.cli import bench, host, record, rollout, stream, sweep
from mjpod.cli.runpod import runpod_app

app = typer.Typer(
    help="mjpod: MuJoCo GPU rendering and simulation appliance.", no_args_is_help=True, add_completion=False
)
for command in (
    host.models,
    bench.bench,
    host.doctor,
    record.record,
    rollout.rollout,
    stream.serve,
    stream.view,
    sweep.sweep,
):
    app.command()(command)
app.command("bench-report")(bench.bench_report)
app.add_typer(runpod_app, name="runpod")


def main() -> None:
    app()
