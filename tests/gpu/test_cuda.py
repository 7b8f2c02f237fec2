"""GPU paths (make test-gpu): CUDA graph replay and NVIDIA EGL. Skipped where there is no CUDA device."""

import os

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


# Data-centre GPUs without NVENC units (NVIDIA's Video Encode and Decode support matrix).
NO_NVENC = ("H100", "H200", "A100")


@pytest.mark.ffmpeg
def test_nvenc_is_reported_honestly():
    from mjpod import video
    from mjpod.host import sysinfo

    chosen = video.choose_encoder("auto")
    gpu = sysinfo.nvidia_gpus()[0].name
    if any(model in gpu for model in NO_NVENC):  # no NVENC on this chip: libx264, saying why
        assert chosen.name == "libx264" and chosen.reason.startswith("no NVENC here (trial encode: "), chosen
        return
    caps = os.environ.get("NVIDIA_DRIVER_CAPABILITIES")  # unset: not in a container, all capabilities
    if caps is None or {"video", "all"} & {c.strip() for c in caps.split(",")}:
        assert (chosen.name, chosen.reason) == ("h264_nvenc", "NVENC trial encode succeeded"), (gpu, chosen)
    else:
        assert chosen.name == "libx264", (gpu, caps, chosen)


def test_batch_section_sets_testspeed_render_beside_the_batch_renderer_at_8192_worlds(tmp_path):
    """The issue's target is read from this run: batch world-frames/s over testspeed's, same run."""
    import json

    from tests.cli_runner import run_mjpod

    # fmt: off
    proc = run_mjpod("bench", "--out", str(tmp_path), "--only", "batch", "--model", "bin", "--nworld", "8192",
                     "--size", "64x64", "--nstep", "50", "--device", "cuda:0", timeout=900)
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    rows = [r for r in data["results"] if r["section"] == "batch" and r.get("nworld") == 8192]
    figures = {r["engine"]: r for r in rows if r["unit"] == "world-frames/s" and r["width"] == 64}
    assert set(figures) == {"mjwarp", "mjwarp-testspeed"}, data["warnings"]
    ratio = next(r for r in rows if r["unit"] == "x mjwarp-testspeed")
    assert ratio["value"] == pytest.approx(figures["mjwarp"]["value"] / figures["mjwarp-testspeed"]["value"])
