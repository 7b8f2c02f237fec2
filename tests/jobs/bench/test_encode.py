"""Bench sections `encode` and `record`: the encoders through mediapy beside the pipe mjpod used before;
where imageio-ffmpeg is not installed (the GPU check's staging), skipped, each with the reason."""

import sys

import pytest
from rich.progress import Progress

from mjpod import models
from mjpod.host.sysinfo import Host
from mjpod.jobs.bench import encode, record
from mjpod.jobs.bench.types import BenchConfig, BenchResult


def test_without_imageio_ffmpeg_the_video_sections_are_skipped_saying_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # `import imageio_ffmpeg` raises ImportError
    config = BenchConfig.quick_run()
    result = BenchResult(config, Host(gpus=(), cpu_count=2), None, None)
    with Progress() as progress:
        encode.run(config, result, [], progress)
        record.run(config, result, [models.load("pendulum")], progress)
    assert result.rows == []
    assert [s.split(" (")[0] for s in result.skipped] == ["encode", "record"]
    assert all("imageio-ffmpeg" in s and "pip install imageio-ffmpeg" in s for s in result.skipped)


@pytest.mark.ffmpeg
def test_encode_measures_mediapy_beside_the_old_pipe_in_the_same_run():
    """The switch to mediapy is judged on the same box, frames and encoder: a row for each writer."""
    config = BenchConfig.quick_run(seconds=0.05)
    result = BenchResult(config, Host(gpus=(), cpu_count=2), None, None)
    with Progress() as progress:
        encode.run(config, result, [], progress)
    rows = {(r.width, r.height, r.note): r for r in result.rows}
    for size in encode.ENCODE_SIZES:
        for writer in ("mediapy", "imageio-ffmpeg pipe"):
            row = rows[(size[1], size[0], f"libx264 {writer}")]
            assert row.unit == "frames/s" and row.count >= 30 and row.value == row.count / row.seconds
