"""The Franka Panda (Menagerie's mjx_panda, torque motors on its arm) held at a pose by a PD policy in
`mjpod rollout`'s loop, where zero torque lets the arm sag; the same controller exported to ONNX gives
the same actions; a stateful policy is reset at the episode's start."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mjpod import models
from mjpod.engines import EngineConfig
from mjpod.jobs import rollout
from mjpod.jobs.policy import load
from tests.jobs.policy import panda

HELD = 0.1  # rad: the PD law's steady-state error under gravity stays below this on every arm joint
SAGS = 0.3  # rad: with zero torque some joint falls at least this far in the same 2 s


@pytest.fixture(scope="module")
def setup(tmp_path_factory, panda_available):
    if not panda_available:
        pytest.skip("needs MENAGERIE_ROOT with franka_emika_panda (../shared/models)")
    folder = tmp_path_factory.mktemp("panda")
    model = panda.model_path(folder)
    return folder, model, panda.policy_file(folder)


def run(folder, model, policy, name, nworld=2):
    out = folder / name
    out.mkdir()
    settings = rollout.RolloutSettings(
        model=str(model), engine_config=EngineConfig(nworld=nworld, ctrl="hold"), duration=2.0, rate=25.0,
        policy=policy,
    )  # fmt: skip
    rollout.rollout(settings, out)
    meta = json.loads((out / rollout.META).read_text())
    shard = np.load(out / meta["shards"][0]["file"])
    return shard, meta


def test_a_pd_policy_holds_the_arm_where_zero_torque_lets_it_sag(setup):
    folder, model, policy = setup
    held, meta = run(folder, model, f"{policy}:pd", "pd")
    sagged, _ = run(folder, model, f"{policy}:zero", "zero")
    held_error = np.abs(held["qpos"][-1, :, : panda.ARM] - panda.TARGET).max()
    sag = np.abs(sagged["qpos"][-1, :, : panda.ARM] - panda.TARGET).max()
    assert held_error < HELD < SAGS < sag, (held_error, sag)
    assert meta["policy"]["calls"] == 400 and meta["ended"] == "completed"  # every 5 ms step of 2 s
    assert meta["policy"]["sha256"] and meta["policy"]["path"] == str(policy)


def test_the_onnx_export_gives_the_python_policys_actions(setup):
    folder, model, policy = setup
    python, _ = run(folder, model, f"{policy}:pd", "python")
    exported = panda.onnx_file(folder, nq=9, nv=9)
    onnx, meta = run(folder, model, str(exported), "onnx")
    assert meta["policy"]["kind"] == "onnx" and meta["policy"]["about"].startswith(
        "ONNX (qpos, qvel -> ctrl)"
    )
    np.testing.assert_allclose(
        onnx["ctrl"], python["ctrl"], rtol=1e-4, atol=1e-3
    )  # N·m, float32 against float64
    # and state by state: both policies given the same observations answer the same
    mjm = models.load(str(model)).model
    as_python, as_onnx = load(f"{policy}:pd", mjm, 2), load(str(exported), mjm, 2)
    for qpos, qvel in zip(python["qpos"], python["qvel"], strict=True):
        obs = {"qpos": qpos, "qvel": qvel}
        np.testing.assert_allclose(as_onnx.call(obs), as_python.call(obs), rtol=1e-5, atol=1e-4)


def test_a_stateful_policy_is_reset_at_the_episode_start(setup):
    """Counting raises when called in an episode it was not reset for exactly once."""
    folder, model, policy = setup
    held, meta = run(folder, model, f"{policy}:Counting", "stateful", nworld=1)
    assert meta["ended"] == "completed" and meta["policy"]["about"] == "class Counting"
    assert np.abs(held["qpos"][-1, 0, : panda.ARM] - panda.TARGET).max() < HELD
