"""`mjpod record` for real: MuJoCo renders on Mesa EGL, ffmpeg encodes, the MP4 is decoded back."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mjpod.host import sysinfo
from mjpod.jobs import record as rec
from mjpod.render.gl import gl_info
from tests.cli_runner import run_mjpod
from tests.interrupted import LONG_RECORD, check_kept, wait_until_writing
from tests.mp4 import decode

SPINNER = """<mujoco>
  <visual><quality shadowsize="0"/></visual>
  <worldbody>
    <light pos="0 0 3" castshadow="false"/>
    <camera name="cam" pos="0 -2 0.5" xyaxes="1 0 0 0 0.3 1"/>
    <body><joint type="hinge" axis="0 0 1"/><geom type="box" size="0.3 0.1 0.1" rgba="1 .5 0 1"/></body>
  </worldbody>
  <keyframe><key qvel="3"/></keyframe>
</mujoco>"""


def record(out, *args):
    proc = run_mjpod("record", "--out", str(out), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return decode(out)[0], json.loads(out.with_suffix(".json").read_text())


@pytest.mark.ffmpeg
def test_video_matches_its_settings_and_moves(tmp_path):
    out = tmp_path / "pendulum.mp4"
    frames, sidecar = record(
        out, "-m", "pendulum", "--fps", "20", "--duration", "1.5", "--width", "96", "--height", "64"
    )
    assert frames.shape == (30, 64, 96, 3)  # fps x duration, at the asked size
    meta = decode(out)[1]
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["fps"] == 20
    assert frames[0].std() > 10  # a rendered scene, not a blank
    assert np.abs(frames[-1].astype(int) - frames[0]).mean() > 1  # the pendulum swings
    timestep = sidecar["timestep"]
    assert sidecar["frames"] == sidecar["frames_planned"] == 30 and not sidecar["interrupted"]
    assert (sidecar["fps"], sidecar["width"], sidecar["height"]) == (20, 96, 64)
    assert sidecar["steps"] == round(29 / (20 * timestep))  # physics steps derived, not one per frame
    assert sidecar["camera"] == "front" and sidecar["model"] == "pendulum" and sidecar["engine"] == "mjc"
    assert sidecar["gl_renderer"] == gl_info().renderer
    assert sidecar["encoder"] in ("libx264", "h264_nvenc") and sidecar["encoder_reason"]
    assert sidecar["wall_seconds"] > 0 and sidecar["device"] == "cpu" and sidecar["ctrl"] == "noise"


@pytest.mark.ffmpeg
def test_free_camera_looks_the_same_through_gl_and_batch(tmp_path):
    """The batch renderer gets the free camera as an added model camera: the box sits where GL draws it."""
    common = ("-m", "box_drop", "-e", "mjwarp", "--device", "cpu", "--camera", "free", "--azimuth", "60")
    common += ("--elevation", "-25", "--distance", "1.5", "--width", "128", "--height", "96")
    common += ("--fps", "10", "--duration", "0.5")
    gl, gl_car = record(tmp_path / "gl.mp4", *common, "--renderer", "gl")
    traced, traced_car = record(tmp_path / "batch.mp4", *common, "--renderer", "batch")
    assert gl_car["camera"] == traced_car["camera"] and gl_car["camera"].startswith("free azimuth=60")
    centres = []
    for frames in (gl, traced):
        rgb = frames.astype(int)
        box = (rgb[..., 0] - rgb[..., 2]) > 60  # the orange box
        assert all(mask.sum() > 30 for mask in box)
        centres.append(np.array([np.argwhere(mask).mean(0) for mask in box]))
    assert centres[0][-1, 0] > centres[0][0, 0] + 2  # it falls: lower in the picture
    assert np.abs(centres[0] - centres[1]).max() < 2  # same place in every frame


@pytest.mark.ffmpeg
def test_grid_from_the_batch_renderer_puts_tiles_in_place(tmp_path):
    out = tmp_path / "grid.mp4"
    # fmt: off
    frames, sidecar = record(out, "-m", "box_drop", "-e", "mjwarp", "--device", "cpu", "--nworld", "3",
                             "--worlds", "0-2", "--cols", "2", "--renderer", "batch", "--width", "96",
                             "--height", "64", "--fps", "10", "--duration", "0.5")
    # fmt: on
    assert frames.shape == (5, 128, 192, 3) and sidecar["grid"] == [2, 2]
    last = frames[-1].astype(int)
    tiles = [last[:64, :96], last[:64, 96:], last[64:, :96]]
    assert all(t.std() > 5 for t in tiles)
    for t in tiles[1:]:  # identical worlds: identical tiles, each in its own cell
        assert np.abs(t - tiles[0]).mean() < 3
    assert last[64:, 96:].max() < 20  # the fourth cell is empty
    assert sidecar["renderer"] == "batch" and "batch ray tracer" in sidecar["gl_renderer"]


@pytest.mark.ffmpeg
def test_replayed_controls_drive_the_simulation(tmp_path):
    zero_ctrl, torque = tmp_path / "zero.npz", tmp_path / "torque.npz"
    np.savez(zero_ctrl, ctrl=np.zeros((1, 2)))
    np.savez(torque, ctrl=np.ones((1, 2)), times=np.array([0.0]))
    common = ("-m", "pendulum", "--fps", "10", "--duration", "1", "--width", "64", "--height", "48")
    baseline, _ = record(tmp_path / "a.mp4", *common, "--ctrl", "zero")
    replayed, sidecar = record(tmp_path / "b.mp4", *common, "--replay", str(zero_ctrl))
    pushed, _ = record(tmp_path / "c.mp4", *common, "--replay", str(torque))
    assert sidecar["ctrl"].startswith("replay")
    assert np.array_equal(baseline, replayed)  # zero controls replayed = the zero controller, exactly
    assert np.abs(pushed[-1].astype(int) - baseline[-1]).mean() > 0.5


@pytest.mark.ffmpeg
def test_memory_stays_flat_over_a_long_recording(tmp_path):
    def rss_mib() -> float:
        with open("/proc/self/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
        return kib / 1024

    samples = {}

    def on_frame(done: int, total: int) -> None:
        if done in (100, total):
            samples[done] = rss_mib()

    scene = tmp_path / "spinner.xml"  # no shadows: Mesa's software shadow pass would dominate the run
    scene.write_text(SPINNER)
    settings = rec.RecordSettings(
        model=str(scene), width=160, height=120, fps=50, duration=40, out=tmp_path / "long.mp4"
    )
    result = rec.record(settings, on_frame=on_frame)  # 2000 frames: 110 MiB of pixels if they were kept
    assert result.frames == 2000
    assert samples[2000] - samples[100] < 8, samples


@pytest.mark.ffmpeg
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "docker-stop"])
def test_ctrl_c_and_docker_stop_keep_a_playable_file(tmp_path, stop):
    """The signal goes to the whole process group, as a terminal's Ctrl-C and tini -g's `docker stop` send
    it: ffmpeg (mediapy starts it in mjpod's group) must not end the file on its own."""
    out = tmp_path / "stopped.mp4"
    cmd = [sys.executable, "-m", "mjpod", "record", *LONG_RECORD, "--out", str(out)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    wait_until_writing(out, proc)  # frames have reached the file: not a fixed wait, which a slow box outlasts
    os.killpg(proc.pid, stop)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted: kept" in stdout
    check_kept(out)


@pytest.mark.ffmpeg
def test_links_planted_at_predictable_temporary_names_are_never_followed(tmp_path):
    """Before: ffmpeg wrote `.p.mp4.partial` and the sidecar went through `.p.json.partial`, following a
    link planted at either name into whatever it pointed at (another user's file, in a shared folder)."""
    victims = {}
    for name in (".p.mp4.partial", ".p.json.partial"):
        victims[name] = tmp_path / f"victim{len(victims)}.txt"
        victims[name].write_text("not yours to overwrite")
        (tmp_path / name).symlink_to(victims[name])
    frames, sidecar = record(tmp_path / "p.mp4", "-m", "pendulum", "--fps", "10", "--duration", "0.5")
    assert [v.read_text() for v in victims.values()] == ["not yours to overwrite"] * 2
    assert len(frames) == sidecar["frames"] == 5
    assert all((tmp_path / name).is_symlink() for name in victims)  # left as they were
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == sorted(victims)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--camera", "top"), "unknown camera 'top'; the model's cameras: front"),
        pytest.param(("--width", "97"), "even width and height", marks=pytest.mark.ffmpeg),  # after ffmpeg's
        (("--fps", "0"), "fps must be positive"),
        (("--fps", "nan"), "fps must be positive"),
        (("--duration", "inf"), "duration must be positive"),
        (("--cols", "0"), "--cols must be at least 1"),
        (("--nworld", "2", "--worlds", "0,2"), "--worlds: 2 is not within 0..1 (--nworld 2)"),
        (("--nworld", "2", "--worlds", "0-1,0-1"), "--worlds names more worlds than the 2 there are"),
        (("--fps", "1e10", "--duration", "1e300"), "is inf frames, more than the 10,000,000 one run makes"),
        (
            ("--width", "9000"),
            "a 9000x480 video frame (1 world(s) of 9000x480) is more than 8192 pixels a side",
        ),
        pytest.param(("--renderer", "batch"), "--renderer gl", marks=pytest.mark.ffmpeg),
        (("--lookat", "1,2"), "--lookat needs 3 number"),
        (("--replay", "missing.npz"), "controls file missing.npz does not exist"),
    ],
)
def test_bad_arguments_are_named_and_leave_nothing(tmp_path, args, message):
    out = tmp_path / "v" / "bad.mp4"
    proc = run_mjpod("record", "-m", "pendulum", "--duration", "0.2", "--out", str(out), *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message.replace("\\", "") in " ".join(proc.stderr.split()) or pytest.fail(proc.stderr)
    assert "recording" not in proc.stderr  # the error alone: no empty progress bar with it
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_a_huge_world_range_is_refused_before_it_is_built(tmp_path):
    """High 3: `--worlds 0-99999999` built the whole range (10**8 numbers) before checking it against
    nworld. The command runs with its memory capped, so building it would end in a MemoryError."""
    proc = run_mjpod(
        "record", "-m", "pendulum", "--worlds", "0-99999999", "--out", str(tmp_path / "a.mp4"), memory_mb=1024
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--worlds: 0-99999999 is not within 0..0 (--nworld 1)" in " ".join(proc.stderr.split())


@pytest.mark.ffmpeg
def test_unwritable_output_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    proc = run_mjpod("record", "-m", "pendulum", "--out", str(tmp_path / "file" / "a.mp4"))
    assert proc.returncode == 2 and "cannot write to" in proc.stderr


@pytest.mark.ffmpeg
def test_record_script_writes_into_the_workspace_and_passes_the_exit_status(tmp_path):
    """scripts/record.sh as the container runs it: videos land in $MJPOD_WORKSPACE/videos."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "record.sh"
    env = {
        **os.environ,
        "MJPOD_WORKSPACE": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    args = ["-m", "pendulum", "--duration", "0.2", "--width", "64", "--height", "48"]
    proc = subprocess.run(["bash", str(script), *args], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    videos = sorted((tmp_path / "videos").iterdir())
    assert [p.suffix for p in videos] == [".json", ".mp4"] and videos[1].name.startswith("pendulum-mjc-")
    assert decode(videos[1])[0].shape == (6, 48, 64, 3)
    proc = subprocess.run(
        ["bash", str(script), *args, "--camera", "top"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "unknown camera 'top'" in proc.stderr
    assert len(list((tmp_path / "videos").iterdir())) == 2  # nothing added


def test_default_output_goes_to_the_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("MJPOD_WORKSPACE", str(tmp_path))
    path = rec.default_output("franka_emika_panda/mjx_scene", "mjwarp")
    assert path.parent == tmp_path / "videos" and path.name.startswith("franka_emika_panda-mjx_scene-mjwarp-")
    monkeypatch.delenv("MJPOD_WORKSPACE")
    assert rec.default_output("bin", "mjc").parent.as_posix() == "videos"


@pytest.mark.ffmpeg
def test_the_encoder_choice_and_its_reason_are_printed_and_kept(tmp_path):
    out = tmp_path / "enc.mp4"
    proc = run_mjpod(
        "record", "-m", "pendulum", "--duration", "0.1", "--width", "64", "--height", "48", "-o", str(out)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert f"encoder: {sidecar['encoder']} ({sidecar['encoder_reason']})" in " ".join(proc.stderr.split())
    assert f"{sidecar['encoder']}) and {out.with_suffix('.json')}" in " ".join(proc.stdout.split())
    if not sysinfo.nvidia_gpus():
        assert sidecar["encoder"] == "libx264" and sidecar["encoder_reason"].startswith("no NVENC here")
