"""`--engine comfree` in every command: record and serve take the gain lists and say what each world ran.

(The bench side is tests/bench/test_contact.py.) Guards against a command that accepts the options but
drops them on the way to the engine, and against a refused model surfacing as a traceback.
"""

import json

import pytest

from tests.cli_runner import run_mjpod
from tests.mp4 import decode
from tests.stream.helpers import free_port


@pytest.mark.ffmpeg
def test_record_runs_comfree_with_a_stiffness_per_world_and_writes_them_down(tmp_path):
    out = tmp_path / "sweep.mp4"
    # fmt: off
    proc = run_mjpod("record", "--out", str(out), "-m", "box_drop", "-e", "comfree", "--device", "cpu",
                     "--nworld", "3", "--worlds", "0,1,2", "--comfree-stiffness", "0.1,0.3",
                     "--comfree-damping", "0.002", "--width", "64", "--height", "48", "--fps", "10",
                     "--duration", "0.5", timeout=900)
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["engine"] == "comfree" and sidecar["nworld"] == 3
    assert sidecar["comfree_gains"] == [[0.1, 0.002], [0.3, 0.002], [0.1, 0.002]]  # world w: w % len
    assert decode(out)[0].shape == (5, 96, 128, 3)  # three tiles on a 2x2 grid


def test_serve_runs_comfree_and_names_the_gains_of_the_streamed_world():
    # fmt: off
    proc = run_mjpod("serve", "-m", "box_drop", "-e", "comfree", "--device", "cpu", "--nworld", "2",
                     "--world", "1", "--comfree-stiffness", "0.1,0.3", "--comfree-damping", "0.002",
                     "--fast", "--duration", "0.2", "--port", str(free_port()), timeout=900)
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "on comfree (2 world(s), cpu), streaming world 1; comfree stiffness 0.3, damping 0.002" in proc.stdout
    )
    assert "done: 100 steps (0.20 s simulated)" in proc.stdout


@pytest.mark.ffmpeg
def test_a_model_comfree_refuses_is_a_clean_error_in_the_commands(tmp_path):
    scene = tmp_path / "elliptic.xml"
    scene.write_text(
        '<mujoco><option cone="elliptic"/><worldbody><geom type="plane" size="1 1 .1"/>'
        '<body pos="0 0 .1"><freejoint/><geom type="sphere" size=".05"/></body></worldbody></mujoco>'
    )
    proc = run_mjpod(
        "serve", "-m", str(scene), "-e", "comfree", "--device", "cpu", "--port", str(free_port())
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert 'cone="elliptic"' in proc.stderr and "--engine mjwarp" in proc.stderr
    out = tmp_path / "x.mp4"
    proc = run_mjpod("record", "--out", str(out), "-m", str(scene), "-e", "comfree", "--device", "cpu")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert 'cone="pyramidal"' in proc.stderr and not out.exists()
