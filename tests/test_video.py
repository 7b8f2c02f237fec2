"""The streaming MP4 writer: real ffmpeg encodes, decoded back and checked; without imageio-ffmpeg, a
clear error before any work."""

import sys

import numpy as np
import pytest

from mjpod import video
from mjpod.host import sysinfo
from tests.mp4 import decode

LIBX264 = video.Encoder("libx264", "test")


def moving_square(k: int, height: int = 48, width: int = 64) -> np.ndarray:
    frame = np.full((height, width, 3), 40, np.uint8)
    frame[10:26, 4 * k : 4 * k + 16] = (250, 250, 250)
    return frame


@pytest.mark.ffmpeg
def test_frames_decode_back_in_order(tmp_path):
    path = tmp_path / "square.mp4"
    with video.VideoWriter(path, 64, 48, 10.0, LIBX264) as writer:
        for k in range(12):
            writer.write(moving_square(k))
    frames, meta = decode(path)
    assert frames.shape == (12, 48, 64, 3)
    assert meta["fps"] == pytest.approx(10.0) and meta["codec"].startswith("h264")
    for k in (0, 5, 11):  # the bright square is where it was drawn, within compression noise
        bright = frames[k, 10:26].mean(axis=(0, 2)) > 150
        assert abs(np.flatnonzero(bright).mean() - (4 * k + 7.5)) < 1.5
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


@pytest.mark.ffmpeg
def test_failure_midway_leaves_no_file(tmp_path):
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError), video.VideoWriter(path, 64, 48, 10.0, LIBX264) as writer:
        writer.write(moving_square(0))
        raise RuntimeError("renderer died")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.ffmpeg
def test_wrong_frame_shape_is_refused(tmp_path):
    with video.VideoWriter(tmp_path / "a.mp4", 64, 48, 10.0, LIBX264) as writer:
        with pytest.raises(ValueError, match=r"\(48, 64, 3\) uint8"):
            writer.write(np.zeros((48, 64, 4), np.uint8))
        writer.write(moving_square(0))
    assert decode(tmp_path / "a.mp4")[0].shape[0] == 1


@pytest.mark.ffmpeg
def test_no_frames_means_no_file(tmp_path):
    writer = video.VideoWriter(tmp_path / "empty.mp4", 64, 48, 10.0, LIBX264)
    with pytest.raises(video.VideoError, match="no frames"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("size", "fps", "name", "message"),
    [
        ((63, 48), 10.0, "a.mp4", "even width and height"),
        ((64, 48), 0.0, "a.mp4", "fps must be positive"),
        ((64, 48), 10.0, "a.avi", "must end in .mp4"),
    ],
)
def test_bad_settings_are_named(tmp_path, size, fps, name, message):
    with pytest.raises(video.VideoError, match=message):
        video.VideoWriter(tmp_path / name, *size, fps, LIBX264)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(video.VideoError, match=r"cannot write to .*choose another --out"):
        video.check_output(blocker / "sub" / "a.mp4", 64, 48, 10.0)


@pytest.mark.ffmpeg
def test_encoder_choice_is_stated():
    chosen = video.choose_encoder("auto")
    if not sysinfo.nvidia_gpus():  # no NVIDIA GPU: no NVENC, and the trial encode's failure is the reason
        assert chosen.name == "libx264" and chosen.reason.startswith("no NVENC here (trial encode: "), chosen
        assert len(chosen.reason) > len("no NVENC here (trial encode: )"), chosen  # ffmpeg's own words
    else:  # tests/gpu says which GPUs must get which encoder
        assert (chosen.name == "h264_nvenc") == (chosen.reason == "NVENC trial encode succeeded"), chosen
    assert video.choose_encoder("libx264").name == "libx264"
    with pytest.raises(video.VideoError, match="unknown encoder"):
        video.choose_encoder("x265")


@pytest.mark.ffmpeg
def test_nvenc_request_without_nvenc_names_the_fix():
    if video.choose_encoder("auto").name == "h264_nvenc":
        pytest.skip("this box has NVENC")
    with pytest.raises(video.VideoError, match="--encoder libx264"):
        video.choose_encoder("h264_nvenc")


def test_without_imageio_ffmpeg_videos_are_refused_with_the_fix_and_nothing_is_written(tmp_path, monkeypatch):
    """The GPU check's staging has no imageio-ffmpeg: mjpod must say so, not fail at import."""
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # what `import` then raises: ImportError
    assert "pip install imageio-ffmpeg" in video.ffmpeg_missing()
    for attempt in (
        lambda: video.choose_encoder("libx264"),
        lambda: video.VideoWriter(tmp_path / "a.mp4", 64, 48, 10.0, LIBX264),
    ):
        with pytest.raises(
            video.VideoError, match=r"imageio-ffmpeg .* not installed.*pip install imageio-ffmpeg"
        ):
            attempt()
    assert list(tmp_path.iterdir()) == []
