"""A policy on CUDA (make test-gpu): the device path hands the engine's own CUDA buffers over and takes
a CUDA array back (no host round trip) with the host path's physics; a CUDA tensor from PyTorch when
it is installed; and mujoco_warp's deterministic mode repeats a run with noise on top bit for bit."""

import importlib.util

import numpy as np
import pytest

from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.jobs import policy as policies

pytestmark = pytest.mark.gpu

POLICIES = """
import numpy as np
import warp as wp

@wp.kernel
def _damp(qvel: wp.array2d(dtype=float), ctrl: wp.array2d(dtype=float)):
    w, j = wp.tid()
    ctrl[w, j] = -0.3 * qvel[w, j]

def damp(obs):
    return -0.3 * obs["qvel"]

def damp_on_device(obs):
    ctrl = wp.empty_like(obs["qvel"])
    wp.launch(_damp, dim=ctrl.shape, inputs=[obs["qvel"], ctrl], device=ctrl.device)
    return ctrl
damp_on_device.device_arrays = True

def damp_torch(obs):
    import torch
    return -0.3 * torch.from_dlpack(obs["qvel"])
damp_torch.device_arrays = True
"""


def run(folder, name, steps=200, nworld=64, **config):
    mjm = models.load("pendulum").model
    loaded = policies.load(f"{folder}/p.py:{name}", mjm, nworld, "cuda:0")
    settings = policies.engine_config(EngineConfig(nworld=nworld, device="cuda:0", **config))
    with policies.drive(make("mjwarp", mjm, settings), loaded) as engine:
        if name != "damp":
            obs = engine.observation()
            assert obs["qpos"].device.is_cuda
        engine.step(steps)
        return engine.observe()["qpos"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpu-policies")
    (path / "p.py").write_text(POLICIES)
    return path


def test_the_device_path_on_cuda_gives_the_host_paths_physics(folder):
    np.testing.assert_allclose(
        run(folder, "damp_on_device", ctrl="hold"), run(folder, "damp", ctrl="hold"), atol=1e-5
    )


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch with CUDA")
def test_a_pytorch_policy_on_the_same_gpu(folder):
    np.testing.assert_allclose(
        run(folder, "damp_torch", ctrl="hold"), run(folder, "damp", ctrl="hold"), atol=1e-5
    )


def test_deterministic_mode_repeats_a_cuda_run_bit_for_bit(folder):
    first = run(folder, "damp", ctrl="noise", seed=3, deterministic=True)
    np.testing.assert_array_equal(first, run(folder, "damp", ctrl="noise", seed=3, deterministic=True))
