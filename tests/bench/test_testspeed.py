import pytest

from mjpod import models
from mjpod.bench import testspeed


def test_a_failed_run_says_which_run_and_why():
    lm = models.load("pendulum")
    with pytest.raises(testspeed.TestspeedError, match=r"--function=render on pendulum nworld=2 failed"):
        testspeed.run(lm, 2, 10, 4, 8, "cpu", "--function=render")  # testspeed runs on GPUs only
