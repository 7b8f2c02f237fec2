"""Controls files: the NPZ layout mjwarp-testspeed --replay reads, held between samples."""

import numpy as np
import pytest

from mjpod.jobs.replay import ControlReplay, ReplayError


def test_zero_order_hold_between_times(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, ctrl=np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), times=np.array([0.0, 0.1, 0.3]))
    replay = ControlReplay.load(path, nu=2, timestep=0.01)
    assert [replay.at(t)[0] for t in (0.0, 0.05, 0.1, 0.29, 0.3, 9.0)] == [1, 1, 2, 2, 3, 3]


def test_without_times_one_row_per_step(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, ctrl=np.arange(4.0)[:, None])
    replay = ControlReplay.load(path, nu=1, timestep=0.5)
    assert [replay.at(t)[0] for t in (0.0, 0.5, 1.0, 1.49)] == [0, 1, 2, 2]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"u": np.zeros((3, 2))}, "no 'ctrl' array"),
        ({"ctrl": np.zeros((3, 5))}, r"shape \(n, 2\)"),
        ({"ctrl": np.zeros((3, 2)), "times": np.array([0.0, 0.2, 0.1])}, "strictly increasing"),
    ],
)
def test_bad_files_are_named(tmp_path, arrays, message):
    path = tmp_path / "c.npz"
    np.savez(path, **arrays)
    with pytest.raises(ReplayError, match=message):
        ControlReplay.load(path, nu=2, timestep=0.01)


def test_pickled_object_arrays_are_not_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, ctrl=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ReplayError, match=r"not a readable \.npz"):
        ControlReplay.load(path, nu=1, timestep=0.01)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ReplayError, match="does not exist"):
        ControlReplay.load(tmp_path / "nope.npz", nu=1, timestep=0.01)
