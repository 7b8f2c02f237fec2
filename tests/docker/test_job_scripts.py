"""scripts/record.sh as the container runs it when `docker stop` comes: tini -g sends SIGTERM to the
whole process group, the script and mjpod record alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.interrupted import LONG_RECORD, check_kept, wait_until_writing

ROOT = Path(__file__).resolve().parents[2]


def test_record_script_waits_for_the_video_when_its_process_group_is_terminated(tmp_path):
    """Before, bash died at once with 143 and the container ended under mjpod record: no MP4, a stray
    .partial. The script must wait for mjpod record to close the file and pass on its status (130)."""
    video = tmp_path / "videos" / "clip.mp4"
    script = subprocess.Popen(
        [str(ROOT / "scripts" / "record.sh"), *LONG_RECORD, "-o", str(video)],
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as under tini
    )
    try:
        wait_until_writing(video, script)
        os.killpg(script.pid, signal.SIGTERM)
        out = script.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
    assert script.returncode == 130, out
    check_kept(video)
