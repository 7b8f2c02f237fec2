"""MuJoCo Studio's web viewer inside mjpod: the browser draws the scene, mjpod decides what it may do.

Checked against mujoco-studio STUDIO_VERSION. What mjpod changes, all from outside Studio's files:

- where it listens: Studio binds '::' (every interface) and prints a banner saying there is no
  authentication. While the viewer is built, `web_server.bind_public_socket` hands it a Unix socket in
  a private folder instead and the banner is not printed, so nothing but stream/web_gate.py (bound
  where mjpod was told, with the token and the limits) can reach it. Studio's other listener, the
  NetImgui bridge between its own threads, is on 127.0.0.1 already.
- its viewer loop: `run_viewer` does what `viewer_protocol.run_viewer_loop` does, except that it idles
  while no browser is connected (Studio's own loop builds the UI 60 times a second for nobody).
- what a browser's requests do: Studio sends them to the simulation side as messages; `Requests`
  takes every one of them first (CRITICAL priority, consumed) and hands what mjpod allows to a
  `ViewRequests` (stream/web.py), so nothing reaches Studio's own handlers, which would load a model
  file or change a copy of the state that is not the engine's.
- a panel (`WorldPanel`): engine, world picker, neighbouring worlds drawn beside it, time and
  real-time factor; and the browser cannot quit the viewer (File > Quit) while mjpod serves.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import mujoco
import numpy as np
from mujoco.studio import launch_thread, messages, plugin, sim, viewer_handle, viewer_protocol, web_viewer
from mujoco.studio.app import plugins as studio_app
from mujoco.studio.dear_imgui import dear_imgui as imgui
from mujoco.studio.web import state_payload, web_server

from mjpod.errors import MjpodError

log = logging.getLogger("mjpod.stream.web")

STUDIO_VERSION = "4.0.0"  # the mujoco-studio release this wrapping was read against and tested with
STATE = int(mujoco.mjtState.mjSTATE_INTEGRATION)  # what Studio's state payload carries
IDLE_POLL = 0.1  # seconds between looks for a browser while none is connected
VIEWER_END_TIMEOUT = 300.0  # seconds close() waits for the viewer thread (Studio's own wait is 5 s)
MAX_NEIGHBOURS = 15  # worlds drawn beside the chosen one, at most (and within Studio's extra geoms)


class StudioError(MjpodError, RuntimeError):
    """MuJoCo Studio is missing or is not the release mjpod's wrapping was checked against."""


def check_version() -> None:
    """Refuse a Studio whose internals mjpod reaches into (bind, banner) are not where 4.0.0 has them."""
    import mujoco.studio as studio

    found = getattr(studio, "__version__", "?")
    missing = [
        name
        for module, name in ((web_server, "bind_public_socket"), (web_viewer, "_print_url_banner"))
        if not callable(getattr(module, name, None))
    ]
    if missing:
        raise StudioError(
            f"mujoco-studio {found} has no {', '.join(missing)}: mjpod's browser view was checked against"
            f" {STUDIO_VERSION}; install mujoco-studio=={STUDIO_VERSION} (requirements.lock pins it)"
        )
    if found != STUDIO_VERSION:
        log.warning("mujoco-studio %s: mjpod's browser view was checked against %s", found, STUDIO_VERSION)


# -- messages between the viewer (browser) side and the simulation side, in this process only --


@dataclasses.dataclass(frozen=True)
class ChooseWorld(messages.Event):
    """The panel picked another world, or another number of neighbours drawn beside it."""

    world: int
    neighbours: int


@dataclasses.dataclass(frozen=True, eq=False)
class ViewStatus(messages.Snapshot):
    """What the panel shows, and the states of the neighbouring worlds it draws."""

    engine: str
    nworld: int
    world: int
    time: float
    rtf: float  # simulated seconds per wall second over the last second; nan: not known yet
    control: bool
    paused: bool  # the engine (control) or this view (spectator) is paused
    note: str  # the last request mjpod refused, and why
    neighbours: tuple[int, ...] = ()
    neighbour_states: np.ndarray | None = None  # (len(neighbours), state size) of STATE


class ViewRequests(Protocol):
    """What a browser asked for, as stream/web.py decides it (control, or spectator)."""

    def choose(self, world: int, neighbours: int) -> None: ...
    def pause(self, paused: bool) -> None: ...
    def single_step(self) -> None: ...
    def reset(self) -> None: ...
    def hold_ctrl(self, ctrl: np.ndarray) -> None: ...
    def apply_force(self, xfrc: np.ndarray) -> None: ...
    def refuse(self, what: str) -> None: ...
    def copy_state(self, data: mujoco.MjData) -> None: ...  # the newest state into Studio's data
    def step_control(self) -> messages.StepControlSnapshot: ...  # what the UI should show


def step_control(paused: bool, rtf: float) -> messages.StepControlSnapshot:
    """What Studio's UI shows of the run: paused or not, at mjpod's pace (100%), with the measured
    real-time factor as its achieved speed."""
    return messages.StepControlSnapshot(
        pause_state=sim.PauseState.NORMAL_PAUSED if paused else sim.PauseState.UNPAUSED,
        speed=100.0,
        speed_measured=-1.0 if math.isnan(rtf) else 100.0 * rtf,
    )


class Requests(plugin.SimPlugin):
    """Takes every message a browser's UI sends to the simulation side, before Studio's own handlers."""

    CRITICAL = messages.Priority.CRITICAL

    def __init__(self, requests: ViewRequests) -> None:
        self.requests = requests
        self._xfrc: np.ndarray | None = None  # the last force sent on (the UI sends one every frame)

    @messages.handler(priority=CRITICAL)
    def _on_choose(self, event: ChooseWorld) -> bool:
        self.requests.choose(event.world, event.neighbours)
        return True

    @messages.handler(priority=CRITICAL)
    def _on_load(self, event: messages.LoadModelEvent) -> bool:
        self.requests.refuse("loading or reloading a model: mjpod's browser view shows the served model only")
        return True

    @messages.handler(priority=CRITICAL)
    def _on_step_control(self, event: messages.StepControlSnapshot) -> bool:
        self.requests.pause(event.pause_state != sim.PauseState.UNPAUSED)
        self._answer_step_control()
        return True

    @messages.handler(priority=CRITICAL)
    def _on_pause(self, event: messages.RequestPauseEvent) -> bool:
        self.requests.pause(event.pause_state != sim.PauseState.UNPAUSED)
        self._answer_step_control()
        return True

    @messages.handler(priority=CRITICAL)
    def _on_single_step(self, event: messages.SingleStepEvent) -> bool:
        self.requests.single_step()
        return True

    @messages.handler(priority=CRITICAL)
    def _on_reset(self, event: messages.ResetEvent) -> bool:
        self.requests.reset()
        return True

    @messages.handler(priority=CRITICAL)
    def _on_perturb(self, snapshot: messages.PerturbSnapshot) -> bool:
        if snapshot.state_sig != int(mujoco.mjtState.mjSTATE_XFRC_APPLIED):
            return True
        if self._xfrc is None or not np.array_equal(snapshot.state, self._xfrc):
            self._xfrc = np.array(snapshot.state)
            self.requests.apply_force(self._xfrc.reshape(-1, 6))
        return True

    @messages.handler(priority=CRITICAL)
    def _on_state(self, event: messages.StateEvent) -> bool:
        if event.state_sig == int(mujoco.mjtState.mjSTATE_CTRL):
            self.requests.hold_ctrl(np.array(event.state))
        else:
            self.requests.refuse("editing joints or state: mjpod applies actuator controls only")
        return True

    @messages.handler(priority=CRITICAL)
    def _on_option(self, event: messages.MjOptionSnapshot) -> bool:
        self.requests.refuse("changing physics options: the engine runs with the model's own")
        self.handle.send_to_viewer(messages.MjOptionSnapshot(opt=copy.deepcopy(self.handle.model.opt)))
        return True

    @messages.handler(priority=CRITICAL)
    def _on_keyframe(self, event: messages.KeyframeEvent) -> bool:
        self.requests.refuse("saving a keyframe: the served model does not change")
        return True

    @messages.handler(priority=CRITICAL)
    def _on_threads(self, event: messages.ThreadPoolEvent) -> bool:
        return True  # the engine's threads are mjpod's

    @messages.handler(priority=CRITICAL)
    def _on_pre_step(self, event: messages.PreStepEvent) -> None:
        self.requests.copy_state(event.data)

    def _answer_step_control(self) -> None:
        """Speed and noise stay what mjpod runs; the UI is told so (and whether it is paused)."""
        self.handle.send_to_viewer(self.requests.step_control())


class WorldPanel(plugin.ViewerPlugin):
    """The panel in the page, the neighbouring worlds drawn beside the chosen one, and the quit guard."""

    def __init__(self, model: mujoco.MjModel, closing: threading.Event) -> None:
        self.closing = closing
        self.status: ViewStatus | None = None
        self._world, self._neighbours = 0, 0
        self._model = model
        self._data = mujoco.MjData(model)
        self._scenes: list[mujoco.MjvScene] = []
        self._spacing = world_spacing(model)
        self._drawn: tuple[int, ...] = ()
        geoms = max(1, model.ngeom + model.nsite)
        self.max_neighbours = min(MAX_NEIGHBOURS, state_payload.MAX_EXTRA_GEOMS // (2 * geoms))

    @messages.handler(priority=messages.Priority.CRITICAL + 10)
    def _on_exit(self, event: messages.ExitEvent) -> bool:
        """File > Quit in a browser would stop the viewer for everyone: only mjpod's shutdown passes."""
        return not self.closing.is_set()

    @messages.handler(priority=messages.Priority.CRITICAL)
    def _on_status(self, status: ViewStatus) -> None:
        self.status = status
        self._world = status.world
        self._neighbours = len(status.neighbours)

    @messages.handler(priority=messages.Priority.LIBRARY)
    def _on_update(self, event: messages.UpdateEvent) -> None:
        status = self.status
        if status is None:
            return
        # One world a press, as Studio's own shortcuts act (no repeat): a key held a little long on a
        # slow page would skip worlds (type the number to jump). test_web.held relies on it.
        if imgui.IsKeyPressed(imgui.Key.PageDown, repeat=False):
            self._choose((status.world + 1) % status.nworld, self._neighbours)
        elif imgui.IsKeyPressed(imgui.Key.PageUp, repeat=False):
            self._choose((status.world - 1) % status.nworld, self._neighbours)
        self._draw_neighbours(status)

    @messages.handler(priority=messages.Priority.LIBRARY)
    def _on_gui(self, event: messages.BuildGuiEvent) -> None:
        status = self.status
        if status is None:
            return
        imgui.SetNextWindowPos(imgui.Vec2(220, 30), imgui.Cond.FirstUseEver)  # the 3D view's top left
        flags = int(imgui.WindowFlags.AlwaysAutoResize) | int(imgui.WindowFlags.NoSavedSettings)
        imgui.Begin("mjpod", None, flags)
        imgui.TextUnformatted(
            f"{status.engine} · {status.nworld} world(s) · {'control' if status.control else 'spectator'}"
        )
        if status.nworld > 1:
            imgui.SetNextItemWidth(110)
            changed, world = imgui.InputInt("world (PgUp/PgDn)", status.world)
            if changed:
                self._choose(world % status.nworld, self._neighbours)
            most = min(self.max_neighbours, status.nworld - 1)
            if most:
                imgui.SetNextItemWidth(110)
                changed, count = imgui.SliderInt("worlds beside it", self._neighbours, 0, most)
                if changed:
                    self._choose(status.world, count)
        rtf = "–" if math.isnan(status.rtf) else f"{status.rtf:.2f}"  # (text changes resend the panel)
        paused = " · paused" if status.paused else ""
        imgui.TextUnformatted(f"world {status.world}: t = {status.time:.1f} s · {rtf}x real time{paused}")
        if status.neighbours:
            imgui.TextUnformatted("beside it, row by row: " + " ".join(map(str, status.neighbours)))
        if status.note:
            imgui.TextUnformatted(status.note)
        imgui.End()

    def _choose(self, world: int, neighbours: int) -> None:
        self._world, self._neighbours = world, neighbours
        self.viewer.send_to_sim(ChooseWorld(world, neighbours))

    def _draw_neighbours(self, status: ViewStatus) -> None:
        """Each neighbour's geoms (not its floor), shifted to its place in a grid beside the chosen world."""
        states = status.neighbour_states
        if states is None or not status.neighbours:
            self.viewer.extra_geoms.clear()
            return
        viewer, geoms = self.viewer, []
        while len(self._scenes) < len(status.neighbours):
            self._scenes.append(mujoco.MjvScene(self._model, maxgeom=state_payload.MAX_EXTRA_GEOMS))
        for k, state in enumerate(states):
            mujoco.mj_setState(self._model, self._data, state, STATE)
            mujoco.mj_fwdPosition(self._model, self._data)
            scene = self._scenes[k]
            mujoco.mjv_updateScene(
                self._model, self._data, viewer.vis_options, None, mujoco.MjvCamera(),
                int(mujoco.mjtCatBit.mjCAT_ALL), scene,
            )  # fmt: skip
            offset = grid_offset(k + 1, len(status.neighbours) + 1, self._spacing)
            for g in scene.geoms[: scene.ngeom]:
                if g.type == mujoco.mjtGeom.mjGEOM_PLANE:
                    continue
                g.pos[:2] += offset
                geoms.append(g)
        viewer.extra_geoms[:] = geoms[: state_payload.MAX_EXTRA_GEOMS]


def grid_offset(k: int, count: int, spacing: float) -> np.ndarray:
    """Where world k of `count` sits (the chosen one, k = 0, at the origin): rows of ceil(sqrt(count))
    along +x, rows stepping along -y."""
    cols = math.ceil(math.sqrt(count))
    return np.array([(k % cols) * spacing, -(k // cols) * spacing])


def world_spacing(model: mujoco.MjModel) -> float:
    """A grid pitch that keeps neighbouring worlds apart: 1.25 x the width of the model's geoms other
    than planes, at its initial pose (at least 0.5 m)."""
    data = mujoco.MjData(model)
    if model.nkey:
        mujoco.mj_resetDataKeyframe(model, data, 0)
    mujoco.mj_kinematics(model, data)
    solid = model.geom_type != mujoco.mjtGeom.mjGEOM_PLANE
    if not solid.any():
        return 1.0
    centers = data.geom_xpos[solid] + np.einsum("gij,gj->gi", data.geom_xmat[solid].reshape(-1, 3, 3),
                                                model.geom_aabb[solid, :3])  # fmt: skip
    radius = np.linalg.norm(model.geom_aabb[solid, 3:], axis=1)[:, None]
    low, high = (centers - radius).min(axis=0), (centers + radius).max(axis=0)
    return max(0.5, 1.25 * float(np.max(high[:2] - low[:2])))


# -- starting Studio's viewer --


@contextlib.contextmanager
def _listening_on(sock: socket.socket) -> Iterator[None]:
    """While the viewer is built: Studio's public socket is `sock`, and no banner is printed."""
    bind, banner = web_server.bind_public_socket, web_viewer._print_url_banner
    web_server.bind_public_socket = lambda host, port=0: sock
    web_viewer._print_url_banner = lambda host, port: None
    try:
        yield
    finally:
        web_server.bind_public_socket, web_viewer._print_url_banner = bind, banner


def _quiet_studio_logger() -> None:
    """Studio's web server logs to stdout with its own format; mjpod's log (stderr) takes it instead."""
    logger = web_server.logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True


def run_viewer(viewer: viewer_protocol.Viewer, watching: Callable[[], bool]) -> None:
    """`viewer_protocol.run_viewer_loop` (Studio 4.0.0), except that it idles while nobody watches."""
    try:
        while True:
            if not watching():
                for event in viewer.get_sim_events():
                    viewer.dispatch(event)
                if not viewer.is_running():
                    break
                time.sleep(IDLE_POLL)
                continue
            frame = viewer.prepare_next_frame()
            for event in viewer.get_sim_events():
                viewer.dispatch(event)
            if not viewer.is_running():
                break
            for snapshot in viewer.get_sim_snapshots():
                viewer.dispatch(snapshot)
            if frame:
                viewer.dispatch(messages.UpdateEvent())
                viewer.dispatch(messages.BuildGuiEvent())
                viewer.sync()
    except Exception as err:
        viewer.exit_reason = messages.describe_exception(err)
        log.exception("the browser view's viewer stopped")
        raise
    finally:
        viewer.close()
        # Its native UI (an ImGui context, which ImGui keeps current process-wide) is freed here, on
        # this thread as it ends, not by a later collection of the viewer's reference cycles on some
        # thread while another viewer of this process draws (a segfault; the bench and a notebook
        # open one after another). Studio 4.0.0 keeps it in `_headless_ui`.
        vars(viewer).pop("_headless_ui", None)


class Studio:
    """Studio's web viewer on a private Unix socket, the App's UI plus mjpod's panel and request filter."""

    def __init__(
        self,
        model: mujoco.MjModel,
        title: str,
        requests: ViewRequests,
        watching: Callable[[], bool],
        socket_path: str,
    ) -> None:
        """`socket_path`: where Studio listens, in a folder only this user may enter."""
        check_version()
        _quiet_studio_logger()
        self.model = model
        self.closing = threading.Event()
        self.panel = WorldPanel(model, self.closing)
        self.socket_path = socket_path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(socket_path)
        self._watching = watching
        config = viewer_protocol.ViewerConfig(title=title, gfx="web")
        viewer_plugins: list[Any] = [studio_app.App(), self.panel]

        self._viewer_thread: threading.Thread | None = None

        def target(endpoint: Any) -> None:
            self._viewer_thread = threading.current_thread()
            with _listening_on(self._sock):
                viewer = web_viewer.WebViewer(config, endpoint, model=model, plugins=viewer_plugins)
            run_viewer(viewer, self._watching)

        self.handle: viewer_handle.ViewerHandle = launch_thread.launch_thread(
            target, sim_plugins=[Requests(requests)]
        )
        # The simulation side's copy: set here rather than with set_model, which would send the model
        # to a viewer that already has it (and print that the page reloads).
        self.handle.model = copy.deepcopy(model)
        self.handle.data = mujoco.MjData(self.handle.model)
        self._wait_listening()

    def _wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.handle.is_running():  # re-raises what stopped the viewer thread
                raise StudioError("MuJoCo Studio's web viewer stopped while starting; see the log above")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(self.socket_path)
                    return
                except OSError:
                    time.sleep(0.05)
        raise StudioError(f"MuJoCo Studio's web viewer did not start within {timeout:g} s")

    def _wait_viewer_ended(self) -> None:
        """Until the viewer thread has freed its UI: a viewer built sooner would draw while that ImGui
        context is torn down (Studio's close waits 5 s, which a busy machine can exceed)."""
        thread = self._viewer_thread
        if thread is None:
            return
        thread.join(VIEWER_END_TIMEOUT)
        if thread.is_alive():
            log.warning(
                "MuJoCo Studio's viewer thread did not end within %g s; a browser view opened next in this "
                "process may draw wrongly (restart the process to be sure)",
                VIEWER_END_TIMEOUT,
            )

    def close(self) -> None:
        self.closing.set()
        with contextlib.suppress(Exception):
            self.handle.close()
        self._wait_viewer_ended()
        self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)
