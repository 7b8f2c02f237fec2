"""Controls files: the NPZ layout mjwarp-testspeed --replay reads, held between samples."""

import io
import os
import zipfile

import numpy as np
import pytest

from mjpod.jobs.replay import ControlReplay, ReplayError
from tests.cli_runner import run_mjpod


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


def lying_npy(shape: tuple[int, ...]) -> bytes:
    """An .npy whose header claims `shape` of float64 but that holds 16 bytes."""
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + b"\0" * 16


def npz(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def test_a_member_other_than_ctrl_and_times_is_never_read(tmp_path):
    """High 5: every member was read, so an extra one claiming 8 TiB (or holding 4 GiB) was allocated."""
    path = tmp_path / "c.npz"
    npz(path, {"ctrl": npy(np.ones((3, 2))), "junk": lying_npy((2**40,))})
    replay = ControlReplay.load(path, nu=2, timestep=0.01)
    assert replay.ctrl.shape == (3, 2)


def test_a_header_claiming_more_than_the_member_holds_is_refused(tmp_path):
    """High 5: a header claiming 8 TiB made numpy allocate it before reading a byte."""
    path = tmp_path / "c.npz"
    npz(path, {"ctrl": lying_npy((2**40, 1))})
    with pytest.raises(
        ReplayError, match=r"'ctrl' claims shape \(1099511627776, 1\) \(8,796,093,022,208 bytes\)"
    ):
        ControlReplay.load(path, nu=1, timestep=0.01)


def test_a_controls_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    """A FIFO as --replay blocked the command forever on opening it."""
    fifo = tmp_path / "c.npz"
    os.mkfifo(fifo)
    proc = run_mjpod(
        "record", "-m", "pendulum", "--replay", str(fifo), "--out", str(tmp_path / "a.mp4"), timeout=120
    )
    assert proc.returncode == 2 and "is a FIFO, not a regular file" in " ".join(proc.stderr.split()), (
        proc.stderr
    )
