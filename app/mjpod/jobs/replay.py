"""Recorded controls played back: the NPZ layout mjwarp-testspeed's --replay reads.

The file holds `ctrl` (n, nu) and optionally `times` (n or n+1 increasing seconds; without it,
one row per physics step). Controls are held from one time to the next (zero-order hold), and the
last row is held after the end.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from mjpod.errors import MjpodError


class ReplayError(MjpodError, ValueError):
    """A controls file that cannot drive this model: the message names the file and the problem."""


class ControlReplay:
    def __init__(self, ctrl: np.ndarray, times: np.ndarray) -> None:
        self.ctrl, self.times = ctrl, times

    @classmethod
    def load(cls, path: Path, nu: int, timestep: float) -> ControlReplay:
        """Read and check `path` against the model's actuator count."""
        try:
            with np.load(path, allow_pickle=False) as data:  # never unpickle a file's contents
                arrays = {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise ReplayError(f"controls file {path} does not exist") from None
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            raise ReplayError(f"controls file {path} is not a readable .npz ({err})") from None
        if "ctrl" not in arrays:
            raise ReplayError(
                f"controls file {path} has no 'ctrl' array (found: {', '.join(arrays) or 'none'})"
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
