"""What every `mjpod` command shares: consoles, the error exit, parsers, and the simulation options.

Commands that run a simulation (record, serve, view --local) take the same model, engine, world and
control options: each is declared once here (a typer `Annotated` alias: name and help) with its default
written once where the library keeps it, and the command gathers them into one `SimulationOptions`.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mjpod.engines import DEFAULT_ENGINE, ENGINES, EngineConfig
from mjpod.errors import MjpodError
from mjpod.models import DEFAULT_MODEL

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error and return the exit to raise (code 2: bad input, 1: it ran and failed).

    The message is plain text, never markup: it may quote a server, an API or a file name.
    """
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


@contextmanager
def user_errors(code: int | None = None) -> Iterator[None]:
    """The CLI's one `except`: an MjpodError inside becomes its message and an exit (its code, or `code`)."""
    try:
        yield
    except MjpodError as err:
        raise fail(str(err), err.exit_code if code is None else code) from None


def log_to_stderr() -> None:
    """The library's log lines (clients joining, viewers reconnecting) on stderr, with a time stamp."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)


def float_list(text: str | None, option: str, size: int | None = None) -> tuple[float, ...] | None:
    """Parse "0.2" or "0.1,0.2,0.4" into floats (exactly `size` of them when given), naming the option on error."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise fail(f"{option} takes numbers separated by commas, e.g. 0.2 or 0.1,0.2; got {text!r}") from None
    if not values or (size is not None and len(values) != size):
        raise fail(f"{option} needs {size or 'at least one'} number(s) separated by commas; got {text!r}")
    return values


def int_list(text: str, option: str, below: int) -> tuple[int, ...]:
    """ "0", "0,3,5" or "0-3" -> world indices: each range checked to lie under `below` (nworld), and
    the count not to pass it, before it is built."""
    out: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi) if hi else int(lo)
            if not 0 <= first <= last < below:
                raise fail(f"{option}: {part[:40]} is not within 0..{below - 1} (--nworld {below})")
            if len(out) + last - first + 1 > below:
                raise fail(f"{option} names more worlds than the {below} there are (--nworld)")
            out.extend(range(first, last + 1))
    except ValueError:
        raise fail(f"{option} takes world numbers like 0, 0,3,5 or 0-3; got {text[:80]!r}") from None
    return tuple(out)


def frame_size(text: str, option: str) -> tuple[int, int]:
    """'640x480' -> (height, width)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise fail(f"{option} takes WIDTHxHEIGHT, e.g. 640x480; got {text!r}") from None
    if width < 16 or height < 16:
        raise fail(f"{option} must be at least 16x16; got {text!r}")
    return height, width


def engine_config(
    comfree_stiffness: str | None = None, comfree_damping: str | None = None, **given: Any
) -> EngineConfig:
    """An EngineConfig from command-line values (EngineConfig's own defaults for the rest), or a clean
    exit naming the bad one. `given`: EngineConfig's fields as typed (nworld, device, ctrl, seed, ...)."""
    for name, text in (("comfree_stiffness", comfree_stiffness), ("comfree_damping", comfree_damping)):
        if text is not None:
            given[name] = float_list(text, "--" + name.replace("_", "-"))
    with user_errors():
        return EngineConfig(**given)


# -- the simulation options, declared once ---------------------------------------------------------
# A command that simulates lists these as its parameters, each with the default named beside its
# type (DEFAULT_MODEL, DEFAULT_ENGINE, EngineConfig's), and gathers them into one SimulationOptions.

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m", help="model spec: bundled scene, Menagerie robot (robot or robot/entry), or a path"
    ),
]
EngineOpt = Annotated[str, typer.Option("--engine", "-e", help=f"engine: {', '.join(ENGINES)}")]
NworldOpt = Annotated[int, typer.Option(help="worlds simulated together")]
DeviceOpt = Annotated[
    str | None, typer.Option(help="Warp device: cuda:0, cpu (default: WARP_DEVICE or the best one)")
]
CtrlOpt = Annotated[str, typer.Option(help="controls: zero, noise (as mjwarp-testspeed) or hold")]
SeedOpt = Annotated[int, typer.Option(help="seed of the control noise")]
NconmaxOpt = Annotated[int | None, typer.Option(help="contacts per world (Warp engines; default: probed)")]
NjmaxOpt = Annotated[
    int | None, typer.Option(help="constraint rows per world (Warp engines; default: probed)")
]
StiffnessOpt = Annotated[
    str | None,
    typer.Option("--comfree-stiffness", help="comfree stiffness; a comma list gives world w value w % count"),
]
DampingOpt = Annotated[
    str | None,
    typer.Option("--comfree-damping", help="comfree damping; a comma list gives world w value w % count"),
]


@dataclasses.dataclass(frozen=True)
class SimulationOptions:
    """What to simulate, as typed on the command line: the model spec, the engine and its settings."""

    model: str = DEFAULT_MODEL
    engine: str = DEFAULT_ENGINE
    nworld: int = EngineConfig.nworld
    device: str | None = None
    ctrl: str = EngineConfig.ctrl
    seed: int = EngineConfig.seed
    nconmax: int | None = None
    njmax: int | None = None
    comfree_stiffness: str | None = None
    comfree_damping: str | None = None

    @classmethod
    def of(cls, given: Mapping[str, Any]) -> SimulationOptions:
        """The options out of a command's arguments (`locals()`), picked by name: none can be dropped
        or swapped on the way, and a command that lacks one fails at once."""
        return cls(**{f.name: given[f.name] for f in dataclasses.fields(cls)})

    def engine_config(self) -> EngineConfig:
        """The engine's settings, or a clean exit naming the bad value."""
        fields = dataclasses.asdict(self)
        del fields["model"], fields["engine"]
        return engine_config(**fields)
