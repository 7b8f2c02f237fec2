"""GPU paths (make test-gpu): CUDA graph replay and NVIDIA EGL. Skipped where there is no CUDA device."""

import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig

pytestmark = pytest.mark.gpu


def test_cuda_graph_replay_matches_plain_launches():
    mjm = models.load("box_drop").model  # one body: no contact ordering that could differ run to run
    graph = engines.make("mjwarp", mjm, EngineConfig(nworld=64, device="cuda:0", ctrl="zero"))
    plain = engines.make(
        "mjwarp", mjm, EngineConfig(nworld=64, device="cuda:0", ctrl="zero", cuda_graph=False)
    )
    assert graph.uses_cuda_graph and not plain.uses_cuda_graph
    graph.step(600)
    plain.step(600)
    graph.sync()
    plain.sync()
    a, b = graph.get_world(63), plain.get_world(63)
    assert a.time == pytest.approx(b.time)
    np.testing.assert_allclose(a.qpos, b.qpos, atol=1e-4)
    assert a.qpos[2] < 0.06  # both landed: 600 steps did run through the graph


def test_egl_renders_on_the_nvidia_driver():
    from mjpod.render.gl import gl_info

    info = gl_info()
    assert "nvidia" in (info.vendor + info.renderer).lower(), info
    assert not info.software


def test_batch_render_graph_replay_draws_what_plain_launches_draw():
    from mjpod.render.batch import BatchRenderer

    mjm = models.load("box_drop").model
    frames = []
    for graph in (True, False):
        config = EngineConfig(nworld=16, device="cuda:0", ctrl="zero", cuda_graph=graph)
        with engines.make("mjwarp", mjm, config) as engine:
            renderer = BatchRenderer(engine, 0, 64, 64, worlds=(0, 15))
            renderer.render()  # the first call captures the graph
            engine.step(50)
            frames.append(renderer.render().astype(int))
    assert frames[0].std() > 5
    assert np.abs(frames[0] - frames[1]).mean() < 1.0


def test_nvenc_is_reported_honestly():
    from mjpod import video

    chosen = video.choose_encoder("auto")
    # H100/H200 have no NVENC: libx264 with the reason; GPUs with NVENC and the video capability: NVENC
    assert chosen.name in video.ENCODERS and chosen.reason
