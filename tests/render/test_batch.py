"""mujoco_warp's batch ray tracer on Warp's cpu device, held to the GL renderer's conventions."""

import numpy as np
import pytest

from mjpod import models, render
from mjpod.engines import EngineConfig, make
from mjpod.errors import SettingError
from mjpod.render.batch import BatchRenderer, BatchRenderError
from mjpod.render.gl import GLRenderer, gl_info


def box_mask(image: np.ndarray) -> np.ndarray:
    """The orange box: red well above blue."""
    rgb = image.astype(int)
    return (rgb[..., 0] - rgb[..., 2]) > 60


@pytest.fixture(scope="module")
def falling():
    lm = models.load("box_drop")
    engine = make("mjwarp", lm.model, EngineConfig(nworld=3, device="cpu", ctrl="zero"))
    engine.step(40)  # mid-fall: the box is off its starting place
    yield engine
    engine.close()


def test_batch_and_gl_draw_the_same_picture(falling):
    """The two kinds behind render.make: same shape and conventions, and each says what drew it."""
    batch, gl = (render.make(kind, falling, 0, 64, 96, worlds=(0, 2)) for kind in ("batch", "gl"))
    images, reference = batch.render(), gl.render()[1]
    gl.close()
    assert images.shape == (2, 64, 96, 3) and images.dtype == np.uint8
    assert batch.description == "mujoco_warp batch ray tracer on cpu" and gl.description == gl_info().renderer
    batch_box, gl_box = box_mask(images[1]), box_mask(reference)
    assert gl_box.sum() > 20 and batch_box.sum() > 20
    # the same camera and image orientation: the box lies in the same place, with the same size
    assert np.allclose(np.argwhere(batch_box).mean(0), np.argwhere(gl_box).mean(0), atol=1.5)
    assert batch_box.sum() == pytest.approx(gl_box.sum(), rel=0.25)


def test_each_tile_shows_its_own_world():
    """Three worlds in three poses, asked for out of order: tile k is world worlds[k], as GL draws it."""
    lm = models.load("pendulum")
    poses = np.array([[0.0, 0.0], [1.2, -0.6], [-1.0, 1.5]], np.float32)  # hanging, right, left
    with make("mjwarp", lm.model, EngineConfig(nworld=3, device="cpu", ctrl="zero")) as engine:
        engine.d.qpos.assign(poses)
        images = {}
        for kind in render.RENDERERS:  # both kinds hand back the worlds asked for, in that order
            renderer = render.make(kind, engine, 0, 96, 128, worlds=(2, 0, 1))
            images[kind] = renderer.render()
            renderer.close()
        with GLRenderer(engine.mjm, 96, 128) as gl:
            centres = {w: np.argwhere(box_mask(gl.render(engine.get_world(w), 0))).mean(0) for w in range(3)}
    for a, b in ((0, 1), (0, 2), (1, 2)):  # the poses are told apart, so a swapped tile would show
        assert np.linalg.norm(centres[a] - centres[b]) > 8
    for kind in render.RENDERERS:
        for image, world in zip(images[kind], (2, 0, 1), strict=True):
            assert np.allclose(np.argwhere(box_mask(image)).mean(0), centres[world], atol=2), kind


SKY = """<mujoco>
  <asset><texture type="skybox" builtin="gradient" rgb1=".3 .5 .7" rgb2="0 0 0" width="64" height="384"/></asset>
  <worldbody>
    <light pos="0 -1 3" dir="0 .3 -1"/>
    <camera name="level" pos="0 -2 0.3" xyaxes="1 0 0 0 0 1"/>
    <body><freejoint/><geom type="box" size=".2 .2 .2" rgba="1 .5 0 1"/></body>
  </worldbody>
</mujoco>"""


def test_batch_and_gl_agree_on_the_whole_picture_sky_included(tmp_path):
    """Block by block (coarse structure: sky gradient, box, shading) the two renderers match."""
    path = tmp_path / "sky.xml"
    path.write_text(SKY)
    lm = models.load(str(path))
    with make("mjwarp", lm.model, EngineConfig(device="cpu", ctrl="zero")) as engine:
        traced = BatchRenderer(engine, 0, 48, 64).render()[0]
        with GLRenderer(engine.mjm, 48, 64) as gl:
            reference = gl.render(engine.get_world(0), 0)

    def blocks(image: np.ndarray) -> np.ndarray:  # 4 x 4 blocks of 12 x 16 pixels, mean colour
        return image.astype(float).reshape(4, 12, 4, 16, 3).mean(axis=(1, 3))

    assert reference[:4].mean() > 30  # GL draws the sky here, not black
    assert np.abs(blocks(traced) - blocks(reference)).max() < 12


def test_frames_follow_the_simulation(falling):
    renderer = BatchRenderer(falling, 0, 64, 96)
    before = box_mask(renderer.render()[0])
    falling.step(30)
    after = box_mask(renderer.render()[0])
    assert np.argwhere(after).mean(0)[0] > np.argwhere(before).mean(0)[0] + 1  # it fell: lower in the image


def test_refuses_what_it_cannot_draw(falling):
    lm = models.load("box_drop")
    with (
        make("mjc", lm.model, EngineConfig()) as cpu_engine,
        pytest.raises(BatchRenderError, match="--renderer gl"),
    ):
        BatchRenderer(cpu_engine, 0, 64, 64)
    with pytest.raises(BatchRenderError, match=r"must lie in 0..2"):
        BatchRenderer(falling, 0, 64, 64, worlds=(3,))
    with pytest.raises(SettingError, match="renderer must be gl or batch, got 'vulkan'"):
        render.make("vulkan", falling, 0, 64, 64)
