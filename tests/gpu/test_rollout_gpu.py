"""A rollout with cameras on CUDA (make test-gpu): forward and the batch renderer replayed from CUDA
graphs, every image kind copied from the device straight into the shard, as plain launches give them."""

import numpy as np
import pytest

from mjpod.engines import EngineConfig
from mjpod.jobs import rollout
from tests import camera_scene
from tests.jobs.test_rollout import load_all

pytestmark = pytest.mark.gpu


def test_a_batch_rollout_replays_its_graphs_as_plain_launches_draw(tmp_path):
    path = camera_scene.write(tmp_path)
    data = {}
    for graph in (True, False):
        folder = tmp_path / f"graph-{graph}"
        folder.mkdir()
        config = EngineConfig(nworld=64, device="cuda:0", seed=1, cuda_graph=graph)
        settings = rollout.RolloutSettings(
            model=str(path), engine="mjwarp", engine_config=config, duration=0.2, rate=50.0,
            renderer="batch", cameras=("front", "top"), images=("rgb", "depth", "segmentation"),
            width=64, height=48,
        )  # fmt: skip
        rollout.rollout(settings, folder)
        data[graph] = load_all(folder)
    graphed, plain = data[True], data[False]
    assert graphed["depth"].shape == (11, 64, 2, 48, 64)
    np.testing.assert_allclose(graphed["qpos"], plain["qpos"], atol=1e-4)
    # sensors computed at each sample's state, by the forward pass replayed from its graph
    np.testing.assert_allclose(graphed["sensordata"], graphed["qpos"][..., :3], atol=1e-4)
    same = np.all(graphed["segmentation"] == plain["segmentation"], axis=-1)
    assert same.mean() > 0.99
    np.testing.assert_allclose(graphed["depth"][same], plain["depth"][same], atol=1e-3)
    np.testing.assert_allclose(graphed["depth"][0, :, 0, 24, 32], camera_scene.BOX_DISTANCE, atol=1e-4)
    assert not np.array_equal(graphed["depth"][-1, 0], graphed["depth"][-1, 1])  # each world its own
