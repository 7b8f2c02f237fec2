"""What a benchmark is made of: its settings, one figure (`Row`), the collected result, and the sweep.

Every section module takes a `BenchConfig` and appends `Row`s to a `BenchResult`; nothing here runs.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path

from rich.progress import Progress

from mjpod import __version__, models
from mjpod.engines import ENGINES, EngineConfig
from mjpod.errors import SettingError
from mjpod.render.gl import GLInfo

SECTIONS = ("seed", "render", "physics", "contact", "stream", "encode", "record", "batch")  # in run order
SEED_MODEL = "franka_emika_panda/mjx_scene"
DEFAULT_MODELS = ("bin", SEED_MODEL)
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
    testspeed: bool | None = None  # compare with mjwarp-testspeed; None: when on CUDA
    out: Path = Path("bench/results")
    # what every engine run starts from (device, buffers, comfree gains); sections set nworld and buffers
    engine_config: EngineConfig = dataclasses.field(default_factory=EngineConfig)

    def __post_init__(self) -> None:
        unknown = set(self.skip) - set(SECTIONS)
        if unknown:
            raise SettingError(
                f"unknown section(s) to skip: {', '.join(sorted(unknown))}; sections: {SECTIONS}"
            )
        bad = set(self.engines) - set(ENGINES)
        if bad:
            raise SettingError(f"unknown engine(s): {', '.join(sorted(bad))}; engines: {', '.join(ENGINES)}")

    def engine_settings(self, **changes: object) -> EngineConfig:
        """The engine settings of one run: this bench's, with `changes` (nworld, buffers, ctrl) applied."""
        return dataclasses.replace(self.engine_config, **changes)  # type: ignore[arg-type]

    def to_json(self) -> dict:
        """The settings as result files record them: the engine settings flat among the bench's own."""
        e = self.engine_config
        return {
            "models": self.models,
            "engines": self.engines,
            "nworld": self.nworld,
            "nstep": self.nstep,
            "seconds": self.seconds,
            "skip": self.skip,
            "quick": self.quick,
            "device": e.device,
            "nconmax": e.nconmax,
            "njmax": e.njmax,
            "testspeed": self.testspeed,
            "out": str(self.out),
            "comfree_stiffness": e.comfree_stiffness,
            "comfree_damping": e.comfree_damping,
        }

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
        return {
            "mjpod_version": __version__,
            "created": self.created,
            "config": self.config.to_json(),
            "host": self.host,
            "gl": gl,
            "warp_device": self.warp_device,
            "warnings": self.warnings,
            "skipped": self.skipped,
            "results": [{k: v for k, v in dataclasses.asdict(r).items() if v is not None} for r in self.rows],
        }


def nworld_sweep(config: BenchConfig, engine: str, device: str | None) -> tuple[int, ...]:
    """The nworld values to measure: as asked, else a sweep that suits the run and the device."""
    if config.nworld:
        return config.nworld
    if config.quick:
        return NWORLD_QUICK
    if engine != "mjc" and device and device.startswith("cuda"):
        return NWORLD_GPU
    return NWORLD_CPU


Section = Callable[[BenchConfig, BenchResult, list[models.LoadedModel], Progress], None]
"""A section measures and appends its rows (and warnings) to the result; it never raises for one bad case."""
