"""What a benchmark is made of: its settings, one figure (`Row`), the collected result, and the sweep.

Every section module (listed in `sections`) takes a `BenchConfig` and appends `Row`s to a
`BenchResult`; nothing here runs.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from pathlib import Path

from rich.progress import Progress

from mjpod import __version__, files, models
from mjpod.engines import ENGINES, EngineConfig
from mjpod.errors import SettingError
from mjpod.host.sysinfo import Host
from mjpod.render.gl import GLInfo

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
    only: tuple[str, ...] = ()  # run just these sections (empty: every section not skipped)
    sizes: tuple[tuple[int, int], ...] = ()  # (height, width) frames of render and batch; empty: theirs
    contact_scenes: tuple[str, ...] = ()  # model specs of the contact section; empty: its own scenes
    quick: bool = False
    testspeed: bool | None = None  # compare with mjwarp-testspeed; None: when on CUDA
    out: Path = Path("bench/results")
    append: bool = False  # add to the result file already in `out` for this hardware, not replace it
    # what every engine run starts from (device, buffers, comfree gains); sections set nworld and buffers
    engine_config: EngineConfig = dataclasses.field(default_factory=EngineConfig)

    def __post_init__(self) -> None:
        bad_sizes = [f"{w}x{h}" for h, w in self.sizes if h <= 0 or w <= 0]
        if bad_sizes:
            raise SettingError(f"frame size(s) {', '.join(bad_sizes)}: width and height must be positive")
        bad = set(self.engines) - set(ENGINES)
        if bad:
            raise SettingError(f"unknown engine(s): {', '.join(sorted(bad))}; engines: {', '.join(ENGINES)}")

    def runs(self, section: str) -> bool:
        """Whether `section` is measured: named by --only (when given) and not skipped."""
        return section not in self.skip and (not self.only or section in self.only)

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
            "only": self.only,
            "sizes": [f"{w}x{h}" for h, w in self.sizes],
            "contact_scenes": self.contact_scenes,
            "quick": self.quick,
            "device": e.device,
            "nconmax": e.nconmax,
            "njmax": e.njmax,
            "testspeed": self.testspeed,
            "out": str(self.out),
            "append": self.append,
            "comfree_stiffness": e.comfree_stiffness,
            "comfree_damping": e.comfree_damping,
        }

    @classmethod
    def from_json(cls, data: dict) -> BenchConfig:
        """The settings `to_json` recorded (files from before a field existed get its default)."""
        engine = {k: data[k] for k in ("device", "nconmax", "njmax") if data.get(k) is not None}
        for gains in ("comfree_stiffness", "comfree_damping"):
            if data.get(gains) is not None:
                engine[gains] = tuple(data[gains])
        sizes = tuple(tuple(int(v) for v in reversed(size.split("x"))) for size in data.get("sizes", ()))
        return cls(
            models=tuple(data["models"]),
            engines=tuple(data["engines"]),
            nworld=tuple(data["nworld"]),
            nstep=data["nstep"],
            seconds=data["seconds"],
            skip=tuple(data["skip"]),
            only=tuple(data.get("only", ())),
            sizes=sizes,  # type: ignore[arg-type]
            contact_scenes=tuple(data.get("contact_scenes", ())),
            quick=data["quick"],
            testspeed=data.get("testspeed"),
            out=Path(data["out"]),
            append=data.get("append", False),
            engine_config=EngineConfig(**engine),
        )

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
    host: Host
    gl: GLInfo | None
    warp_device: str | None
    rows: list[Row] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    created: str = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    )
    # the earlier runs whose figures this one continues (bench --append), as `run_record` wrote them
    earlier: list[dict] = dataclasses.field(default_factory=list)
    carried: int = 0  # how many of `rows` (and `warnings`, below) came from the earlier runs
    carried_warnings: int = 0
    # where `add` rewrites the JSON after every new row, so a run killed part way keeps what it measured
    json_path: Path | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def hardware(self) -> str:
        """What the figures were measured on, for titles: the first GPU, else the CPU's cores."""
        gpus = self.host.gpus
        return gpus[0].name if gpus else f"CPU only ({self.host.cpu_count} cores)"

    def add(self, row: Row | None) -> Row | None:
        """Append a figure (None, a failed case, is left out) and save; returns it."""
        if row is not None:
            self.rows.append(row)
            self.save()
        return row

    def save(self, path: Path | None = None) -> Path | None:
        """Write the JSON to `path` (default: `json_path`; neither: nothing), replaced in one step so a
        run killed while writing leaves the previous file whole."""
        path = path or self.json_path
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        return files.write_text(path, json.dumps(self.to_json(), indent=2) + "\n")

    def continue_from(self, earlier: BenchResult) -> None:
        """Put an earlier run's figures, warnings and skips before this run's; the file then records
        every run's settings (and keeps the GL and Warp device an earlier run found)."""
        self.rows[:0] = earlier.rows
        self.warnings[:0] = earlier.warnings
        self.skipped[:0] = earlier.skipped
        self.earlier = [*earlier.earlier, earlier.run_record()]
        self.carried, self.carried_warnings = len(earlier.rows), len(earlier.warnings)

    def own(self) -> tuple[list[Row], list[str]]:
        """The figures and warnings of this run alone (without what an earlier run measured)."""
        return self.rows[self.carried :], self.warnings[self.carried_warnings :]

    def run_record(self) -> dict:
        """This run's own part of a file that several runs wrote: when, with what, on which GL and device."""
        gl = dataclasses.asdict(self.gl) | {"software": self.gl.software} if self.gl else None
        return {
            "created": self.created,
            "config": self.config.to_json(),
            "gl": gl,
            "warp_device": self.warp_device,
        }

    def to_json(self) -> dict:
        run = self.run_record()
        for key in ("gl", "warp_device"):  # what this run did not look at, an earlier run may have
            run[key] = run[key] or next((r[key] for r in reversed(self.earlier) if r.get(key)), None)
        data = {
            "mjpod_version": __version__,
            "created": self.created,
            "config": run["config"],
            "host": self.host.to_json(),
            "gl": run["gl"],
            "warp_device": run["warp_device"],
            "warnings": self.warnings,
            "skipped": self.skipped,
            "results": [{k: v for k, v in dataclasses.asdict(r).items() if v is not None} for r in self.rows],
        }
        if self.earlier:  # every run whose figures are in this file, oldest first, this one last
            data["runs"] = [*self.earlier, self.run_record()]
        return data

    @classmethod
    def from_json(cls, data: dict) -> BenchResult:
        """A result as `to_json` wrote it, to present it again or to continue it."""
        gl = data.get("gl")  # the GL of this run, else of the latest earlier run that used GL
        return cls(
            config=BenchConfig.from_json(data["config"]),
            host=Host.from_json(data["host"]),
            gl=GLInfo(**{f.name: gl[f.name] for f in dataclasses.fields(GLInfo)}) if gl else None,
            warp_device=data.get("warp_device"),
            rows=[Row(**row) for row in data["results"]],
            warnings=list(data.get("warnings", ())),
            skipped=list(data.get("skipped", ())),
            created=data["created"],
            earlier=list(data.get("runs", ()))[:-1],
        )


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
