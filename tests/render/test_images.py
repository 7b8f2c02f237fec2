"""Camera data for learning, from both renderers (batch on Warp's cpu device, GL on Mesa), held to the
conventions of render/images.py: planar depth in metres, (id, type) segmentation, several cameras,
each world its own images, and intrinsics and extrinsics that back-project depth onto the scene."""

import mujoco
import numpy as np
import pytest

from mjpod import models, render
from mjpod.engines import EngineConfig, make
from mjpod.render import images
from mjpod.render.images import ImageSpec
from tests import camera_scene

HEIGHT, WIDTH = 48, 64
ALL = ("rgb", "depth", "segmentation")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    lm = models.load(str(camera_scene.write(tmp_path_factory.mktemp("scene"))))
    with make("mjwarp", lm.model, EngineConfig(nworld=3, device="cpu", ctrl="zero")) as engine:
        yield engine


def draw(engine, kind: str, cameras=(0, 1), kinds=ALL) -> dict[str, np.ndarray]:
    spec = ImageSpec(tuple(cameras), kinds, HEIGHT, WIDTH)
    out = {name: np.zeros(shape, dtype) for name, (shape, dtype) in spec.arrays(engine.nworld).items()}
    renderer = render.make_images(kind, engine, spec)
    renderer.render_into(out)
    renderer.close()
    return out


@pytest.fixture(scope="module")
def drawn(scene):
    """Every world from both cameras, by each renderer, with every world at its initial state."""
    return {kind: draw(scene, kind) for kind in render.RENDERERS}


def face_pixels(K: np.ndarray, distance: float, half: float, centre: tuple[float, float]) -> np.ndarray:
    """Pixels whose centres see a square face (half-width `half`, centred at `centre` in the camera's
    x right / y up plane) `distance` m away, one pixel in from its edges: (H, W) bool."""
    rows, cols = np.indices((HEIGHT, WIDTH))
    x = (cols - K[0, 2]) / K[0, 0] * distance  # OpenCV: x right, y down
    y = -(rows - K[1, 2]) / K[1, 1] * distance
    margin = distance / K[0, 0]  # one pixel at that distance
    return (np.abs(x - centre[0]) < half - margin) & (np.abs(y - centre[1]) < half - margin)


@pytest.mark.parametrize("kind", render.RENDERERS)
def test_depth_is_the_distance_along_the_optical_axis(scene, drawn, kind):
    """The box's near face is 0.9 m in front of `front`: every pixel of it says 0.9 (planar depth: the
    face is square to the axis, so the ray length, longer off-centre, would not), within a pixel of
    where the intrinsics put it; nothing above the horizon is NO_HIT."""
    depth = drawn[kind]["depth"][0, 0]
    assert depth.dtype == np.float32 and depth.shape == (HEIGHT, WIDTH)
    K = images.intrinsics(scene.mjm, 0, HEIGHT, WIDTH)
    face = face_pixels(K, camera_scene.BOX_DISTANCE, 0.1, (0.0, 0.0))
    assert face.sum() > 60
    np.testing.assert_allclose(depth[face], camera_scene.BOX_DISTANCE, atol=1e-4)
    around = ~face_pixels(K, camera_scene.BOX_DISTANCE, 0.1 + 2 * 0.9 / K[0, 0], (0.0, 0.0))
    assert not np.any(np.isclose(depth[around], camera_scene.BOX_DISTANCE, atol=1e-3))  # the face ends there
    assert np.all(depth[: HEIGHT // 2 - 8] == images.NO_HIT)  # the sky: nothing hit
    top = drawn[kind]["depth"][0, 1]  # looking down: the box's top 1.7 m away, the floor 2 m
    K_top = images.intrinsics(scene.mjm, 1, HEIGHT, WIDTH)
    np.testing.assert_allclose(
        top[face_pixels(K_top, 1.7, 0.1, (0.0, 0.0))], camera_scene.TOP_DISTANCE, atol=1e-4
    )
    np.testing.assert_allclose(top[0, 0], 2.0, atol=1e-4)


@pytest.mark.parametrize("kind", render.RENDERERS)
def test_segmentation_labels_the_box_with_its_geom_id(scene, drawn, kind):
    seg = drawn[kind]["segmentation"][0, 0]
    assert seg.dtype == np.int32 and seg.shape == (HEIGHT, WIDTH, 2)
    box = mujoco.mj_name2id(scene.mjm, mujoco.mjtObj.mjOBJ_GEOM, "box")
    floor = mujoco.mj_name2id(scene.mjm, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    face = face_pixels(images.intrinsics(scene.mjm, 0, HEIGHT, WIDTH), camera_scene.BOX_DISTANCE, 0.1, (0, 0))
    geom = int(mujoco.mjtObj.mjOBJ_GEOM)
    assert images.object_types()[geom] == "geom"
    assert np.all(seg[face] == (box, geom))
    assert np.all(seg[: HEIGHT // 2 - 8] == images.BACKGROUND)  # the sky
    assert np.all(seg[-1] == (floor, geom))  # the bottom row: the floor in front of the box
    # the labels are where the colours are: every box pixel is orange
    rgb = drawn[kind]["rgb"][0, 0].astype(int)
    labelled = np.all(seg == (box, geom), axis=-1)
    assert np.all(rgb[labelled][:, 0] - rgb[labelled][:, 2] > 60)


def test_the_two_renderers_agree_pixel_for_pixel(drawn):
    """Same cameras, same conventions: GL and the ray tracer give the same depth and labels (edge
    pixels aside) and close colours."""
    gl, batch = drawn["gl"], drawn["batch"]
    same_label = np.all(gl["segmentation"] == batch["segmentation"], axis=-1)
    assert same_label.mean() > 0.98
    np.testing.assert_allclose(gl["depth"][same_label], batch["depth"][same_label], atol=1e-3)
    assert np.abs(gl["rgb"].astype(int) - batch["rgb"]).mean() < 8
    np.testing.assert_allclose(gl["cam_xpos"], batch["cam_xpos"], atol=1e-6)
    np.testing.assert_allclose(gl["cam_xmat"], batch["cam_xmat"], atol=1e-6)


@pytest.mark.parametrize("kind", render.RENDERERS)
def test_two_cameras_give_two_pictures_and_their_poses(scene, drawn, kind):
    out = drawn[kind]
    assert out["rgb"].shape == (3, 2, HEIGHT, WIDTH, 3)
    assert np.abs(out["rgb"][0, 0].astype(int) - out["rgb"][0, 1]).mean() > 20  # not one picture twice
    assert not np.allclose(out["depth"][0, 0], out["depth"][0, 1])
    mjd = mujoco.MjData(scene.mjm)
    mujoco.mj_forward(scene.mjm, mjd)
    for w in range(3):
        np.testing.assert_allclose(out["cam_xpos"][w], mjd.cam_xpos, atol=1e-6)
        np.testing.assert_allclose(out["cam_xmat"][w], mjd.cam_xmat.reshape(-1, 3, 3), atol=1e-6)


@pytest.mark.parametrize("kind", render.RENDERERS)
def test_depth_back_projects_onto_the_box(scene, drawn, kind):
    """docs/sweep.md's back-projection: K, cam_xpos and cam_xmat put every box pixel of either camera
    on the box's surface in world coordinates."""
    out = drawn[kind]
    box = mujoco.mj_name2id(scene.mjm, mujoco.mjtObj.mjOBJ_GEOM, "box")
    faces = [(1, -0.1, (0.0, 0.2)), (2, 0.3, (0.0, 0.0))]  # front sees y = -0.1, top sees z = 0.3
    for c, (axis, value, centre) in enumerate(faces):
        K = images.intrinsics(scene.mjm, c, HEIGHT, WIDTH)
        depth = out["depth"][0, c]
        rows, cols = np.indices(depth.shape)
        x = (cols - K[0, 2]) * depth / K[0, 0]
        y = (rows - K[1, 2]) * depth / K[1, 1]
        in_camera = np.stack([x, -y, -depth], axis=-1)  # MuJoCo's camera frame: y up, looking along -z
        world = out["cam_xpos"][0, c] + in_camera @ out["cam_xmat"][0, c].T
        on_box = np.all(out["segmentation"][0, c] == (box, int(mujoco.mjtObj.mjOBJ_GEOM)), axis=-1)
        assert on_box.sum() > 30
        points = world[on_box]
        np.testing.assert_allclose(points[:, axis], value, atol=2e-3)
        across = np.delete(points, axis, axis=1)  # the face's two other coordinates: centred on it
        np.testing.assert_allclose(across.mean(axis=0), centre, atol=1e-3)
        assert np.all(np.abs(across - centre) <= 0.1 + 2e-3)  # within the box's sides


@pytest.mark.parametrize("kind", render.RENDERERS)
def test_a_moved_world_shows_it_in_its_own_images_only(scene, drawn, kind):
    """World 1's box moves 0.3 m to the side: world 1's images change, worlds 0 and 2 stay as they were."""
    qpos = scene.d.qpos.numpy()
    moved = qpos.copy()
    moved[1, 0] += 0.3
    scene.d.qpos.assign(moved)
    try:
        out = draw(scene, kind)
    finally:
        scene.d.qpos.assign(qpos)
    before = drawn[kind]
    for name in ALL:
        for w in (0, 2):
            np.testing.assert_array_equal(out[name][w], before[name][w], err_msg=f"{name} world {w}")
        assert not np.array_equal(out[name][1], before[name][1]), name
    np.testing.assert_array_equal(out["cam_xpos"], before["cam_xpos"])  # the cameras stay fixed
