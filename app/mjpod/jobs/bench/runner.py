"""Runs the benchmark sections in order and collects every figure as a `Row`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from mjpod import __version__, models
from mjpod.host import sysinfo
from mjpod.jobs.bench import report
from mjpod.jobs.bench.sections import SECTIONS, check
from mjpod.jobs.bench.types import BenchConfig, BenchResult
from mjpod.render.gl import gl_info


def _warp_device(config: BenchConfig) -> str | None:
    if not set(config.engines) - {"mjc"} or not any(
        config.runs(s) for s in ("physics", "contact", "record", "batch")
    ):
        return None
    from mjpod.engines import warp_setup

    return str(warp_setup.device(config.engine_config.device).alias)


def run(config: BenchConfig, console: Console) -> BenchResult:
    """Run every section not skipped; problems in one model or section are recorded, not fatal.

    The JSON is rewritten after every figure, so a run stopped part way (a time limit) keeps what it
    measured; with `config.append` the figures already in that file for this hardware are carried on.
    """
    check(config)
    result = BenchResult(config, sysinfo.host(), None, None)
    result.json_path = report.paths(result, config.out)["json"]
    try:
        result.warp_device = _warp_device(config)
    except RuntimeError as err:
        result.warnings.append(f"Warp engines skipped: {err}")
        config = dataclasses.replace(config, engines=tuple(e for e in config.engines if e == "mjc"))
    if any(config.runs(s) for s in ("seed", "render", "record", "batch")):  # the sections that use GL
        try:
            result.gl = gl_info()
        except Exception as err:  # every GL backend failure surfaces here; doctor names the fix
            result.warnings.append(
                f"GL rendering unavailable ({err}); run `mjpod doctor`. GL sections skipped."
            )
            config = dataclasses.replace(config, skip=(*config.skip, "seed", "render"))
    _describe(result, console)
    if config.append:
        _continue(result, console)

    loaded: list[models.LoadedModel] = []
    for spec in config.models:
        try:
            loaded.append(models.load(spec))
        except models.ModelError as err:
            result.warnings.append(str(err))
            result.skipped.append(f"model {spec}")
            console.print(f"[yellow]skipping model {spec}:[/] {err}")

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        for name, section in SECTIONS.items():
            if config.runs(name):
                section(config, result, loaded, progress)
                result.save()  # the section's warnings and skips too
    return result


def _continue(result: BenchResult, console: Console) -> None:
    """Carry the figures already in this hardware's result file (bench --append) into `result`."""
    path = report.paths(result, result.config.out)["json"]
    earlier = report.load(path, follow=False)  # a link planted there is refused, never read
    if earlier is None:
        console.print(f"  appending: {path} does not exist yet; this run starts it")
        return
    result.continue_from(earlier)
    console.print(f"  appending to {path}: {len(earlier.rows)} figure(s) so far")


def _describe(result: BenchResult, console: Console) -> None:
    """Say what actually runs before measuring it."""
    host = result.host
    gpus = host.gpus
    console.print(f"[bold]mjpod bench[/] {__version__} on {host.hostname} ({host.cpu_count} CPU cores)")
    for g in gpus:
        console.print(f"  GPU: {g.name}, driver {g.driver}, {g.memory_mib} MiB")
    if not gpus:
        console.print("  GPU: none found (no nvidia-smi or no NVIDIA driver)")
    vendors = ", ".join(f"{Path(p).name} -> {lib}" for p, lib in host.egl_vendor_files.items()) or "none"
    console.print(f"  EGL vendor files: {vendors}")
    if result.gl:
        gl = result.gl
        console.print(f"  GL: MUJOCO_GL={gl.backend}, GL_RENDERER={gl.renderer!r}, {gl.version}")
        if gl.software and gpus:
            msg = (
                f"rendering falls back to a SOFTWARE renderer ({gl.renderer}) although this box has an "
                f"NVIDIA GPU ({gpus[0].name}): GL figures are CPU figures. Check "
                "NVIDIA_DRIVER_CAPABILITIES includes graphics and the NVIDIA EGL vendor file (mjpod doctor)."
            )
            result.warnings.append(msg)
            console.print(f"[bold red]WARNING: {msg}[/]")
        elif gl.software:
            console.print(f"  note: {gl.renderer} is a software renderer: GL figures measure the CPU")
    console.print(f"  Warp device: {result.warp_device or 'not used'}")
    console.print("  versions: " + ", ".join(f"{k} {v}" for k, v in host.versions.items()))
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")
