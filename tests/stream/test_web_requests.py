"""What mjpod does with a browser's requests, on a real engine stepped by the real loop: a spectator's
reach nothing in the simulation; with --web-control they act on the chosen world, and on it alone.

The page sends these requests when its user presses Space or Backspace, pulls a body (double click to
select, then Ctrl+drag) or moves a control slider; test_web.py drives the keys through headless
Chromium. A pull cannot be driven there: Studio 4.0.0's UI never sees Chromium's synthetic double click
as one (plain Studio neither), so nothing gets selected. It is checked here, from the request on.
"""

import threading

import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig
from mjpod.stream import simloop
from mjpod.stream.web import BrowserRequests
from tests.stream.helpers import wait_for

WORLD = 1  # the world the page has chosen


@pytest.fixture
def pendulum():
    return models.load("pendulum").model


def pull(model) -> np.ndarray:
    xfrc = np.zeros((model.nbody, 6))
    xfrc[model.body("lower").id, 0] = 30.0
    return xfrc


class Looping:
    """The engine stepped in real time by simloop.run in a thread, as `mjpod serve` steps it; what the
    test reads of the worlds is read there, at each frame (an engine belongs to its stepping thread)."""

    def __init__(self, engine, steering: simloop.Steering | None) -> None:
        self.engine, self.stop = engine, threading.Event()
        self.times: list[tuple[float, float]] = []  # (world 0, world 1) at each frame
        self.worlds: list[tuple] = []  # (world 0, world WORLD) MjData copies of the last frame
        self.thread = threading.Thread(
            target=simloop.run,
            args=(engine, self._frame),
            kwargs={"hz": 50, "stop": self.stop, "steering": steering},
            daemon=True,
        )
        self.thread.start()

    def _frame(self) -> None:
        first, chosen = self.engine.get_world(0), self.engine.get_world(WORLD)
        self.worlds = [(first, chosen)]
        self.times.append((first.time, chosen.time))

    def last(self):
        return self.worlds[-1]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


def test_a_spectators_requests_change_nothing_in_the_engine(pendulum):
    config = EngineConfig(nworld=2, ctrl="zero")
    engine, twin = engines.make("mjc", pendulum, config), engines.make("mjc", pendulum, config)
    requests = BrowserRequests(None, pendulum, lambda: WORLD)
    requests.pause(True)
    assert requests.paused and "froze this view" in requests.note
    requests.reset()
    requests.hold_ctrl(np.array([1.0, -1.0]))
    requests.apply_force(pull(pendulum))
    assert requests.note.startswith("refused: perturbing a body (spectator")
    requests.apply_force(np.zeros((pendulum.nbody, 6)))  # the page's every frame with no pull: no note
    engine.step(300)
    twin.step(300)
    for w in range(2):
        np.testing.assert_array_equal(engine.get_world(w).qpos, twin.get_world(w).qpos)
        assert engine.get_world(w).time == twin.get_world(w).time == pytest.approx(0.6)


def test_with_control_the_requests_steer_the_chosen_world(pendulum):
    engine = engines.make("mjc", pendulum, EngineConfig(nworld=2, ctrl="zero"))
    steering = simloop.Steering()
    requests = BrowserRequests(steering, pendulum, lambda: WORLD)
    run = Looping(engine, steering)
    try:
        wait_for(lambda: run.times and run.times[-1][0] > 0.2, 60, "the loop to run")
        requests.apply_force(pull(pendulum))
        requests.hold_ctrl(np.array([0.5, -0.5]))
        wait_for(
            lambda: np.abs(run.last()[1].qpos - run.last()[0].qpos).max() > 0.05,
            60,
            "the pulled world to swing away from the other",
        )
        first, chosen = run.last()
        np.testing.assert_allclose(chosen.ctrl, [0.5, -0.5])
        assert not first.ctrl.any()
        requests.pause(True)
        wait_for(lambda: len(run.times) > 3 and run.times[-1] == run.times[-3], 60, "the pause")
        assert requests.paused
        before = run.times[-1]
        requests.reset()
        wait_for(lambda: run.times[-1][1] == 0.0, 60, "the reset of the chosen world")
        assert run.times[-1][0] == before[0], "the reset touched the other world (or the pause ended)"
        requests.pause(False)
        wait_for(lambda: run.times[-1][0] > before[0], 60, "time to run again")
    finally:
        run.close()
        engine.close()
