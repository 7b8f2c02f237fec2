"""scripts/record.sh as the container runs it when `docker stop` comes: tini -g sends SIGTERM to the
whole process group, the script and mjpod record alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.mp4 import decode

ROOT = Path(__file__).resolve().parents[2]
RECORD = ["--model", "pendulum", "--duration", "120", "--fps", "10", "--width", "160", "--height", "120"]


def test_record_script_waits_for_the_video_when_its_process_group_is_terminated(tmp_path):
    """Before, bash died at once with 143 and the container ended under mjpod record: no MP4, a stray
    .partial. The script must wait for mjpod record to close the file and pass on its status (130)."""
    video = tmp_path / "videos" / "clip.mp4"
    partial = video.with_name(f".{video.name}.partial")
    script = subprocess.Popen(
        [str(ROOT / "scripts" / "record.sh"), *RECORD, "-o", str(video)],
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as under tini
    )
    try:
        deadline = time.monotonic() + 120
        while not (partial.exists() and partial.stat().st_size > 0):
            assert script.poll() is None, script.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "the recording never started writing"
            time.sleep(0.2)
        time.sleep(1)
        os.killpg(script.pid, signal.SIGTERM)
        out = script.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
    assert script.returncode == 130, out
    sidecar = json.loads(video.with_suffix(".json").read_text())
    assert sidecar["interrupted"] is True
    frames, _ = decode(video)
    assert 0 < len(frames) == sidecar["frames"] < sidecar["frames_planned"]
    assert not partial.exists()
