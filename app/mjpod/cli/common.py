"""What every `mjpod` command shares: consoles, the error exit, parsers, and the simulation options.

Commands that run a simulation (record, serve, view --local) take the same model, engine, world and
control options: `simulation_options` declares them once and hands them to the command as one
`SimulationOptions`, so their names, defaults and help never drift apart.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from mjpod.engines import ENGINES, EngineConfig
from mjpod.errors import MjpodError

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
    *,
    nworld: int = 1,
    device: str | None = None,
    ctrl: str = "noise",
    seed: int = 0,
    nconmax: int | None = None,
    njmax: int | None = None,
    comfree_stiffness: str | None = None,
    comfree_damping: str | None = None,
) -> EngineConfig:
    """An EngineConfig from command-line values, or a clean exit naming the bad one."""
    extra = {
        k: v
        for k, v in {
            "comfree_stiffness": float_list(comfree_stiffness, "--comfree-stiffness"),
            "comfree_damping": float_list(comfree_damping, "--comfree-damping"),
        }.items()
        if v is not None
    }
    with user_errors():
        return EngineConfig(
            nworld=nworld, device=device, ctrl=ctrl, seed=seed, nconmax=nconmax, njmax=njmax, **extra
        )


# -- the simulation options, declared once ---------------------------------------------------------

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

    # Each field's type carries its option's help; --help lists them in this order.
    model: ModelOpt = "bin"
    engine: EngineOpt = "mjc"
    nworld: NworldOpt = 1
    device: DeviceOpt = None
    ctrl: CtrlOpt = "noise"
    seed: SeedOpt = 0
    nconmax: NconmaxOpt = None
    njmax: NjmaxOpt = None
    comfree_stiffness: StiffnessOpt = None
    comfree_damping: DampingOpt = None

    def engine_config(self) -> EngineConfig:
        """The engine's settings, or a clean exit naming the bad value."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del fields["model"], fields["engine"]
        return engine_config(**fields)  # type: ignore[arg-type]


def simulation_options(
    model: tuple[Any, str | None] = (ModelOpt, "bin"),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Put the shared simulation options where the command has its `sim` parameter, and call it with
    them gathered into one SimulationOptions. `model`: the model option's declaration and default, for a
    command that names it otherwise (view's --local)."""
    options = typing.get_type_hints(SimulationOptions, include_extras=True) | {"model": model[0]}
    defaults = {f.name: f.default for f in dataclasses.fields(SimulationOptions)} | {"model": model[1]}
    shared = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name], annotation=options[name]
        )
        for name in options
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        params: list[inspect.Parameter] = []
        for p in signature.parameters.values():
            params += shared if p.name == "sim" else [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)]

        @functools.wraps(command)
        def with_options(**given: Any) -> Any:
            sim = SimulationOptions(**{name: given.pop(name) for name in options})
            return command(sim=sim, **given)

        with_options.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return with_options

    return decorate
