"""`mjpod serve` for real: which world streams, real-time pacing, and `--wait`, seen from a real client.

Pacing is checked with lower bounds on wall time (a paced run cannot finish early), never with speed
targets.
"""

import re
import time

import numpy as np
import pytest

import mjpod.stream as mjstream
from mjpod.engines import EngineConfig
from mjpod.jobs import simulation
from tests.stream.helpers import Mjpod, free_port


def receive_all(port: int) -> list[tuple[float, dict]]:
    """(arrival wall time, state) for every state of the stream, until the server closes it."""
    received = []
    with mjstream.StreamClient.connect("127.0.0.1", port) as client:
        while (state := client.next_state(newest=False)) is not None:
            received.append((time.perf_counter(), state))
        assert client.close_reason == "server stopped"
    return received


def test_the_streamed_world_is_world_n_of_the_run():
    """--world 2 streams world 2: each state received midway, and the final one, equals world 2
    of the same engine run here at that step, and differs from worlds 0 and 1 (each world draws its own
    control noise), though every world's timestamps agree. The choice of world is the job's, whatever
    the engine: MuJoCo C keeps this test fast."""
    port = free_port()
    # fmt: off
    with Mjpod("serve", "--model", "pendulum", "--nworld", "3", "--world", "2", "--port", str(port),
               "--hz", "0", "--duration", "1", "--wait") as proc:  # real time: a loaded box sees states too
        # fmt: on
        proc.wait_line("waiting for the first viewer")
        received = [state for _, state in receive_all(port)]
        assert proc.proc.wait(timeout=60) == 0, proc.output
    _, engine = simulation.start("pendulum", "mjc", EngineConfig(nworld=3))  # serve's defaults: noise, seed 0
    steps = 500  # 1 s at h = 2 ms
    with engine:
        worlds = [[engine.get_world(w).qpos.copy() for w in range(3)]]
        for _ in range(steps):
            engine.step(1)
            worlds.append([engine.get_world(w).qpos.copy() for w in range(3)])
    assert received[-1]["time"] == pytest.approx(1.0)
    midway = [s for s in received if 0.1 < s["time"] < 0.9]
    assert len(midway) >= 3, f"only {len(midway)} states streamed between 0.1 s and 0.9 s"
    for state in [*midway, received[-1]]:  # not only the final one: serve republishes that on its own
        step = round(state["time"] / 0.002)
        np.testing.assert_allclose(state["qpos"], worlds[step][2], rtol=0, atol=1e-12, err_msg=f"step {step}")
        assert min(np.abs(state["qpos"] - worlds[step][w]).max() for w in (0, 1)) > 1e-6, f"step {step}"


def test_wait_holds_the_simulation_and_it_runs_in_real_time():
    """A viewer that comes a second late still sees the start (--wait), and without --fast the 1.5 s
    simulated take at least 1.5 s of wall time, between the states received and by the server's count."""
    port = free_port()
    with Mjpod("serve", "--model", "pendulum", "--port", str(port), "--duration", "1.5", "--wait") as proc:
        proc.wait_line("waiting for the first viewer")
        time.sleep(1.0)  # unheld, the simulation would be a second in by now
        came = time.perf_counter()
        received = receive_all(port)
        assert proc.proc.wait(timeout=60) == 0, proc.output
    (first_wall, first), (last_wall, last) = received[0], received[-1]
    # Held until this viewer came: in real time the simulation is never more than a frame (1/60 s of
    # steps) ahead of the wall clock, so its first state can be at most the time this viewer waited
    # for it (however long a busy box made that), and not the second it slept before.
    assert first["time"] <= first_wall - came + 1 / 60 + 1e-3, (first["time"], first_wall - came)
    assert last["time"] == pytest.approx(1.5)
    # Paced: the last state too is at most a frame ahead of the wall clock since this viewer came
    # (measured from `came`, a late delivery of the first or the last state only widens the margin)
    elapsed = last_wall - came
    assert elapsed >= last["time"] - 1 / 60 - 1e-3, (
        f"{last['time']:.2f} s simulated in {elapsed:.2f} s: not paced"
    )
    wall = float(re.search(r"simulated\) in ([0-9.]+) s", proc.output).group(1))
    assert wall >= 1.5, proc.output


SERVE_POLICIES = """
import numpy as np

def damp(obs):
    return -0.4 * obs["qvel"]

def diverge(obs):
    if obs["time"][0] >= 0.2:
        raise OverflowError("torque request out of range")
    return damp(obs)
"""


def test_serve_streams_the_policys_run_and_stops_with_its_error(tmp_path):
    """The viewer sees the policy's simulation (its last state is the same policy run here, bit for bit);
    a policy that raises ends serve with its message and exit code 1, and the viewer's stream closes."""
    (tmp_path / "ctl.py").write_text(SERVE_POLICIES)
    from mjpod.jobs import policy as policies

    for name, code in (("damp", 0), ("diverge", 1)):
        port = free_port()
        # fmt: off
        with Mjpod("serve", "--model", "pendulum", "--policy", f"{tmp_path}/ctl.py:{name}", "--port", str(port),
                   "--hz", "0", "--duration", "0.5", "--fast", "--wait") as proc:
            # fmt: on
            proc.wait_line("waiting for the first viewer")
            received = [state for _, state in receive_all(port)]
            assert proc.proc.wait(timeout=60) == code, proc.output
        assert "policy " in proc.output and f"ctl.py:{name} (function)" in proc.output  # the banner names it
        if code:
            said = " ".join(proc.output.split())
            assert "at step 100 (t = 0.2 s) raised OverflowError: torque request out of range" in said
            assert received[-1]["time"] == pytest.approx(0.2)
            continue
        _, engine = policies.start("pendulum", "mjc", EngineConfig(ctrl="hold"), f"{tmp_path}/ctl.py:damp")
        with engine:
            engine.step(250)
            np.testing.assert_array_equal(received[-1]["qpos"], engine.get_world(0).qpos)
