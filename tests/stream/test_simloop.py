"""The stepping loop under a Steering (the browser view's --web-control): a pause stops the engine's time
but not the frames, a single step is one physics step, commands run on the stepping thread, and a
pause is no lag the loop races to catch up on afterwards."""

import threading
import time

import numpy as np

from mjpod import engines, models
from mjpod.engines import EngineConfig
from mjpod.stream import simloop
from tests.stream.helpers import wait_for


class Run:
    """simloop.run in a thread, recording the sim time of world 0 at every frame."""

    def __init__(self, steering: simloop.Steering, realtime: bool = True) -> None:
        self.engine = engines.make("mjc", models.load("pendulum").model, EngineConfig(ctrl="zero"))
        self.steering, self.stop = steering, threading.Event()
        self.frames: list[float] = []
        self.thread = threading.Thread(target=self._run, args=(realtime,), daemon=True)
        self.stats: simloop.RunStats | None = None
        self.thread.start()

    def _run(self, realtime: bool) -> None:
        def frame() -> None:
            self.frames.append(self.engine.get_world(0).time)

        self.stats = simloop.run(
            self.engine, frame, hz=50, realtime=realtime, stop=self.stop, steering=self.steering
        )

    def time(self) -> float:
        return self.frames[-1] if self.frames else -1.0

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.engine.close()


def test_pause_stops_the_engines_time_and_frames_go_on():
    steering = simloop.Steering()
    steering.pause(True)
    run = Run(steering)
    try:
        wait_for(lambda: len(run.frames) >= 5, 30, "frames while paused")
        time.sleep(0.5)  # half a second of wall time in which a running loop would step
        assert set(run.frames) == {0.0}, "the engine stepped while paused"
        steering.single_step()
        wait_for(lambda: run.time() > 0, 30, "the single step")
        time.sleep(0.3)
        assert run.time() == run.engine.timestep, "a single step is one physics step, then paused again"
        steering.pause(False)
        wait_for(lambda: run.time() > 0.1, 30, "time to run again")
    finally:
        run.close()


def test_commands_run_on_the_stepping_thread_between_steps():
    steering = simloop.Steering()
    run = Run(steering)
    ran: list[tuple[str, float]] = []
    try:
        wait_for(lambda: run.time() > 0.05, 30, "the loop to run")
        seen = len(run.frames)
        steering.submit(
            lambda engine: ran.append((threading.current_thread().name, engine.get_world(0).time))
        )
        steering.submit(lambda engine: engine.reset_world(0))
        wait_for(lambda: len(ran) == 1, 30, "the command")
        assert ran[0][0] == run.thread.name
        wait_for(
            lambda: min(run.frames[seen:], default=1e9) < ran[0][1], 30, "the reset to show in the frames"
        )
        steering.pause(True)
        steering.submit(lambda engine: engine.hold_ctrl(0, np.array([0.5, -0.5])))
        wait_for(lambda: np.allclose(run.engine.get_world(0).ctrl, [0.5, -0.5]), 30, "a command while paused")
    finally:
        run.close()


def test_after_a_pause_the_loop_does_not_race_to_catch_up():
    """Real time resumes where it stopped: a loop that counted the pause as lag would step the paused
    seconds at once. Checked as a lower bound on wall time, never a speed."""
    steering = simloop.Steering()
    run = Run(steering)
    try:
        wait_for(lambda: run.time() > 0.05, 30, "the loop to run")
        steering.pause(True)
        time.sleep(0.3)  # let the pause take hold
        paused_at = run.time()
        time.sleep(1.5)  # the pause: 1.5 s of wall time with no simulated time
        steering.pause(False)
        resumed = time.perf_counter()
        wait_for(lambda: run.time() > paused_at, 30, "time to run again")
        time.sleep(0.3)
        simulated, wall = run.time() - paused_at, time.perf_counter() - resumed
        # (the bug steps the whole 1.5 s pause at once; half of it leaves room for a stalled thread)
        assert simulated <= wall + 0.75, f"{simulated:.2f} s simulated in {wall:.2f} s after the pause"
    finally:
        run.close()
