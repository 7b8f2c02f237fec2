"""`mjpod view --record`: the display-free viewer loop follows a real server, survives its restart, writes an MP4."""

import pytest

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
