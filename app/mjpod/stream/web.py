"""The browser view (`mjpod serve --web PORT`): MuJoCo Studio's web client, fed from the engine.

The server renders nothing: the browser downloads the page, Studio's WebAssembly client and the model
once, then receives states and draws them with WebGL2. Data flows one way:

- the stepping loop calls `publish(engine)` at the frame rate. While a browser watches, it copies the
  chosen world (and the worlds drawn beside it) into one latest-state slot and returns; while nobody
  watches it returns at once. It never renders, touches the network or waits;
- a bridge thread hands the newest state to Studio's viewer (stream/studio.py), whose server sends it
  to the browsers through the gate (stream/web_gate.py): 127.0.0.1 unless --host, the token, limits.

What a browser asks for comes back through studio.Requests to this class: by default every browser
is a spectator (nothing reaches the engine; Pause freezes this view while the simulation runs on);
with `control=True` (--web-control) pause, single step, reset, perturbation and actuator controls act
on the chosen world in the engine, between steps, through a simloop.Steering.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping

import mujoco
import numpy as np

from mjpod.engines import Engine
from mjpod.stream.net import require_token
from mjpod.stream.simloop import Steering
from mjpod.stream.web_gate import WebGate

log = logging.getLogger("mjpod.stream.web")

RTF_WINDOW = 1.0  # wall seconds the real-time factor is measured over
# The panel's figures are refreshed this often at most: every change of its text sends the panel's
# draw data to the browser again (Studio's UI travels as ImGui draw lists), some tens of KB each.
STATUS_HZ = 2.0


@dataclasses.dataclass(frozen=True)
class _Shown:
    """The newest copy of the worlds on show: the chosen one first, then those drawn beside it."""

    seq: int
    worlds: tuple[int, ...]
    states: np.ndarray  # (len(worlds), size of Studio's state)
    wall: float  # time.perf_counter() when copied


class BrowserRequests:
    """What mjpod does with a browser's requests (studio.ViewRequests, but for the plumbing WebView
    adds). With a Steering (--web-control) they act on the chosen world in the engine, between steps;
    without one (spectators) nothing reaches the engine: Pause freezes the view while the simulation
    runs on, Step moves a frozen view to the newest state, the rest is refused with a note on the page."""

    def __init__(self, steering: Steering | None, model: mujoco.MjModel, world: Callable[[], int]) -> None:
        self.steering, self.model, self._chosen = steering, model, world
        self.frozen = False  # a spectator paused this view
        self.view_steps = 0  # states a frozen view may still take (Step, or another world chosen)
        self.note = ""  # the page shows it
        self._said: collections.Counter[str] = collections.Counter()

    @property
    def control(self) -> bool:
        return self.steering is not None

    @property
    def paused(self) -> bool:
        """The engine (control) or this view (spectators) is paused."""
        return self.steering.paused if self.steering is not None else self.frozen

    def pause(self, paused: bool) -> None:
        if self.steering is not None:
            self.steering.pause(paused)
            return
        self.frozen = paused
        self.note = ""
        if paused:
            self._say("spectator: Pause froze this view; the simulation runs on")

    def single_step(self) -> None:
        if self.steering is not None:
            self.steering.single_step()
        else:
            self.view_steps += 1  # a frozen view moves on to the newest state

    def reset(self) -> None:
        if self.steering is None:
            self.refuse("reset")
            return
        world = self._chosen()
        self.steering.submit(lambda engine: engine.reset_world(world))

    def hold_ctrl(self, ctrl: np.ndarray) -> None:
        if self.steering is None:
            self.refuse("setting actuator controls")
            return
        if ctrl.shape != (self.model.nu,):
            return
        world = self._chosen()
        self.steering.submit(lambda engine: engine.hold_ctrl(world, ctrl))

    def apply_force(self, xfrc: np.ndarray) -> None:
        if self.steering is None:
            if xfrc.any():
                self.refuse("perturbing a body")
            return
        if xfrc.shape != (self.model.nbody, 6):
            return
        world = self._chosen()
        self.steering.submit(lambda engine: engine.apply_force(world, xfrc))

    def refuse(self, what: str) -> None:
        """Say on the page (and, the first times, in the log) what was not done and why."""
        why = "" if self.control or ":" in what else " (spectator; serve with --web-control to allow it)"
        self._say(f"refused: {what}{why}")

    def _say(self, note: str) -> None:
        self.note = note
        self._said[note] += 1
        if self._said[note] in (1, 10, 100, 1000):
            log.info("browser view: %s (%d time(s))", note, self._said[note])


class WebView(BrowserRequests):
    """Studio's web viewer behind mjpod's gate, fed by `publish` from the stepping loop."""

    def __init__(
        self,
        model: mujoco.MjModel,
        name: str,
        *,
        engine: str,
        nworld: int,
        host: str = "127.0.0.1",
        port: int = 8080,
        token: str | None = None,
        world: int = 0,
        steering: Steering | None = None,
    ) -> None:
        from mjpod.stream import studio  # Studio loads its native viewer: only when a browser view runs

        self.model, self.name, self.engine, self.nworld = model, name, engine, nworld
        require_token("the browser view", host, token)
        self.token = token
        BrowserRequests.__init__(self, steering, model, lambda: self._worlds[0])
        self._studio = studio
        self._state_size = mujoco.mj_stateSize(model, studio.STATE)
        self._scratch = mujoco.MjData(model)
        self._worlds: tuple[int, ...] = (world,)
        self._cond = threading.Condition()
        self._latest: _Shown | None = None
        self._shown: _Shown | None = None  # what the viewer has (frozen while a spectator pauses)
        self._clock: collections.deque[tuple[float, float]] = collections.deque()
        self._stop = threading.Event()
        self._folder = tempfile.mkdtemp(prefix="mjpod-web-")  # mode 0700: Studio's socket is this user's
        socket_path = os.path.join(self._folder, "studio.sock")
        try:
            self.gate = WebGate(host, port, socket_path, self.token)
            try:
                self.studio = studio.Studio(
                    model, f"mjpod: {name}", self, lambda: self.gate.watchers > 0, socket_path
                )
            except BaseException:
                self.gate.close()
                raise
        except BaseException:
            self._remove_folder()
            raise
        self._bridge = threading.Thread(target=self._bridge_loop, name="mjpod-web-bridge", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.gate.address

    @property
    def world(self) -> int:
        return self._worlds[0]

    def start(self) -> None:
        self.gate.start()
        self._bridge.start()
        log.info(
            "browser view on http://%s:%d/ (MuJoCo Studio's web client; %s)",
            *self.address,
            "control" if self.control else "spectators only",
        )

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._bridge.is_alive():
            self._bridge.join(timeout=10)
        self.gate.close()
        self.studio.close()
        self._remove_folder()

    def _remove_folder(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    # -- the stepping loop's side --

    def publish(self, engine: Engine, ready: Mapping[int, mujoco.MjData] | None = None) -> None:
        """Copy the worlds on show into the slot, when a browser watches. `ready`: worlds already
        copied into an MjData this frame (the TCP stream's), so they are not fetched again."""
        if not self.gate.watchers:
            return
        worlds = self._worlds
        states = np.empty((len(worlds), self._state_size))
        for k, w in enumerate(worlds):
            mjd = (ready or {}).get(w)
            if mjd is None:
                mjd = engine.copy_world(w, self._scratch)
            mujoco.mj_getState(self.model, mjd, states[k], self._studio.STATE)
        with self._cond:
            seq = self._latest.seq + 1 if self._latest else 0
            self._latest = _Shown(seq, worlds, states, time.perf_counter())
            self._cond.notify_all()

    # -- the bridge thread: newest state to Studio, Studio's requests to here --

    def _bridge_loop(self) -> None:
        seq, status_due = -1, 0.0
        while not self._stop.is_set():
            latest = self._wait_newer(seq)
            if self._stop.is_set() or not self.gate.watchers:
                continue
            if latest is not None and latest.seq > seq:
                seq = latest.seq
                self._tick(latest)
                if not self.frozen or self.view_steps:
                    self.view_steps = max(0, self.view_steps - 1)
                    self._shown = latest
            try:
                self.studio.handle.sync()  # the page's requests reach us here; then the state goes out
                now = time.monotonic()
                if now >= status_due:
                    status_due = now + 1.0 / STATUS_HZ
                    self.studio.handle.send_to_viewer(self._status())
            except Exception:  # the viewer has stopped: the simulation goes on without a browser view
                if not self._stop.is_set():
                    log.exception("browser view: the viewer stopped; the simulation goes on")
                return

    def _wait_newer(self, seq: int) -> _Shown | None:
        """The newest copy, once it is newer than `seq` (or after a short wait, so requests and the
        panel are served while the simulation is paused)."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._stop.is_set() or (self._latest is not None and self._latest.seq > seq),
                timeout=0.1,
            )
            return self._latest

    def _tick(self, shown: _Shown) -> None:
        """Measure the real-time factor of the chosen world from successive copies."""
        t = float(shown.states[0][0])  # Studio's state starts with the time
        if self._clock and t < self._clock[-1][1]:
            self._clock.clear()  # a reset: start measuring again (choose() clears it for another world)
        self._clock.append((shown.wall, t))
        while len(self._clock) > 2 and shown.wall - self._clock[1][0] >= RTF_WINDOW:
            self._clock.popleft()

    def rtf(self) -> float:
        if len(self._clock) < 2:
            return math.nan
        (w0, t0), (w1, t1) = self._clock[0], self._clock[-1]
        return (t1 - t0) / (w1 - w0) if w1 > w0 else math.nan

    def _status(self):
        shown = self._shown
        return self._studio.ViewStatus(
            engine=self.engine,
            nworld=self.nworld,
            world=self.world,
            time=float(shown.states[0][0]) if shown is not None else 0.0,
            rtf=self.rtf(),
            control=self.control,
            paused=self.paused,
            note=self.note,
            neighbours=shown.worlds[1:] if shown is not None else (),
            neighbour_states=shown.states[1:] if shown is not None and len(shown.worlds) > 1 else None,
        )

    # -- studio.ViewRequests: called on the bridge thread, inside handle.sync() --

    def copy_state(self, data: mujoco.MjData) -> None:
        if self._shown is not None:
            mujoco.mj_setState(self.model, data, self._shown.states[0], self._studio.STATE)

    def step_control(self):
        return self._studio.step_control(self.paused, self.rtf())

    def choose(self, world: int, neighbours: int) -> None:
        most = min(self.studio.panel.max_neighbours, self.nworld - 1)
        world, neighbours = world % self.nworld, max(0, min(neighbours, most))
        self._worlds = tuple((world + k) % self.nworld for k in range(neighbours + 1))
        self.note = ""
        self._clock.clear()
        if self.frozen:
            self.view_steps += 1  # a frozen view still shows the world just picked
