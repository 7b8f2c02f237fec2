"""GL rendering through Mesa EGL here: what ran is reported, frames are real pictures."""

import mujoco
import numpy as np
import pytest

from mjpod import models
from mjpod.host import sysinfo
from mjpod.render.gl import GLFrameError, GLInfo, GLRenderer, gl_info


def test_gl_info_reports_the_real_renderer():
    info = gl_info()
    assert info.backend == "egl"
    assert info.renderer not in ("", "unknown")
    assert info.version[0].isdigit()
    if not sysinfo.nvidia_gpus():  # no GPU: Mesa's llvmpipe draws, and must be reported as software
        assert "llvmpipe" in info.renderer and info.software, info
    # (on an NVIDIA box, tests/gpu asserts the NVIDIA driver draws and is not flagged software)


def test_software_detection():
    assert GLInfo("egl", "llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa", "4.5").software
    assert not GLInfo("egl", "NVIDIA H100 80GB HBM3/PCIe/SSE2", "NVIDIA Corporation", "4.6").software


def test_frames_show_the_scene_and_change_as_it_moves():
    mjm = models.load("pendulum").model
    mjd = mujoco.MjData(mjm)
    mujoco.mj_resetDataKeyframe(mjm, mjd, 0)
    mujoco.mj_forward(mjm, mjd)
    with GLRenderer(mjm, 120, 160) as renderer:
        first = renderer.render(mjd, camera="front").copy()
        for _ in range(200):
            mujoco.mj_step(mjm, mjd)
        second = renderer.render(mjd, camera="front")
    assert first.shape == (120, 160, 3) and first.dtype == np.uint8
    assert first.std() > 5  # not a blank frame
    assert np.abs(first.astype(int) - second).mean() > 0.5  # the pendulum moved


def test_frames_larger_than_the_offscreen_buffer_are_allowed():
    mjm = models.load("pendulum").model  # offwidth 1280 x offheight 720
    mjd = mujoco.MjData(mjm)
    mujoco.mj_forward(mjm, mjd)
    with GLRenderer(mjm, 800, 1600) as renderer:
        frame = renderer.render(mjd)
    assert frame.shape == (800, 1600, 3)
    assert mjm.vis.global_.offwidth == 1600


def test_a_frame_larger_than_gl_allows_is_a_clear_error():
    """`--width 20000` ended in a mujoco.FatalError traceback (record now refuses such a video frame
    before it renders; the renderer still says what GL takes for any caller)."""
    with pytest.raises(GLFrameError, match=r"GL cannot draw 40000x480 frames here .* pixels a side"):
        GLRenderer(models.load("bin").model, height=480, width=40000)
