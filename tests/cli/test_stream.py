"""`mjpod serve` and `mjpod view` refuse bad input with the problem and the fix, and run with any engine."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mjpod.stream as mjstream
from tests.cli_runner import run_mjpod
from tests.stream.helpers import Mjpod, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_bad_input_names_the_problem_and_the_fix():
    proc = run_mjpod("serve", "--model", "no_such_scene", "--port", "1")
    assert proc.returncode == 2 and "unknown model 'no_such_scene'" in proc.stderr
    proc = run_mjpod("serve", "--model", "pendulum", "--world", "3", "--port", str(free_port()))
    assert proc.returncode == 2 and "--world 3 is out of range" in proc.stderr
    proc = run_mjpod("serve", "--model", "pendulum", "--port", "0")
    assert proc.returncode == 2 and "nothing to serve" in proc.stderr
    proc = run_mjpod("view", DISPLAY="", WAYLAND_DISPLAY="")
    assert proc.returncode == 2 and "--record out.mp4" in proc.stderr and "--web" in proc.stderr
    proc = run_mjpod("view", "--record", "/no/such/dir/x.mp4")
    assert proc.returncode == 2 and "existing folder" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--port", "70000", "-m", "pendulum"), "70000 is not a TCP port: ports go up to 65535"),
        (("serve", "--web", "70000", "-m", "pendulum"), "70000 is not a TCP port: ports go up to 65535"),
        (("view", "--port", "70000", "--once"), "70000 is not a TCP port: ports go up to 65535"),
        (
            ("serve", "--duration", "nan", "-m", "pendulum"),
            "--duration is simulated seconds, or 0 to run until Ctrl-C; got nan",
        ),
        (
            ("serve", "--duration", "inf", "-m", "pendulum"),
            "--duration is simulated seconds, or 0 to run until Ctrl-C; got inf",
        ),
        (
            ("serve", "--hz", "nan", "-m", "pendulum"),
            "--hz is states a second at most, or 0 for no cap; got nan",
        ),
    ],
)
def test_out_of_range_numbers_are_refused_before_anything_starts(args, message):
    """Low: `--port 70000` ended in a traceback from the socket; `serve --duration nan` ran forever
    (and inf overflowed)."""
    proc = run_mjpod(*args, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in " ".join(proc.stderr.replace("│", " ").split()), proc.stderr
    assert "Traceback" not in proc.stderr


def test_port_in_use_is_a_clear_error():
    with Mjpod("serve", "--model", "pendulum", "--port", str(port := free_port())) as first:
        first.wait_line("streaming pendulum on")
        proc = run_mjpod("serve", "--model", "pendulum", "--port", str(port))
        assert proc.returncode == 2 and "cannot listen" in proc.stderr and "another --port" in proc.stderr


@pytest.mark.parametrize("engine", ["mjwarp", "comfree"])
def test_serve_streams_a_chosen_world_of_a_warp_engine_as_fast_as_it_goes(engine):
    """A Warp engine on the cpu device, two worlds, world 1 streamed; --duration ends the run and the stream."""
    port = free_port()
    # fmt: off
    with Mjpod("serve", "--model", "pendulum", "--engine", engine, "--device", "cpu", "--nworld", "2",
               "--world", "1", "--port", str(port), "--fast", "--duration", "5", "--wait") as proc:
        # fmt: on
        proc.wait_line("waiting for the first viewer", timeout=900)  # the first Warp compile on a fresh box
        with mjstream.StreamClient.connect("127.0.0.1", port) as client:
            times = []
            while (state := client.next_state(newest=False)) is not None:
                times.append(state["time"])
            assert client.close_reason == "server stopped"
        assert proc.proc.wait(timeout=900) == 0, proc.output
    assert times == sorted(times) and abs(times[-1] - 5.0) < 1e-3  # the final state always arrives (float32 time)
    assert "done: 2500 steps (5.00 s simulated)" in proc.output
    wall = float(re.search(r"simulated\) in ([0-9.]+) s", proc.output).group(1))
    assert len(times) <= wall * 60 + 3  # --hz 60 (default): the first, the capped ones, the final one


def test_help_renders_for_both_commands():
    for command in ("serve", "view"):
        proc = run_mjpod(command, "--help")
        assert proc.returncode == 0 and "--port" in proc.stdout and "MJSTREAM_PORT" in proc.stdout, (
            proc.stderr
        )
    assert "--web-control" in run_mjpod("serve", "--help").stdout


def test_stream_script_takes_its_ports_from_the_environment():
    """scripts/stream.sh (make serve, compose's serve profile) honours MJSTREAM_PORT and MJSTREAM_WEB."""
    port = free_port()
    proc = subprocess.run(
        [str(ROOT / "scripts" / "stream.sh"), "--model", "pendulum", "--fast", "--duration", "0.2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "MJSTREAM_PORT": str(port),
            "MJSTREAM_WEB": "0",
            "MJPOD_IN_CONTAINER": "",
        },
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"streaming pendulum on 127.0.0.1:{port}" in proc.stderr and "browser" not in proc.stdout
