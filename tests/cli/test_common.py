"""The simulation options, declared once: every simulating command offers the same ones, and they arrive.

Guards against a command that declares its own copy of an option (whose name, default or help then
drifts from the others) and against a value dropped on the way into SimulationOptions.
"""

import re

import pytest
import typer
from typer.testing import CliRunner

from mjpod.cli import app
from mjpod.cli.common import SimulationOptions, simulation_options
from mjpod.engines import EngineConfig

SHARED = [
    "--engine", "--nworld", "--device", "--ctrl", "--seed", "--nconmax", "--njmax",
    "--comfree-stiffness", "--comfree-damping",
]  # fmt: skip


def option_lines(command: str) -> dict[str, str]:
    """--help of `command`, as option -> its line (help text and default)."""
    text = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"}).output
    return {
        m.group(1): line.strip("│ ") for line in text.splitlines() if (m := re.match(r"│ (--[a-z-]+)", line))
    }


def test_record_serve_and_view_offer_the_same_simulation_options():
    record, serve, view = (option_lines(c) for c in ("record", "serve", "view"))
    for option in SHARED:
        assert record[option] == serve[option] == view[option], option
    assert record["--model"] == serve["--model"] and "--model" not in view  # view names its model --local
    assert "--local" in view


def test_the_options_arrive_as_one_simulation_options():
    seen = {}

    @simulation_options()
    def command(sim: SimulationOptions, width: int = 640) -> None:
        seen.update(sim=sim, width=width)

    cli = typer.Typer()
    cli.command()(command)
    cli.command()(lambda: None)  # two commands: the first is invoked by name
    args = ["command", "-m", "pendulum", "-e", "comfree", "--nworld", "3", "--comfree-stiffness", "0.1,0.4"]
    result = CliRunner().invoke(cli, [*args, "--width", "32"])
    assert result.exit_code == 0, result.output
    sim = seen["sim"]
    assert (sim.model, sim.engine, sim.nworld, seen["width"]) == ("pendulum", "comfree", 3, 32)
    assert sim.engine_config() == EngineConfig(nworld=3, comfree_stiffness=(0.1, 0.4))


def test_a_bad_value_exits_naming_the_option(capsys):
    with pytest.raises(typer.Exit) as exit_:
        SimulationOptions(comfree_damping="soft").engine_config()
    assert exit_.value.exit_code == 2 and "--comfree-damping takes numbers" in capsys.readouterr().err
    with pytest.raises(typer.Exit) as exit_:
        SimulationOptions(nworld=0).engine_config()  # EngineConfig's own check, through the one except
    assert exit_.value.exit_code == 2 and "nworld must be at least 1" in capsys.readouterr().err
