import subprocess
import sys

import pytest

from mjpod import models
from mjpod.jobs.bench import testspeed


def test_a_failed_run_says_which_run_and_why():
    lm = models.load("pendulum")
    with pytest.raises(
        testspeed.TestspeedError,
        match=r"--function=render on pendulum nworld=2 failed: .*\(ValueError: testspeed available for gpu only\)",
    ):
        testspeed.run(lm, 2, 10, 4, 8, "cpu", "--function=render")  # testspeed runs on GPUs only


def test_render_flags_are_ones_testspeed_accepts():
    """The exact flags the batch section passes parse in mjwarp-testspeed (which then stops: no GPU here)."""
    lm = models.load("bin")
    flags = testspeed.render_flags(lm.model)
    assert "--camera_name=overview" in flags and "--render_skybox=true" in flags
    cmd = [sys.executable, "-m", "mujoco_warp.testspeed", str(lm.path), "--nworld=2", "--device=cpu", *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "Flags parsing error" not in proc.stderr
    assert "gpu only" in proc.stderr, proc.stderr[-2000:]  # got past flag parsing to the device check


def test_unnamed_camera_is_chosen_by_position(tmp_path):
    path = tmp_path / "two.xml"
    path.write_text('<mujoco><worldbody><camera pos="0 -1 0"/><camera name="b"/></worldbody></mujoco>')
    flags = testspeed.render_flags(models.load(str(path)).model)
    assert flags[-2:] == ["--cam_active=true", "--cam_active=false"]


def test_ratio_row_divides_the_two_figures():
    from mjpod.jobs.bench.types import Row

    ours = Row("batch", "bin", 900.0, "world-frames/s", 9000, 10.0, engine="mjwarp", nworld=8192)
    theirs = Row("batch", "bin", 1000.0, "world-frames/s", 8000, 8.0, engine="mjwarp-testspeed", nworld=8192)
    ratio = testspeed.ratio_row(ours, theirs)
    assert (ratio.value, ratio.unit, ratio.nworld, ratio.seconds) == (0.9, "x mjwarp-testspeed", 8192, 18.0)
