"""`make gui`: the image draws MuJoCo's viewer on this machine's X server, here a private Xvfb that lets
in only clients holding its cookie (no `xhost +`). The container reaches it through the mounted
socket folder and the cookie file make gui writes; the screen must show the scene, moving."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import pytest

from mjpod import models
from tests.image.conftest import IMAGE, ROOT, TAG
from tests.image.docker import Docker
from tests.image.engine import docker_cli
from tests.xserver import model_colours, wait_for_motion, wait_for_scene

pytestmark = [pytest.mark.image, pytest.mark.display]


def test_make_gui_draws_on_the_hosts_display_with_its_cookie(docker_env, image, x_display, tmp_path):
    assert not x_display.accepts(None), "the test's X server lets anyone in: it would prove nothing"
    assert x_display.accepts(x_display.cookie)
    colours = model_colours(models.load("pendulum").model)
    cookie_file, log = tmp_path / "gui.xauth", tmp_path / "make-gui.log"
    # fmt: off
    argv = ["make", "--no-print-directory", f"DOCKER={docker_cli()}", "gui", "GPUS=", f"IMAGE={IMAGE}", f"TAG={TAG}",
            "GUI_MODEL=pendulum", f"GUI_XAUTH={cookie_file}"]
    # fmt: on
    with log.open("w") as out:
        make = subprocess.Popen(
            argv, cwd=ROOT, env={**docker_env, **x_display.env}, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def running() -> None:
        assert make.poll() is None, f"make gui ended ({make.returncode}):\n{log.read_text()}"

    try:
        first = wait_for_scene(x_display, colours, running)
        wait_for_motion(x_display, colours, first, running)
    finally:
        with contextlib.suppress(ProcessLookupError):  # as Ctrl-C: docker run passes it to the container
            os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=120)
        docker = Docker(docker_env)  # and should that not have ended it, the container goes here
        if left := docker.run("ps", "-aq", "--filter", f"volume={cookie_file}").stdout.split():
            docker.run("rm", "-f", *left, check=False)
    said = log.read_text()
    assert "xhost" not in said, said  # the cookie did it, not a host rule
    assert oct(cookie_file.stat().st_mode)[-3:] == "600"
