"""The notebook API for real: clips recorded and rendered through the record job, a stream served in the
background and watched back headless; every clip decoded through mediapy and checked."""

import json
import socket

import numpy as np
import pytest

from mjpod import notebook as mjn
from mjpod.errors import SettingError

pytestmark = pytest.mark.ffmpeg
SMALL = {"fps": 10.0, "duration": 1.0, "width": 64, "height": 48}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_record_keeps_the_mp4_and_its_sidecar_with_the_settings_given_by_name(tmp_path):
    out = tmp_path / "swing.mp4"
    clip = mjn.record("pendulum", out=str(out), camera="free", azimuth=135, seed=3, **SMALL)
    assert clip.path == out and clip.fps == 10.0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["camera"].startswith("free azimuth=135") and sidecar["frames"] == 10
    assert clip.recording.camera == sidecar["camera"]
    assert clip.frames.shape == (10, 48, 64, 3) and clip.frames.dtype == np.uint8
    assert np.abs(clip.frames[-1].astype(int) - clip.frames[0]).mean() > 1  # it swings


def test_render_tiles_a_batch_of_worlds_and_keeps_nothing_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("MJPOD_WORKSPACE", str(tmp_path))  # where a kept file would go
    clip = mjn.render("pendulum", nworld=3, worlds=range(3), cols=3, ctrl="noise", **SMALL)
    assert clip.path is None and clip.recording.worlds == [0, 1, 2] and clip.recording.nworld == 3
    assert clip.frames.shape == (10, 48, 3 * 64, 3)  # three tiles side by side
    tiles = [clip.frames[:, :, 64 * k : 64 * (k + 1)] for k in range(3)]
    assert all(t.std() > 10 for t in tiles)  # each tile draws a scene
    assert list(tmp_path.iterdir()) == []


def test_unknown_or_misplaced_settings_are_named_before_anything_runs(tmp_path):
    with pytest.raises(SettingError, match="unknown setting 'durration'; did you mean duration"):
        mjn.record("pendulum", durration=1.0, out=tmp_path / "a.mp4")
    with pytest.raises(SettingError, match="unknown setting 'engine_config'"):
        mjn.render("pendulum", engine_config=None)
    with pytest.raises(SettingError, match="render keeps no file"):
        mjn.render("pendulum", out=tmp_path / "a.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_served_stream_is_watched_back_headless():
    port = free_port()
    with mjn.serve("pendulum", port=port, web_port=free_port(), hz=30) as live:
        assert f"TCP 127.0.0.1:{port}" in live.banner and live.url.startswith("http://127.0.0.1:")
        watched = mjn.watch(live.port, frames=12, fps=10.0, width=64, height=48)
    assert watched.path is None and watched.frames.shape == (12, 48, 64, 3)
    assert watched.frames[0].std() > 10
    assert np.abs(watched.frames[-1].astype(int) - watched.frames[0]).mean() > 1  # simulated time moved on


def test_serve_errors_reach_the_cell_and_watch_gives_up_saying_why():
    with pytest.raises(SettingError, match="--world 5 is out of range"):
        mjn.serve("pendulum", port=free_port(), world=5)
    with pytest.raises(SettingError, match=r"no stream at 127.0.0.1:\d+ gave 5 frames within 1 s"):
        mjn.watch(free_port(), frames=5, timeout=1.0)


def test_bench_sweeps_the_nworld_given_and_writes_its_json(tmp_path):
    """nworld means the bench's sweep here (a list), not the engine's world count."""
    rows = mjn.bench(
        "pendulum",
        engines=["mjc"],
        only=["physics"],
        nworld=[1, 3],
        nstep=20,
        seconds=0.05,
        out=str(tmp_path),
    )
    assert {(r["model"], r["engine"], r["nworld"]) for r in rows} == {
        ("pendulum", "mjc", 1),
        ("pendulum", "mjc", 3),
    }
    assert all(r["unit"] == "world-steps/s" and r["value"] > 0 for r in rows)
    assert [p.suffix for p in tmp_path.iterdir()] == [".json"]
