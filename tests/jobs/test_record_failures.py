"""`mjpod record` failing midway (a full disk, a frame GL cannot allocate): one clear error, no traceback,
and no file left under the requested name, as the README promises."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.cli_runner import run_mjpod

# In a mount namespace of its own (a user namespace makes this work without root), a 4 KiB tmpfs:
# a real full disk, gone with the namespace; `ls -A` shows what the failed recording left in it.
FULL_DISK = """
mount -t tmpfs -o size=4k tmpfs "$1" || exit 99
"$2" -m mjpod record --model bin --width 320 --height 240 --fps 10 --duration 3 --out "$1/clip.mp4"
echo "exit=$?"
echo "left:" $(ls -A "$1")
"""


def test_a_full_disk_leaves_no_file_and_says_why(tmp_path):
    """Item 9: ffmpeg's failure was ignored, so an unplayable MP4 landed under the requested name, then a
    traceback, and a stray `.clip.json.partial`."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) is missing: it makes the full disk this test needs")
    folder = tmp_path / "small-disk"
    folder.mkdir()
    command = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", FULL_DISK, "sh", str(folder)]
    env = {**os.environ, "COLUMNS": "300"}
    proc = subprocess.run([*command, sys.executable], capture_output=True, text=True, timeout=600, env=env)
    assert "exit=99" not in proc.stdout, f"cannot mount a tmpfs here:\n{proc.stderr}"
    output = proc.stdout + proc.stderr
    assert "exit=2" in proc.stdout, output
    assert "left:" in proc.stdout.splitlines(), output  # nothing at all: no video, no .partial, no sidecar
    assert "is full" in output and "nothing was kept" in output, output
    assert "Traceback" not in output


def test_a_frame_larger_than_gl_allows_is_a_clear_error(tmp_path):
    """Item 9: `--width 20000` ended in a mujoco.FatalError traceback. It is refused before anything
    renders now, as a video frame larger than H.264 takes (tests/render/test_gl.py: GL's own refusal)."""
    proc = run_mjpod(
        "record", "--model", "bin", "--width", "20000", "--duration", "0.1", "--out", str(tmp_path / "w.mp4")
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "a 20000x480 video frame" in proc.stderr and "8192 pixels a side" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())
