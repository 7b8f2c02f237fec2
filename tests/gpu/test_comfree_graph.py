"""comfree on CUDA (make test-gpu): the step captured in a CUDA graph replays exactly like plain launches."""

import dataclasses

import numpy as np
import pytest

from mjpod import engines, models
from mjpod.engines import EngineConfig

pytestmark = pytest.mark.gpu


def test_comfree_cuda_graph_replay_matches_plain_launches():
    mjm = models.load("box_drop").model  # one body: no contact ordering that could differ run to run
    config = EngineConfig(nworld=64, device="cuda:0", ctrl="zero", comfree_stiffness=(0.1, 0.2, 0.4))
    graph = engines.make("comfree", mjm, config)
    plain = engines.make("comfree", mjm, dataclasses.replace(config, cuda_graph=False))
    assert graph.uses_cuda_graph and not plain.uses_cuda_graph
    graph.step(600)
    plain.step(600)
    graph.sync()
    plain.sync()
    for world in (0, 1, 2, 63):
        a, b = graph.get_world(world), plain.get_world(world)
        assert a.time == pytest.approx(b.time)
        np.testing.assert_allclose(a.qpos, b.qpos, atol=1e-4)
    assert graph.get_world(0).qpos[2] < 0.06  # landed: 600 steps did run through the graph
    depths = [0.05 - graph.get_world(w).qpos[2] for w in range(3)]
    assert depths[0] > depths[1] > depths[2]  # the gain vector reached the worlds inside the graph


def test_comfree_contact_bench_on_the_gpu_writes_both_engines(tmp_path):
    """The contact section at GPU sizes, small nstep: both engines produce figures, no overflow."""
    import json

    from tests.cli_runner import run_mjpod

    # fmt: off
    proc = run_mjpod("bench", "--out", str(tmp_path), "--only", "contact",
                     "--nworld", "1024", "--nstep", "50", "--device", "cuda:0", timeout=900)
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    rows = [r for r in data["results"] if r["section"] == "contact" and r["unit"] == "world-steps/s"]
    assert {(r["model"], r["engine"]) for r in rows} == {
        (m, e) for m in ("bin", "primitives") for e in ("mjwarp", "comfree")
    }
    assert not any("overflow" in w for w in data["warnings"]), data["warnings"]
