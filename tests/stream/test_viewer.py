"""`mjpod view --record`: the display-free viewer loop follows a real server, survives its restart, writes an MP4."""

import mujoco
import numpy as np
import pytest

from mjpod import models
from mjpod.stream.feed import snapshot_arrays
from mjpod.stream.viewer import Recorder
from tests.mp4 import decode
from tests.stream.helpers import Mjpod, free_port

pytestmark = pytest.mark.ffmpeg


def test_viewer_reconnects_after_the_server_restarts(tmp_path):
    """The first server dies right after the viewer connects; the 60 frames asked for need the second one."""
    port, out = free_port(), tmp_path / "watch.mp4"
    serve = ("serve", "--model", "box_drop", "--port", str(port), "--hz", "30")
    first = Mjpod(*serve)
    first.wait_line("streaming box_drop on")
    # fmt: off
    viewer = Mjpod("view", "--port", str(port), "--record", str(out), "--size", "160x120", "--fps", "30",
                   "--frames", "60", "--retry-delay", "0.3")
    # fmt: on
    try:
        viewer.wait_line(f"connected to 127.0.0.1:{port}")
        first.proc.kill()  # a crash, not a clean close: the viewer sees the connection drop
        first.stop()
        viewer.wait_line("connection lost")
        with Mjpod(*serve) as second:
            second.wait_line("streaming box_drop on")
            viewer.wait_line(f"connected to 127.0.0.1:{port}", n=2)
            assert viewer.proc.wait(timeout=120) == 0, viewer.output  # ends by itself at 60 frames
    finally:
        viewer.stop()
        first.stop()
    assert "model changed" not in viewer.output  # same model after the restart: the same video goes on
    assert "wrote " in viewer.output and ": 60 frames" in viewer.output
    frames, meta = decode(out)
    assert meta["size"] == (160, 120) and len(frames) == 60
    assert max(f.std() for f in frames) > 5  # a drawn scene, not a blank frame


def test_recorded_frames_follow_simulated_time_not_arrivals(tmp_path):
    """`view --record` frames are in simulated time: one frame per 1/fps of the states' own clock,
    held when states come sparser (a rate-capped fast server), skipped when they come denser."""
    mjm = models.load("pendulum").model
    mjd = mujoco.MjData(mjm)
    mujoco.mj_resetDataKeyframe(mjm, mjd, 0)
    recorder = Recorder(mjm, tmp_path / "sim.mp4", width=64, height=48, fps=8)  # a frame per 0.125 s
    times = [k * 0.25 for k in range(4)] + [1 + k / 16 for k in range(17)]  # sparse to 1 s, then dense to 2 s
    for t in times:
        while mjd.time < t - 1e-9:
            mujoco.mj_step(mjm, mjd)
        mjd.time = t  # exact binary fractions: no rounding at the frame boundaries
        assert recorder.show({"time": t, **snapshot_arrays(mjd)}) is True
    recorder.close()
    assert recorder.frames == 17  # 0, 0.125, …, 2.0 s: not one per state (21), not per wall second
    frames, meta = decode(tmp_path / "sim.mp4")
    assert len(frames) == 17 and meta["fps"] == 8
    moved = [np.abs(frames[k].astype(int) - frames[k + 1]).mean() for k in range(16)]
    assert max(moved[1:8:2]) < 0.5 < min(moved[0:8:2]), moved  # while sparse: each state held for two frames
