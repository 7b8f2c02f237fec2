"""What a browser's UI sends to the simulation side goes through mjpod's filter, never to Studio's own
handlers: a real ViewerHandle on Studio's in-process channels, messages sent from the viewer's end."""

import os
import subprocess
import sys
import threading
import types

import mujoco
import numpy as np
import pytest
from mujoco.studio import launch_thread, messages, sim, viewer_handle

from mjpod import models
from mjpod.stream import studio


class Recorder:
    """A studio.ViewRequests that remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, *args))

    def step_control(self):
        return messages.StepControlSnapshot(pause_state=sim.PauseState.UNPAUSED)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls if c[0] != "copy_state"]


@pytest.fixture
def linked():
    """(viewer endpoint, sim handle with mjpod's filter, recorder) over Studio's thread channels."""
    model = models.load("pendulum").model
    viewer_end, sim_end = launch_thread.make_thread_endpoints()
    recorder = Recorder()
    handle = viewer_handle.ViewerHandle(sim_end, sim_plugins=[studio.Requests(recorder)])
    handle.model, handle.data = model, mujoco.MjData(model)
    mujoco.mj_forward(model, handle.data)
    yield viewer_end, handle, recorder
    handle.close()


def test_loading_a_model_file_never_happens(linked, tmp_path):
    viewer_end, handle, recorder = linked
    other = tmp_path / "other.xml"
    other.write_text("<mujoco><worldbody><body><freejoint/><geom size='1'/></body></worldbody></mujoco>")
    model = handle.model
    for path in (str(other), ""):  # a dropped file, and the Reload button
        viewer_end.send_to_sim(messages.LoadModelEvent(path=path))
    handle.sync()
    assert handle.model is model and handle.model_path == ""
    assert recorder.names() == ["refuse", "refuse"]


def test_state_edits_options_and_keyframes_do_not_touch_the_simulation_side(linked):
    viewer_end, handle, recorder = linked
    qpos = handle.data.qpos.copy()
    state = np.full(handle.model.nq, 0.3)
    viewer_end.send_to_sim(messages.StateEvent(state=state, state_sig=int(mujoco.mjtState.mjSTATE_QPOS)))
    opt = handle.model.opt
    changed = mujoco.MjOption()
    changed.timestep = 0.5
    viewer_end.send_to_sim(messages.MjOptionSnapshot(opt=changed))
    viewer_end.send_to_sim(messages.KeyframeEvent(key=0, state=np.zeros(1)))
    handle.sync()
    np.testing.assert_array_equal(handle.data.qpos, qpos)
    assert handle.model.opt.timestep == opt.timestep == 0.002
    assert recorder.names() == ["refuse", "refuse", "refuse"]
    answered = [s for s in viewer_end.get_sim_snapshots() if isinstance(s, messages.MjOptionSnapshot)]
    assert answered and answered[0].opt.timestep == 0.002, "the page was not told the options stay"


def test_steering_requests_reach_mjpod_and_nothing_else(linked):
    viewer_end, handle, recorder = linked
    nu, nbody = handle.model.nu, handle.model.nbody
    viewer_end.send_to_sim(studio.ChooseWorld(world=3, neighbours=2))
    viewer_end.send_to_sim(messages.RequestPauseEvent(pause_state=sim.PauseState.NORMAL_PAUSED))
    viewer_end.send_to_sim(messages.SingleStepEvent())
    viewer_end.send_to_sim(messages.ResetEvent(key=None))
    viewer_end.send_to_sim(
        messages.StateEvent(state=np.full(nu, 0.5), state_sig=int(mujoco.mjtState.mjSTATE_CTRL))
    )
    xfrc = np.zeros(6 * nbody)
    viewer_end.send_to_sim(
        messages.PerturbSnapshot(state=xfrc, state_sig=int(mujoco.mjtState.mjSTATE_XFRC_APPLIED))
    )
    time_before = handle.data.time = 1.25
    handle.sync()
    names = recorder.names()
    assert names == ["choose", "pause", "single_step", "reset", "hold_ctrl", "apply_force"], names
    assert handle.data.time == time_before, "Studio's own reset ran"
    # the UI sends the (unchanged) perturbation every frame: it is passed on once, then on changes only
    viewer_end.send_to_sim(
        messages.PerturbSnapshot(state=xfrc, state_sig=int(mujoco.mjtState.mjSTATE_XFRC_APPLIED))
    )
    handle.sync()
    assert recorder.names().count("apply_force") == 1


def test_the_worlds_beside_the_chosen_one_are_drawn_in_a_grid_without_their_floor():
    """The panel's 'worlds beside it': each neighbour's geoms at its own pose, shifted to its place."""
    model = models.load("box_drop").model
    panel = studio.WorldPanel(model, threading.Event())
    panel.viewer = types.SimpleNamespace(extra_geoms=[], vis_options=mujoco.MjvOption())
    data, states = mujoco.MjData(model), []
    for height in (0.5, 1.5):
        mujoco.mj_resetData(model, data)
        data.qpos[2] = height  # the box's freejoint z
        state = np.empty(mujoco.mj_stateSize(model, studio.STATE))
        mujoco.mj_getState(model, data, state, studio.STATE)
        states.append(state)
    status = studio.ViewStatus("mjc on cpu", 3, 0, 0.0, 1.0, False, False, "", (1, 2), np.array(states))
    panel._draw_neighbours(status)
    geoms = panel.viewer.extra_geoms
    boxes = [g for g in geoms if g.type == mujoco.mjtGeom.mjGEOM_BOX]
    assert len(boxes) == 2 and not [g for g in geoms if g.type == mujoco.mjtGeom.mjGEOM_PLANE]
    spacing = studio.world_spacing(model)
    for k, (box, height) in enumerate(zip(boxes, (0.5, 1.5), strict=True)):
        offset = studio.grid_offset(k + 1, 3, spacing)
        np.testing.assert_allclose(box.pos, [offset[0], offset[1], height], atol=1e-5)
    assert spacing >= 0.5 and abs(studio.grid_offset(1, 3, spacing)[0] - spacing) < 1e-9
    status = studio.ViewStatus("mjc on cpu", 3, 0, 0.0, 1.0, False, False, "", (), None)
    panel._draw_neighbours(status)
    assert panel.viewer.extra_geoms == []


# Four browser views one after another in one process (as the bench and a notebook open them), and each
# one's leftovers collected while the next draws for a browser: freed by a collection, a closed
# viewer's ImGui context took the drawing one's place in the middle of a frame (a segfault).
# And each view's web server stops late, once the next viewer is built (or after 10 s), past the 5 s
# Studio waits for a viewer thread to end, as on a busy machine: when a viewer was built before the
# closed one's thread had ended, that context was torn down under the new one (CI: ImGui errors; here,
# without the wait: the third view's page never loaded; a plain 8 s late stop segfaulted instead).
ONE_AFTER_ANOTHER = """
import gc
import shutil
import threading
from mujoco.studio import web_viewer
from mujoco.studio.web import web_server
built = threading.Event()
init, stop = web_viewer.WebViewer.__init__, web_server.WebServer.stop
def init_then_say(viewer, *args, **kwargs):
    init(viewer, *args, **kwargs)
    built.set()
def late_stop(server, reason=""):
    built.clear()
    built.wait(10)
    stop(server, reason)
web_viewer.WebViewer.__init__, web_server.WebServer.stop = init_then_say, late_stop
from mjpod import engines, models
from mjpod.engines import EngineConfig
from mjpod.jobs.bench import browser_view as bv
lm = models.load("pendulum")
chromium = next(filter(None, map(shutil.which, bv.CHROMIUM)))
gc.disable()  # the closed view's reference cycles wait for the collections below
for view in range(4):
    with engines.make("mjc", lm.model, EngineConfig()) as engine, bv._view(lm, engine) as web:
        with bv._browser(chromium, "http://{}:{}/".format(*web.address), set()):
            bv._page_loaded(engine, web)
            for _ in range(3):
                gc.collect()
                bv._steps(engine, web, 0.2)
    print("view", view, "closed", flush=True)
"""


def test_a_closed_viewer_is_freed_before_the_next_one_draws():
    # (MUJOCO_GL left out: nothing here draws on the server, and EGL's software renderer in a fresh
    # process slowed this machine's browser view to a stall, which is the bench's matter, not this test's)
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    proc = subprocess.run(
        [sys.executable, "-c", ONE_AFTER_ANOTHER], capture_output=True, text=True, timeout=900, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # ImGui's own "[imgui-error] ... font atlas is not built" lines may come from Studio at a viewer's first
    # frame, the first view of the process included (CI saw them before "view 0 closed"): Studio's, not
    # one view's leftovers; what this test guards is that every view closes, in order, with no crash
    closed = [line for line in proc.stdout.splitlines() if not line.startswith("[")]
    assert closed == [f"view {view} closed" for view in range(4)], proc.stdout[-3000:]
