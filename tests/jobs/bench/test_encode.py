"""Bench sections `encode` and `record` where imageio-ffmpeg is not installed (the GPU check's staging):
skipped, each with the reason, and nothing measured that needs ffmpeg."""

import sys

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
