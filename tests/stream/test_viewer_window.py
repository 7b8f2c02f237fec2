"""`mjpod view` and `mjpod view --local` in real windows (MuJoCo's viewer, GLFW, Mesa's GL) on a private
X server: the model's colours on screen, a picture that moves as the simulation does, and a viewer
that draws a restarted server's stream without being restarted itself. Every wait is for something
the screen or the log shows; its timeout only bounds a failure."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from mjpod import models
from tests.cli_runner import run_mjpod
from tests.stream.helpers import Mjpod, free_port
from tests.xserver import model_colours, wait_for_motion, wait_for_rest, wait_for_scene

pytestmark = pytest.mark.display

MODEL = "pendulum"  # it swings for ever under serve's and view --local's noise controls


@pytest.fixture(scope="module")
def colours() -> list:
    found = model_colours(models.load(MODEL).model)
    assert len(found) == 2, found  # its orange arms and blue bob
    return found


def running(proc: Mjpod) -> Callable[[], None]:
    def check() -> None:
        assert proc.proc.poll() is None, f"mjpod exited ({proc.proc.returncode}):\n{proc.output}"

    return check


def test_view_draws_the_served_scene_and_moves_with_it(x_display, colours):
    port = free_port()
    with Mjpod("serve", "--model", MODEL, "--port", str(port)) as server:
        server.wait_line(f"streaming {MODEL} on")
        with Mjpod("view", "--port", str(port), **x_display.env) as viewer:
            viewer.wait_line(f"connected to 127.0.0.1:{port}: model {MODEL}")
            first = wait_for_scene(x_display, colours, running(viewer))
            wait_for_motion(x_display, colours, first, running(viewer))


def test_view_draws_a_restarted_servers_stream_without_being_restarted(x_display, colours):
    """The server is killed and started again on the same port: the viewer keeps retrying (more than
    once), its picture stands still meanwhile, and it moves again with the new server's states."""
    port = free_port()
    serve = ("serve", "--model", MODEL, "--port", str(port))
    first = Mjpod(*serve)
    first.wait_line(f"streaming {MODEL} on")
    viewer = Mjpod("view", "--port", str(port), "--retry-delay", "0.2", **x_display.env)
    try:
        viewer.wait_line(f"connected to 127.0.0.1:{port}")
        alive = running(viewer)
        wait_for_motion(x_display, colours, wait_for_scene(x_display, colours, alive), alive)
        first.proc.kill()  # a crash, not a clean close
        first.stop()
        viewer.wait_line("cannot connect", n=2)  # a failed attempt is followed by another
        still = wait_for_rest(x_display, colours, alive)  # no server, no motion
        with Mjpod(*serve) as second:
            second.wait_line(f"streaming {MODEL} on")
            viewer.wait_line(f"connected to 127.0.0.1:{port}: model {MODEL}", n=2)
            wait_for_motion(x_display, colours, still, alive)  # the new server's states, drawn
    finally:
        viewer.stop()
        first.stop()
    assert "model changed" not in viewer.output  # the same model: the same window went on


@pytest.mark.parametrize(
    "engine", [("--engine", "mjc"), ("--engine", "mjwarp", "--device", "cpu")], ids=["mjc", "mjwarp-cpu"]
)
def test_view_local_draws_the_simulation_moving(x_display, colours, engine):
    with Mjpod("view", "--local", MODEL, *engine, **x_display.env) as viewer:
        first = wait_for_scene(x_display, colours, running(viewer))
        wait_for_motion(x_display, colours, first, running(viewer))


def test_a_display_that_refuses_the_viewer_is_named_with_the_fix(x_display):
    """Before: MuJoCo's viewer ended the process with only "could not initialize GLFW"."""
    proc = run_mjpod("view", "--local", MODEL, DISPLAY=x_display.display, XAUTHORITY=os.devnull)
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 2, said
    assert f"cannot open a window on DISPLAY={x_display.display} (X11: Failed to open display" in said
    assert "XAUTHORITY" in said and "mjpod view --record out.mp4" in said and "Traceback" not in said
