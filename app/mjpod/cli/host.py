"""`mjpod models` and `mjpod doctor`: what this box can load, and whether it can render and simulate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mjpod.cli.common import console, fail

STATUS_STYLE = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "bold red"}  # by doctor.Status


def models() -> None:
    """List what a model spec can name: bundled scenes and Menagerie robots (with offline availability)."""
    from mjpod import models as m

    rows = m.listing()
    t = Table(title="loadable models (a path to any .xml/.mjb works too)")
    for col in ("name", "source", "entry points", "here"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.name, r.source, ", ".join(r.entries), "yes" if r.available else "download")
    console.print(t)
    root = os.environ.get("MENAGERIE_ROOT")
    console.print(
        f"Menagerie: MENAGERIE_ROOT={root}"
        if root
        else "Menagerie robots download on first use; set MENAGERIE_ROOT to load them offline."
    )
    console.print("Spec forms: bin | franka_emika_panda | franka_emika_panda/mjx_scene | path/to/model.xml")


def doctor(
    workspace: Annotated[
        Path | None, typer.Option(help="where videos and results go (MJPOD_WORKSPACE)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="also check a frame size against this model")] = None,
    width: Annotated[int, typer.Option(help="frame width to check")] = 640,
    height: Annotated[int, typer.Option(help="frame height to check")] = 480,
) -> None:
    """Check GPU driver, EGL, GL renderer, Warp, ffmpeg and disk; print each problem with its fix."""
    from mjpod.host import doctor as d

    workspace = workspace or Path(os.environ.get("MJPOD_WORKSPACE", "."))
    findings = d.run_checks(workspace, (model, width, height) if model else None)
    t = Table(title="mjpod doctor")
    for col in ("check", "status", "detail / fix"):
        t.add_column(col, overflow="fold")
    for f in findings:
        text = f.detail + (f"\n[bold]fix:[/] {f.fix}" if f.fix and f.status is not d.Status.OK else "")
        t.add_row(f.check, f"[{STATUS_STYLE[f.status]}]{f.status}[/]", text)
    console.print(t)
    failed = [f for f in findings if f.status is d.Status.FAIL]
    if failed:
        raise fail(f"{len(failed)} problem(s): {', '.join(f.check for f in failed)}", code=1)
