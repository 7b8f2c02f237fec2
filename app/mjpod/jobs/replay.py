"""Recorded controls played back: the NPZ layout mjwarp-testspeed's --replay reads.

The file holds `ctrl` (n, nu) and optionally `times` (n or n+1 increasing seconds; without it,
one row per physics step). Controls are held from one time to the next (zero-order hold), and the
last row is held after the end. Only those two arrays are read, each after its header says it is a
plain numeric array of at most MAX_BYTES: other members, however large, are never touched.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from mjpod import files
from mjpod.errors import MjpodError

MAX_BYTES = 1 << 30  # per array: a million steps of 128 actuators is a GiB of float64
HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class ReplayError(MjpodError, ValueError):
    """A controls file that cannot drive this model: the message names the file and the problem."""


class ControlReplay:
    def __init__(self, ctrl: np.ndarray, times: np.ndarray) -> None:
        self.ctrl, self.times = ctrl, times

    @classmethod
    def load(cls, path: Path, nu: int, timestep: float) -> ControlReplay:
        """Read and check `path` against the model's actuator count."""
        try:
            with files.open_regular(path, "controls file") as raw, zipfile.ZipFile(raw) as npz:
                arrays = {
                    name: _array(npz, name, path)
                    for name in ("ctrl", "times")
                    if f"{name}.npy" in npz.namelist()
                }
                found = [n.removesuffix(".npy") for n in npz.namelist()]
        except FileNotFoundError:
            raise ReplayError(f"controls file {path} does not exist") from None
        except (ReplayError, files.FileRefused) as err:
            raise ReplayError(str(err)) from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ReplayError(f"controls file {path} is not a readable .npz ({err})") from None
        if "ctrl" not in arrays:
            raise ReplayError(
                f"controls file {path} has no 'ctrl' array (found: {', '.join(found[:10]) or 'none'})"
            )
        ctrl = np.asarray(arrays["ctrl"], dtype=np.float64)
        if ctrl.ndim != 2 or ctrl.shape[1] != nu or len(ctrl) == 0:
            raise ReplayError(
                f"controls file {path}: 'ctrl' must have shape (n, {nu}) for this model; got {ctrl.shape}"
            )
        times = arrays.get("times")
        if times is None:
            times = np.arange(len(ctrl)) * timestep
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1 or len(times) not in (len(ctrl), len(ctrl) + 1):
            raise ReplayError(
                f"controls file {path}: 'times' must have {len(ctrl)} or {len(ctrl) + 1} entries; got {times.shape}"
            )
        if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
            raise ReplayError(f"controls file {path}: 'times' must be finite and strictly increasing")
        return cls(ctrl, times[: len(ctrl)])

    def at(self, t: float) -> np.ndarray:
        """The control row in force at simulation time t."""
        i = int(np.searchsorted(self.times, t + 1e-9, side="right")) - 1
        return self.ctrl[min(max(i, 0), len(self.ctrl) - 1)]


def _array(npz: zipfile.ZipFile, name: str, path: Path) -> np.ndarray:
    """One member of the NPZ, read only once its header shows a plain numeric array of at most
    MAX_BYTES (never unpickled; never trusting a header that claims more than the member holds)."""
    info = npz.getinfo(f"{name}.npy")
    with npz.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = HEADERS.get(version)
        if read_header is None:
            raise ReplayError(
                f"controls file {path}: {name!r} is an .npy of version {version}, not 1.0 or 2.0"
            )
        shape, fortran, dtype = read_header(f)
        size = math.prod(shape) * dtype.itemsize
        if dtype.hasobject or dtype.kind not in "biuf":
            raise ReplayError(
                f"controls file {path} is not a readable .npz of numbers: {name!r} holds {dtype} "
                "(objects would be unpickled, which mjpod never does)"
            )
        if size > MAX_BYTES or size > info.file_size:
            raise ReplayError(
                f"controls file {path}: {name!r} claims shape {shape} ({size:,} bytes); "
                f"it holds {info.file_size:,} and mjpod reads at most {MAX_BYTES:,}"
            )
        data = f.read(size)
    if len(data) != size:
        raise ReplayError(f"controls file {path}: {name!r} is cut short ({len(data):,} of {size:,} bytes)")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C")
