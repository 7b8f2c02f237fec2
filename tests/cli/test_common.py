"""The simulation options, declared once: every simulating command offers the same ones, and they arrive.

Guards against a command that declares its own copy of an option (whose name, default or help then
drifts from the others) and against a value dropped on the way into SimulationOptions.
"""

import re

import pytest
import typer
from typer.testing import CliRunner

from mjpod.cli import app
from mjpod.cli.common import SimulationOptions
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


@pytest.mark.parametrize("command", ["record", "serve", "view"])
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--nworld", "0"], "nworld must be at least 1"),
        (["--ctrl", "steer"], "ctrl must be zero, noise or hold"),
        (["--comfree-stiffness", "stiff"], "--comfree-stiffness takes numbers"),
        (["--comfree-damping", "soft"], "--comfree-damping takes numbers"),
        (["--engine", "physx"], "unknown engine 'physx'"),
    ],
)
def test_each_option_reaches_the_simulation_of_every_command(command, args, said):
    """A value typed on the command line arrives where its check is: a bad one of each option, given to
    each simulating command, ends it with that option's own error (view simulates with --local)."""
    model = ["--local", "pendulum"] if command == "view" else ["--model", "pendulum"]
    env = {"COLUMNS": "200", "DISPLAY": ":none"}  # view --local checks for a display before anything
    result = CliRunner().invoke(app, [command, *model, *args], env=env)
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())


def test_the_options_arrive_as_one_simulation_options():
    given = {
        "model": "pendulum",
        "engine": "comfree",
        "nworld": 3,
        "comfree_stiffness": "0.1,0.4",
        "width": 32,
    }
    arguments = vars(SimulationOptions()) | given  # as a command's locals(): every option, and more
    sim = SimulationOptions.of(arguments)
    assert (sim.model, sim.engine, sim.nworld) == ("pendulum", "comfree", 3)
    assert sim.engine_config() == EngineConfig(nworld=3, comfree_stiffness=(0.1, 0.4))
    with pytest.raises(KeyError, match="seed"):  # a command that lacks an option fails at once
        SimulationOptions.of({k: v for k, v in arguments.items() if k != "seed"})


def test_a_bad_value_exits_naming_the_option(capsys):
    with pytest.raises(typer.Exit) as exit_:
        SimulationOptions(comfree_damping="soft").engine_config()
    assert exit_.value.exit_code == 2 and "--comfree-damping takes numbers" in capsys.readouterr().err
    with pytest.raises(typer.Exit) as exit_:
        SimulationOptions(nworld=0).engine_config()  # EngineConfig's own check, through the one except
    assert exit_.value.exit_code == 2 and "nworld must be at least 1" in capsys.readouterr().err
