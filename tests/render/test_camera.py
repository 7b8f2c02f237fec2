"""Cameras named the same way for both renderers; a free camera added to the model looks the same."""

import mujoco
import numpy as np
import pytest

from mjpod import models
from mjpod.render import camera
from mjpod.render.camera import CameraError, CameraSpec
from mjpod.render.gl import GLRenderer


@pytest.fixture(scope="module")
def box():
    return models.load("box_drop")


def test_names_ids_and_default(box):
    assert camera.resolve(box.model, CameraSpec("side")) == 0
    assert camera.resolve(box.model, CameraSpec("0")) == 0
    assert camera.resolve(box.model, CameraSpec()) == 0  # the model's first camera


def test_no_model_camera_means_a_free_camera_framing_the_model(tmp_path):
    path = tmp_path / "ball.xml"
    path.write_text('<mujoco><worldbody><geom size="1" pos="5 0 0"/></worldbody></mujoco>')
    mjm = mujoco.MjModel.from_xml_path(str(path))
    cam = camera.resolve(mjm, CameraSpec())
    assert isinstance(cam, mujoco.MjvCamera) and cam.lookat[0] == pytest.approx(mjm.stat.center[0])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (CameraSpec("top"), "unknown camera 'top'; the model's cameras: side"),
        (CameraSpec("3"), "camera id 3 out of range: the model has 1 camera"),
        (CameraSpec("side", azimuth=10), "only apply to the free camera"),
        (CameraSpec(distance=-1.0), "--distance must be positive"),
    ],
)
def test_bad_cameras_are_named(box, spec, message):
    with pytest.raises(CameraError, match=message):
        camera.resolve(box.model, spec)


def test_free_camera_overrides(box):
    cam = camera.resolve(box.model, CameraSpec(azimuth=30, elevation=-10, distance=3, lookat=(1, 2, 3)))
    assert (cam.azimuth, cam.elevation, cam.distance) == (30, -10, 3)
    assert list(cam.lookat) == [1, 2, 3]


def test_added_camera_sees_what_the_free_camera_sees(box):
    free = camera.resolve(box.model, CameraSpec(azimuth=30, elevation=-20, distance=2.5))
    mjm, cam_id = camera.with_model_camera(box.model, box.path, free)
    assert mjm.ncam == box.model.ncam + 1 and mjm.nq == box.model.nq
    mjd = mujoco.MjData(mjm)
    mujoco.mj_forward(mjm, mjd)
    with GLRenderer(mjm, 96, 128) as renderer:
        via_free = renderer.render(mjd, free).astype(int)
        via_model = renderer.render(mjd, cam_id).astype(int)
    assert via_free.std() > 5  # a real picture, not a blank
    assert np.abs(via_free - via_model).mean() < 0.5


def test_compiled_models_cannot_take_an_added_camera(box, tmp_path):
    path = tmp_path / "box.mjb"
    mujoco.mj_saveModel(box.model, str(path), None)
    with pytest.raises(CameraError, match="--renderer gl"):
        camera.with_model_camera(box.model, path, mujoco.MjvCamera())


THREE_CAMERAS = """<mujoco>
  <worldbody>
    <light pos="0 0 3" castshadow="false"/>
    <geom type="plane" size="1 1 .1" rgba=".3 .3 .3 1"/>
    <geom type="box" size=".3 .1 .05" pos="0 0 .05" rgba="1 .2 .2 1"/>
    <camera name="side" pos="0 -1.5 .3" xyaxes="1 0 0 0 .2 1"/>
    <camera name="end" pos="1.5 0 .3" xyaxes="0 1 0 -.2 0 1"/>
    <camera name="top" pos="0 0 2" xyaxes="1 0 0 0 1 0"/>
  </worldbody>
</mujoco>"""


def test_a_camera_chosen_by_name_or_id_is_that_camera():
    """With several cameras, a name or id must not fall back to camera 0 (the model's first)."""
    mjm = mujoco.MjModel.from_xml_string(THREE_CAMERAS)
    assert [camera.resolve(mjm, CameraSpec(name)) for name in ("side", "end", "top")] == [0, 1, 2]
    assert [camera.resolve(mjm, CameraSpec(str(i))) for i in (2, 1, 0)] == [2, 1, 0]
    assert camera.resolve(mjm, CameraSpec()) == 0
    mjd = mujoco.MjData(mjm)
    mujoco.mj_forward(mjm, mjd)
    with GLRenderer(mjm, 48, 64) as renderer:
        views = {name: renderer.render(mjd, name).astype(int) for name in ("side", "end")}  # MuJoCo's lookup
        for name in ("end", "top"):  # what record draws through: the camera resolve chose
            chosen = renderer.render(mjd, camera.resolve(mjm, CameraSpec(name)))
            assert np.array_equal(chosen, renderer.render(mjd, name)), name
    width = {name: ((v[..., 0] - v[..., 2]) > 40).any(axis=0).sum() for name, v in views.items()}
    assert width["side"] > 2 * width["end"] > 0, width  # the long red box broadside, then end-on
