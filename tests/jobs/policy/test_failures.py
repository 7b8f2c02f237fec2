"""A policy that fails mid-run stops the job with its message and loses nothing: the recording keeps a
playable MP4 of the frames before it, the rollout whole shards of the samples before it, each marked
ended: policy error. One that cannot load stops it before any file is made."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mjpod import models
from mjpod.engines import EngineConfig
from mjpod.jobs import record, rollout
from mjpod.jobs.policy import PolicyError, PolicyFailed
from mjpod.jobs.shards import file_overhead
from tests.cli_runner import run_mjpod
from tests.mp4 import decode

# Each is fine for the first 0.1 s (the pendulum's first 50 steps), then goes wrong in its own way.
BAD = """
import numpy as np

def _ok(obs):
    return np.zeros((len(obs["qpos"]), 2))

def shape(obs):
    return _ok(obs) if obs["time"][0] < 0.1 else np.zeros((len(obs["qpos"]), 5))

def dtype(obs):
    return _ok(obs) if obs["time"][0] < 0.1 else np.zeros((len(obs["qpos"]), 2), dtype=bool)

def nan(obs):
    return _ok(obs) if obs["time"][0] < 0.1 else np.full((len(obs["qpos"]), 2), np.nan)

def raises(obs):
    if obs["time"][0] >= 0.1:
        raise FloatingPointError("controller diverged")
    return _ok(obs)
"""
SAID = {
    "shape": "returned ctrl of shape (2, 5); expected ctrl as a float array of shape (2, 2)",
    "dtype": "returned ctrl of dtype bool",
    "nan": "returned 4 NaN or infinite control(s)",
    "raises": "raised FloatingPointError: controller diverged (bad.py, line",
}


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "bad.py").write_text(BAD)
    return folder / "bad.py"


@pytest.mark.ffmpeg
@pytest.mark.parametrize("name", SAID)
def test_a_recording_stopped_by_a_policy_keeps_a_playable_mp4(tmp_path, bad, name):
    settings = record.RecordSettings(
        model="pendulum", engine_config=EngineConfig(nworld=2, ctrl="hold"), width=64, height=64, fps=50,
        duration=0.5, policy=f"{bad}:{name}", out=tmp_path / "clip.mp4",
    )  # fmt: skip
    with pytest.raises(PolicyFailed) as err:
        record.record(settings)
    message = str(err.value)
    assert f"policy '{bad}:{name}' at step 50 (t = 0.1 s)" in message and SAID[name] in message, message
    assert "kept the 6 frame(s) before it" in message  # frames at 0, 20, ... 100 ms; the step to 120 failed
    frames, meta = decode(tmp_path / "clip.mp4")
    assert len(frames) == 6 and meta["size"] == (64, 64)
    sidecar = json.loads((tmp_path / "clip.json").read_text())
    assert sidecar["ended"] == "policy error" and SAID[name] in sidecar["error"]
    assert sidecar["frames"] == 6 and sidecar["steps"] == 50 and sidecar["policy"]["attribute"] == name


# 4 samples a shard: time + 3 x (2 worlds x 2 float32), and the NPZ file's own structure
SHARD_OF_4 = (
    4 * 56 + file_overhead("npz", rollout.sample_shapes(models.load("pendulum").model, 2, True, None))
) / 2**20


@pytest.mark.parametrize("name", SAID)
def test_a_rollout_stopped_by_a_policy_keeps_readable_shards(tmp_path, bad, name):
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(nworld=2, ctrl="hold"), duration=0.5, rate=50.0,
        shard_mb=SHARD_OF_4, policy=f"{bad}:{name}",
    )  # fmt: skip
    with pytest.raises(PolicyFailed) as err:
        rollout.rollout(settings, tmp_path)
    assert SAID[name] in str(err.value) and "kept the 6 sample(s) before it in" in str(err.value)
    meta = json.loads((tmp_path / rollout.META).read_text())
    assert meta["ended"] == "policy error" and meta["samples"] == 6 and meta["samples_planned"] == 26
    shards = [np.load(tmp_path / s["file"]) for s in meta["shards"]]  # whole NPZ files, pickle off
    assert [len(s["time"]) for s in shards] == [4, 2]  # a full shard, and the part one written at the stop
    times = np.concatenate([s["time"] for s in shards])
    np.testing.assert_allclose(times, np.arange(6) * 0.02, atol=1e-12)


@pytest.mark.ffmpeg
def test_the_command_says_what_failed_exits_1_and_keeps_the_video(tmp_path, bad):
    out = tmp_path / "clip.mp4"
    proc = run_mjpod(
        "record", "--model", "pendulum", "--policy", f"{bad}:raises", "--width", "64", "--height", "64",
        "--fps", "50", "--duration", "0.5", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    said = " ".join(proc.stderr.split())
    assert "raised FloatingPointError: controller diverged" in said and "ended: policy error" in said
    assert "Traceback" not in proc.stderr
    assert len(decode(out)[0]) == 6


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("import nowhere_to_be_found\n", "could not be imported: ModuleNotFoundError"),
        ("def policy(obs, gains):\n    pass\n", "must take one argument, obs"),
    ],
)
def test_a_policy_that_cannot_load_stops_the_command_before_any_file(tmp_path, text, said):
    (tmp_path / "p.py").write_text(text)
    proc = run_mjpod(
        "record",
        "--model",
        "pendulum",
        "--policy",
        str(tmp_path / "p.py"),
        "--out",
        str(tmp_path / "v" / "c.mp4"),
    )
    assert proc.returncode == 2 and said in " ".join(proc.stderr.split()), proc.stderr
    assert not (tmp_path / "v").exists()


def test_zero_control_with_a_policy_and_a_replay_with_one_are_refused(tmp_path, bad):
    settings = rollout.RolloutSettings(
        model="pendulum", engine_config=EngineConfig(ctrl="zero"), policy=f"{bad}:nan"
    )
    with pytest.raises(PolicyError, match="--ctrl zero would throw the policy's actions away"):
        rollout.rollout(settings, tmp_path)
    with pytest.raises(PolicyError, match="--policy-hz is set without a policy"):
        rollout.rollout(rollout.RolloutSettings(model="pendulum", policy_hz=10.0), tmp_path)
    both = record.RecordSettings(model="pendulum", policy=f"{bad}:nan", replay=tmp_path / "c.npz")
    with pytest.raises(Exception, match="--replay and --policy both set the controls"):
        record.record(both)
