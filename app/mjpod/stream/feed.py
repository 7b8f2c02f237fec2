"""The newest state of the watched world, shared by every consumer (TCP clients, the browser view).

The simulation publishes and never waits: it overwrites one slot under a lock. Each consumer
waits for a sequence number newer than the one it last took, so a slow consumer simply skips the
states it missed and cannot hold anything up.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time

import mujoco
import numpy as np

from mjpod.stream.protocol import Kind, encode


@dataclasses.dataclass(frozen=True)
class Snapshot:
    seq: int
    time: float
    world: int
    arrays: dict[str, np.ndarray]  # copies: qpos, qvel, act, ctrl, xfrc_applied
    published: float  # time.perf_counter() when published (latency measurements)

    @functools.cached_property
    def message(self) -> bytes:
        """The STATE message, encoded once however many clients send it."""
        return encode(Kind.STATE, {"seq": self.seq, "time": self.time, "world": self.world}, self.arrays)

    def as_state(self) -> dict:
        """The seed's state dict."""
        return {"time": self.time, **self.arrays}


def snapshot_arrays(mjd: mujoco.MjData) -> dict[str, np.ndarray]:
    return {
        "qpos": np.array(mjd.qpos, dtype=np.float64),
        "qvel": np.array(mjd.qvel, dtype=np.float64),
        "act": np.array(mjd.act, dtype=np.float64),
        "ctrl": np.array(mjd.ctrl, dtype=np.float64),
        "xfrc_applied": np.array(mjd.xfrc_applied, dtype=np.float64),
    }


class StateFeed:
    """A rate-capped latest-state slot: `publish` from the simulation, `wait_newer` from consumers."""

    def __init__(self, hz: float = 60.0, world: int = 0) -> None:
        self.hz = hz
        self.world = world
        self._cond = threading.Condition()
        self._latest: Snapshot | None = None
        self._last_publish = -float("inf")
        self._closed = False

    def publish(self, mjd: mujoco.MjData, force: bool = False) -> int | None:
        """Offer a state; returns its sequence number, or None when the rate cap skipped it."""
        now = time.perf_counter()
        if not force and self.hz > 0 and now - self._last_publish < 1.0 / self.hz:
            return None
        self._last_publish = now
        seq = self._latest.seq + 1 if self._latest else 0
        snap = Snapshot(seq, float(mjd.time), self.world, snapshot_arrays(mjd), now)
        with self._cond:
            self._latest = snap
            self._cond.notify_all()
        return seq

    def latest(self) -> Snapshot | None:
        return self._latest

    def wait_newer(self, seq: int, timeout: float) -> Snapshot | None:
        """The newest snapshot with a sequence number above `seq`, or None after `timeout` or on close."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (self._latest and self._latest.seq > seq), timeout)
            snap = self._latest
        return snap if snap is not None and snap.seq > seq and not self._closed else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
