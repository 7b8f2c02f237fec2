"""The simulation clock that record's frames and rollout's samples share."""

from mjpod.jobs.simulation import steps_before_frame


def test_frame_times_do_not_drift():
    steps = [steps_before_frame(k, rate=30, timestep=0.002) for k in range(1, 3001)]
    assert set(steps) == {16, 17} and sum(steps) == round(3000 / (30 * 0.002))


def test_frame_0_is_the_initial_state():
    assert steps_before_frame(0, rate=30, timestep=0.002) == 0
