"""Runs the benchmark sections in order and collects every figure as a `Row`."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path

import mujoco
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from mjpod import __version__, models
from mjpod.engines import ENGINES, EngineConfig, buffers, make
from mjpod.host import sysinfo
from mjpod.jobs.bench import measure, testspeed
from mjpod.render.gl import GLInfo, GLRenderer, gl_info

SECTIONS = ("seed", "render", "physics", "contact", "stream", "encode", "record", "batch")  # in run order
SEED_MODEL = "franka_emika_panda/mjx_scene"
DEFAULT_MODELS = ("bin", SEED_MODEL)
SEED_SIZE = (240, 320)  # height, width, as in the seed tutorial
RENDER_SIZES = ((240, 320), (480, 640))
NWORLD_GPU = (1, 64, 512, 1024, 4096, 8192)
NWORLD_CPU = (1, 8, 32)
NWORLD_QUICK = (1, 4)


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    models: tuple[str, ...] = DEFAULT_MODELS
    engines: tuple[str, ...] = ENGINES
    nworld: tuple[int, ...] = ()  # empty: a sweep that suits the device
    nstep: int = 1000  # per physics measurement, as mjwarp-testspeed's default
    seconds: float = 3.0  # time budget per measurement where the loop may stop early (CPU)
    skip: tuple[str, ...] = ()
    quick: bool = False
    device: str | None = None
    nconmax: int | None = None
    njmax: int | None = None
    testspeed: bool | None = None  # compare with mjwarp-testspeed; None: when on CUDA
    out: Path = Path("bench/results")
    comfree_stiffness: tuple[float, ...] = EngineConfig.comfree_stiffness  # world w: element w % len
    comfree_damping: tuple[float, ...] = EngineConfig.comfree_damping

    def __post_init__(self) -> None:
        unknown = set(self.skip) - set(SECTIONS)
        if unknown:
            raise ValueError(
                f"unknown section(s) to skip: {', '.join(sorted(unknown))}; sections: {SECTIONS}"
            )
        bad = set(self.engines) - set(ENGINES)
        if bad:
            raise ValueError(f"unknown engine(s): {', '.join(sorted(bad))}; engines: {', '.join(ENGINES)}")
        for name in ("comfree_stiffness", "comfree_damping"):
            values = getattr(self, name)
            if not values or any(not v >= 0 for v in values):
                raise ValueError(f"{name} needs one or more numbers >= 0, got {values!r}")

    @classmethod
    def quick_run(cls, **kw: object) -> BenchConfig:
        """A CI-sized run: few worlds, short loops."""
        return cls(quick=True, nstep=kw.pop("nstep", 100), seconds=kw.pop("seconds", 0.5), **kw)  # type: ignore[arg-type]


@dataclasses.dataclass
class Row:
    section: str
    model: str
    value: float
    unit: str
    count: int
    seconds: float
    engine: str | None = None
    device: str | None = None
    nworld: int | None = None
    width: int | None = None
    height: int | None = None
    nconmax: int | None = None  # Warp engines: the per-world buffers this figure ran with
    njmax: int | None = None
    note: str | None = None
    contacts: float | None = None  # mean active contacts per world when the figure was taken


@dataclasses.dataclass
class BenchResult:
    config: BenchConfig
    host: dict
    gl: GLInfo | None
    warp_device: str | None
    rows: list[Row] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    created: str = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    )

    def to_json(self) -> dict:
        gl = dataclasses.asdict(self.gl) | {"software": self.gl.software} if self.gl else None
        config = {
            k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self.config).items()
        }
        return {
            "mjpod_version": __version__,
            "created": self.created,
            "config": config,
            "host": self.host,
            "gl": gl,
            "warp_device": self.warp_device,
            "warnings": self.warnings,
            "skipped": self.skipped,
            "results": [{k: v for k, v in dataclasses.asdict(r).items() if v is not None} for r in self.rows],
        }


def _warp_device(config: BenchConfig) -> str | None:
    if not set(config.engines) - {"mjc"} or {"physics", "contact", "record", "batch"} <= set(config.skip):
        return None
    from mjpod.engines import warp_setup

    return str(warp_setup.device(config.device).alias)


def nworld_sweep(config: BenchConfig, engine: str, device: str | None) -> tuple[int, ...]:
    if config.nworld:
        return config.nworld
    if config.quick:
        return NWORLD_QUICK
    if engine != "mjc" and device and device.startswith("cuda"):
        return NWORLD_GPU
    return NWORLD_CPU


def run(config: BenchConfig, console: Console) -> BenchResult:
    """Run every section not skipped; problems in one model or section are recorded, not fatal."""
    result = BenchResult(config, sysinfo.host(), None, None)
    try:
        result.warp_device = _warp_device(config)
    except RuntimeError as err:
        result.warnings.append(f"Warp engines skipped: {err}")
        config = dataclasses.replace(config, engines=tuple(e for e in config.engines if e == "mjc"))
    if not {"seed", "render", "record", "batch"} <= set(config.skip):  # the sections that use GL
        try:
            result.gl = gl_info()
        except Exception as err:  # every GL backend failure surfaces here; doctor names the fix
            result.warnings.append(
                f"GL rendering unavailable ({err}); run `mjpod doctor`. GL sections skipped."
            )
            config = dataclasses.replace(config, skip=(*config.skip, "seed", "render"))
    _describe(result, console)

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
        runners = _section_runners()
        for name in SECTIONS:
            if name not in config.skip:
                runners[name](config, result, loaded, progress)
    return result


Section = Callable[["BenchConfig", "BenchResult", list[models.LoadedModel], Progress], None]


def _section_runners() -> dict[str, Section]:
    """Section name -> the function that measures it and appends its rows to the result."""
    from mjpod.jobs.bench import (  # they import this module: load them when sections run
        contact,
        stream,
        video,
    )

    return {
        "seed": _seed,
        "render": _render,
        "physics": _physics,
        "contact": contact.run_section,
        "stream": stream.run_section,
        "encode": video.encode,
        "record": video.record,
        "batch": video.batch,
    }


def _describe(result: BenchResult, console: Console) -> None:
    """Say what actually runs before measuring it."""
    host = result.host
    gpus = host["gpus"]
    console.print(f"[bold]mjpod bench[/] {__version__} on {host['hostname']} ({host['cpu_count']} CPU cores)")
    for g in gpus:
        console.print(f"  GPU: {g['name']}, driver {g['driver']}, {g['memory_mib']} MiB")
    if not gpus:
        console.print("  GPU: none found (no nvidia-smi or no NVIDIA driver)")
    vendors = ", ".join(f"{Path(p).name} -> {lib}" for p, lib in host["egl_vendor_files"].items()) or "none"
    console.print(f"  EGL vendor files: {vendors}")
    if result.gl:
        gl = result.gl
        console.print(f"  GL: MUJOCO_GL={gl.backend}, GL_RENDERER={gl.renderer!r}, {gl.version}")
        if gl.software and gpus:
            msg = (
                f"rendering falls back to a SOFTWARE renderer ({gl.renderer}) although this box has an "
                f"NVIDIA GPU ({gpus[0]['name']}): GL figures are CPU figures. Check "
                "NVIDIA_DRIVER_CAPABILITIES includes graphics and the NVIDIA EGL vendor file (mjpod doctor)."
            )
            result.warnings.append(msg)
            console.print(f"[bold red]WARNING: {msg}[/]")
        elif gl.software:
            console.print(f"  note: {gl.renderer} is a software renderer: GL figures measure the CPU")
    console.print(f"  Warp device: {result.warp_device or 'not used'}")
    console.print("  versions: " + ", ".join(f"{k} {v}" for k, v in host["versions"].items()))
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")


def _seed(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    del loaded  # the seed loop always runs the seed's own model
    task = progress.add_task("seed loop (mj_step+render)", total=1)
    try:
        seed = models.load(SEED_MODEL)
    except models.ModelError as err:
        result.warnings.append(f"seed loop skipped: {err}")
        result.skipped.append("seed")
        progress.update(task, description="seed loop: skipped (Panda not available)", completed=1)
        return
    result.rows.append(
        gl_row("seed", seed, SEED_SIZE, lambda r: measure.seed_loop(seed.model, r, config.seconds))
    )
    progress.advance(task)


def gl_row(
    section: str,
    lm: models.LoadedModel,
    size: tuple[int, int],
    timed: Callable[[GLRenderer], tuple[int, float]],
) -> Row:
    """Time `timed` on a fresh renderer of `size` (height, width) and make its frames/s row."""
    height, width = size
    with GLRenderer(lm.model, height, width) as renderer:
        frames, secs = timed(renderer)
    return Row(
        section, lm.name, frames / secs, "frames/s", frames, secs, width=width, height=height, note="GL"
    )


def _render(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    task = progress.add_task("render only (GL)", total=len(loaded) * len(RENDER_SIZES))
    for lm in loaded:
        mjd = mujoco.MjData(lm.model)
        mujoco.mj_forward(lm.model, mjd)
        for size in RENDER_SIZES:
            result.rows.append(
                gl_row("render", lm, size, lambda r, mjd=mjd: measure.render_only(mjd, r, config.seconds))
            )
            progress.advance(task)


def _physics(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    plan = [
        (lm, engine, n)
        for lm in loaded
        for engine in config.engines
        for n in nworld_sweep(config, engine, result.warp_device)
    ]
    task = progress.add_task("physics", total=len(plan))
    sizes: dict[str, tuple[int, int]] = {}  # probe each model once, not once per nworld
    margin = buffers.margin([e for e in config.engines if e != "mjc"])  # Warp engines share one size
    for lm, engine_name, nworld in plan:
        progress.update(task, description=f"physics {lm.name} {engine_name} nworld={nworld}")
        nconmax, njmax = config.nconmax, config.njmax
        if engine_name != "mjc":  # only the Warp engines have per-world buffers to size
            if lm.name not in sizes:
                sizes[lm.name] = buffers.sized(lm.model, EngineConfig.keyframe, nconmax, njmax, margin)
            nconmax, njmax = sizes[lm.name]
        engine_config = EngineConfig(
            nworld=nworld,
            device=config.device,
            nconmax=nconmax,
            njmax=njmax,
            comfree_stiffness=config.comfree_stiffness,
            comfree_damping=config.comfree_damping,
        )
        try:
            with make(engine_name, lm.model, engine_config) as engine:
                steps, secs = measure.physics(engine, config.nstep, config.seconds)
                note = engine.overflow()
                device = engine.device
        except Exception as err:  # one failing configuration (memory, a model feature) must not end the run
            result.warnings.append(f"{engine_name} on {lm.name} nworld={nworld} failed: {err}")
            progress.advance(task)
            continue
        if note:
            result.warnings.append(f"{engine_name} on {lm.name} nworld={nworld}: {note}")
        result.rows.append(
            Row(
                "physics",
                lm.name,
                steps / secs,
                "world-steps/s",
                steps,
                secs,
                engine=engine_name,
                device=device,
                nworld=nworld,
                note=note,
                **({} if engine_name == "mjc" else {"nconmax": nconmax, "njmax": njmax}),
            )
        )
        if _wants_testspeed(config, engine_name, device):
            _testspeed(config, result, lm, nworld, nconmax, njmax)
        progress.advance(task)


def _wants_testspeed(config: BenchConfig, engine: str, device: str) -> bool:
    if engine != "mjwarp" or not device.startswith("cuda"):
        return False  # testspeed runs on CUDA only
    return config.testspeed is not False


def _testspeed(
    config: BenchConfig, result: BenchResult, lm: models.LoadedModel, nworld: int, nconmax: int, njmax: int
) -> None:
    """mjwarp-testspeed on the same model, nworld and buffers, in this same run, for comparison."""
    try:
        figures = testspeed.run(lm, nworld, config.nstep, nconmax, njmax, config.device)
    except testspeed.TestspeedError as err:
        result.warnings.append(str(err))
        return
    steps = nworld * config.nstep
    result.rows.append(
        Row(
            "testspeed",
            lm.name,
            float(figures["steps_per_second"]),
            "world-steps/s",
            steps,
            float(figures["run_time"]),
            engine="mjwarp-testspeed",
            device=config.device or "cuda",
            nworld=nworld,
        )
    )
