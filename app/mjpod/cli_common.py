"""What every `mjpod` command shares: consoles, the error exit, and the simulation options.

Commands that run a simulation (bench, record, serve, view --local) take the same model, engine,
world and control options, declared once here so their names, defaults and help never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from mjpod.engines import ENGINES, EngineConfig
from mjpod.errors import MjpodError

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error and return the exit to raise (code 2: bad input, 1: it ran and failed)."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def user_errors(code: int | None = None) -> Iterator[None]:
    """The CLI's one `except`: an MjpodError inside becomes its message and an exit (its code, or `code`)."""
    try:
        yield
    except MjpodError as err:
        raise fail(str(err), err.exit_code if code is None else code) from None


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
