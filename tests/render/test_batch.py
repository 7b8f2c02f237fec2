"""mujoco_warp's batch ray tracer on Warp's cpu device, held to the GL renderer's conventions."""

import numpy as np
import pytest

from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.render.batch import BatchRenderer, BatchRenderError
from mjpod.render.gl import GLRenderer


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
    renderer = BatchRenderer(falling, 0, 64, 96, worlds=(0, 2))
    images = renderer.render()
    assert images.shape == (2, 64, 96, 3) and images.dtype == np.uint8
    with GLRenderer(falling.mjm, 64, 96) as gl:
        reference = gl.render(falling.get_world(2), 0)
    batch_box, gl_box = box_mask(images[1]), box_mask(reference)
    assert gl_box.sum() > 20 and batch_box.sum() > 20
    # the same camera and image orientation: the box lies in the same place, with the same size
    assert np.allclose(np.argwhere(batch_box).mean(0), np.argwhere(gl_box).mean(0), atol=1.5)
    assert batch_box.sum() == pytest.approx(gl_box.sum(), rel=0.25)


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
