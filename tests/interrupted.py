"""A recording stopped by a signal, as `docker stop` stops one: wait until it writes, then check
what it kept."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.mp4 import decode

# a recording that is always stopped midway, on any machine: 100,000 frames
LONG_RECORD = ["--model", "pendulum", "--duration", "1e4", "--fps", "10", "--width", "160", "--height", "120"]


def partial(video: Path) -> str:
    """Where ffmpeg writes until the video is finished, as a shell glob: a private folder of a new name
    beside the video (mjpod.video.VideoWriter)."""
    return str(video.with_name(f".{video.name}.*.partial") / video.name)


def writing(video: Path) -> bool:
    """Whether frames have reached the partial file."""
    return any(p.stat().st_size > 0 for p in video.parent.glob(f".{video.name}.*.partial/{video.name}"))


def wait_until_writing(video: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until frames reach the partial file, and a second more; fails with the output if `proc` ends."""
    deadline = time.monotonic() + timeout
    while not writing(video):
        assert proc.poll() is None, proc.communicate()[0] or proc.returncode
        assert time.monotonic() < deadline, "the recording never started writing"
        time.sleep(0.2)
    time.sleep(1)


def check_kept(video: Path) -> dict:
    """The stopped recording: a playable MP4 whose sidecar says interrupted, and no .partial left."""
    sidecar = json.loads(video.with_suffix(".json").read_text())
    frames, _ = decode(video)
    assert sidecar["interrupted"] is True
    assert 0 < len(frames) == sidecar["frames"] < sidecar["frames_planned"]
    assert not [p.name for p in video.parent.iterdir() if p.name.endswith(".partial")]
    return sidecar
