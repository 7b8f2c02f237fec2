"""A policy in the loop of a real engine: called at its rate with every world's state, its action held
in between (noise on top when asked), reset() at each episode start, every answer checked, the device
path through DLPack, and the same trajectories from the same seed and policy."""

from __future__ import annotations

import importlib.util

import mujoco
import numpy as np
import pytest

from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.jobs import policy as policies
from mjpod.jobs.policy import Controlled, PolicyFailed

PENDULUM = models.load("pendulum").model  # timestep 0.002, nq = nv = nu = 2
HAS_TORCH = importlib.util.find_spec("torch") is not None

POLICIES = """
import mujoco
import numpy as np

class Recorder:
    def __init__(self):
        self.times, self.resets, self.actions = [], 0, []

    def reset(self):
        self.resets += 1

    def __call__(self, obs):
        assert set(obs) >= {"qpos", "qvel", "ctrl", "sensordata", "time"}
        self.times.append(obs["time"].copy())
        action = np.tile([0.3, -0.2], (len(obs["qpos"]), 1)) * (1 + len(self.times) % 3)
        self.actions.append(action)
        return action

def damp(obs):
    return -0.3 * obs["qvel"]

def damp_on_device(obs):
    import warp as wp
    return wp.from_dlpack(-0.3 * np.from_dlpack(obs["qvel"]))  # a device array back, never a host one
damp_on_device.device_arrays = True

def damp_torch(obs):
    import torch
    return -0.3 * torch.from_dlpack(obs["qvel"])
damp_torch.device_arrays = True

def torch_double(obs):
    import torch
    return torch.from_dlpack(obs["qvel"]).double()
torch_double.device_arrays = True

def wide(obs):
    return np.zeros((len(obs["qpos"]), 3))

def flat(obs):
    return np.zeros(2)

def integers(obs):
    return np.zeros((len(obs["qpos"]), 2), dtype=np.int64)

def nan_in_world_1(obs):
    out = np.zeros((len(obs["qpos"]), 2))
    out[1, 0] = np.nan
    return out

def nothing(obs):
    return None

def text(obs):
    return "forward"

def raises(obs):
    if obs["time"][0] > 0.01:
        return {}["gain"]
    return np.zeros((len(obs["qpos"]), 2))

def nan_on_device(obs):
    import warp as wp
    return wp.from_dlpack(np.full_like(np.from_dlpack(obs["qvel"]), np.nan))
nan_on_device.device_arrays = True
"""

RAISING_LINE = POLICIES.splitlines().index('        return {}["gain"]') + 1


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("policies")
    (path / "pol.py").write_text(POLICIES)
    return path


def controlled(folder, name, engine="mjc", nworld=3, hz=None, ctrl="hold", **config) -> Controlled:
    loaded = policies.load(f"{folder}/pol.py:{name}", PENDULUM, nworld)
    settings = policies.engine_config(EngineConfig(nworld=nworld, device="cpu", ctrl=ctrl, **config))
    return Controlled(make(engine, PENDULUM, settings), loaded, hz)


def test_the_policy_is_called_at_its_rate_and_its_action_held_between_calls(folder):
    run = controlled(folder, "Recorder", hz=50.0)  # every 10 physics steps of 2 ms
    run.step(95)
    recorder = run.policy.call
    assert run.calls == 10 and recorder.resets == 1
    np.testing.assert_allclose([t[0] for t in recorder.times], np.arange(10) * 0.02, atol=1e-12)
    assert all(t.shape == (3,) for t in recorder.times)
    np.testing.assert_array_equal(run.observe()["ctrl"], recorder.actions[-1])  # held since the last call
    assert run.record()["calls"] == 10 and run.record()["hz"] == 50.0


def test_reset_is_called_at_each_episode_start(folder):
    run = controlled(folder, "Recorder", hz=100.0)
    run.step(30)
    run.reset()  # a new episode: the worlds back at the keyframe, the policy told
    recorder = run.policy.call
    assert recorder.resets == 2
    np.testing.assert_allclose(run.observe()["qpos"], np.tile(PENDULUM.key_qpos[0], (3, 1)))
    run.step(1)
    assert (
        recorder.times[-1][0] == 0.0 and run.calls == 7
    )  # 6 calls in 30 steps, then the new episode's first


@pytest.mark.parametrize("engine", ["mjc", "mjwarp"])
def test_noise_is_added_on_top_of_the_action_and_hold_keeps_it_exact(folder, engine):
    held = controlled(folder, "Recorder", engine=engine, hz=50.0)
    held.step(5)
    action = held.policy.call.actions[-1]
    np.testing.assert_allclose(held.observe()["ctrl"], action, rtol=1e-6)
    noisy = controlled(folder, "Recorder", engine=engine, hz=50.0, ctrl="noise")
    noisy.step(5)
    offset = noisy.observe()["ctrl"] - noisy.policy.call.actions[-1]
    assert np.all(offset != 0) and np.all(np.abs(offset) < 0.05)  # the engine's small noise, per world


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("wide", "returned ctrl of shape (3, 3); expected ctrl as a float array of shape (3, 2), finite"),
        ("flat", "returned ctrl of shape (2,); expected"),  # (nu,) only with one world
        ("integers", "returned ctrl of dtype int64"),
        ("nan_in_world_1", "returned 1 NaN or infinite control(s) (world(s) [1])"),
        ("nothing", "returned None"),
        ("text", "returned ctrl of shape ()"),
        ("raises", f"at step 10 (t = 0.02 s) raised KeyError: 'gain' (pol.py, line {RAISING_LINE})"),
    ],
)
def test_a_bad_answer_stops_the_run_naming_the_policy_the_step_and_what_was_expected(folder, name, said):
    run = controlled(folder, name, hz=100.0)
    with pytest.raises(PolicyFailed) as err:
        run.step(50)
    message = str(err.value)
    assert message.startswith(f"policy '{folder}/pol.py:{name}' at step ") and said in message, message
    assert err.value.exit_code == 1


def test_one_world_takes_a_flat_action(folder):
    run = controlled(folder, "flat", nworld=1)
    run.step(3)
    assert run.calls == 3


def trajectory(folder, name, engine, steps=40, **kw) -> np.ndarray:
    run = controlled(folder, name, engine=engine, **kw)
    states = []
    for _ in range(steps):
        run.step(1)
        states.append(run.observe()["qpos"].copy())
    return np.stack(states)


def test_the_device_path_hands_over_device_arrays_and_gives_the_host_paths_trajectory(folder):
    """On Warp's cpu device the buffers are Warp arrays read through DLPack, with no host copy; the
    answer is a Warp array copied on the device. The physics is the host path's, bit for bit."""
    run = controlled(folder, "damp_on_device", engine="mjwarp")
    obs = run.observation()
    assert type(obs["qpos"]).__name__ == "array" and not isinstance(obs["qpos"], np.ndarray)
    assert obs["qpos"].device.alias == "cpu" and obs["time"].shape == (3,)
    host = trajectory(folder, "damp", "mjwarp")
    device = trajectory(folder, "damp_on_device", "mjwarp")
    np.testing.assert_array_equal(device, host)
    assert np.abs(host[-1] - host[0]).max() > 1e-3  # it moved


def test_a_bad_device_answer_is_stopped_too(folder):
    with pytest.raises(PolicyFailed, match=r"returned ctrl holds 6 NaN or infinite value\(s\)"):
        controlled(folder, "nan_on_device", engine="mjwarp").step(2)


@pytest.mark.skipif(not HAS_TORCH, reason="needs torch (pip install torch: the PyTorch example's path)")
@pytest.mark.parametrize("engine", ["mjc", "mjwarp"])
def test_a_pytorch_policy_reads_and_answers_through_dlpack(folder, engine):
    np.testing.assert_allclose(
        trajectory(folder, "damp_torch", engine), trajectory(folder, "damp", engine), rtol=1e-6, atol=1e-7
    )
    if engine == "mjwarp":
        with pytest.raises(PolicyFailed, match="dtype float64: return float32"):
            controlled(folder, "torch_double", engine=engine).step(1)


@pytest.mark.parametrize("engine", ["mjc", "mjwarp"])
def test_the_same_seed_and_policy_give_the_same_trajectories(folder, engine):
    """With noise on top, so the seed matters: same seed, same bits; another seed, another run."""
    first = trajectory(folder, "damp", engine, ctrl="noise", seed=7)
    again = trajectory(folder, "damp", engine, ctrl="noise", seed=7)
    other = trajectory(folder, "damp", engine, ctrl="noise", seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_mujoco_warps_deterministic_mode_runs_and_repeats(folder):
    first = trajectory(folder, "damp", "mjwarp", steps=10, deterministic=True)
    np.testing.assert_array_equal(first, trajectory(folder, "damp", "mjwarp", steps=10, deterministic=True))
    engine = controlled(folder, "damp", engine="mjwarp", deterministic=True).inner
    assert engine.m.opt.deterministic == 7  # mujoco_warp's DeterminismType.ALL


@pytest.mark.parametrize("engine", ["mjc", "mjwarp"])
def test_a_world_the_browser_steers_keeps_its_controls_over_the_policys(folder, engine):
    """serve --web-control with --policy: the steering reaches the engine inside, a held world keeps the
    browser's controls while the others take the policy's, and resetting that world gives it back."""
    run = controlled(folder, "damp", engine=engine, ctrl="noise", noise_on_action=True)
    run.step(5)
    run.hold_ctrl(1, np.array([0.25, -0.5]))
    run.apply_force(2, np.zeros((PENDULUM.nbody, 6)))
    run.step(5)
    ctrl = run.observe()["ctrl"]
    np.testing.assert_allclose(ctrl[1], [0.25, -0.5], atol=1e-6)
    assert not np.allclose(ctrl[0], [0.25, -0.5])
    run.reset_world(1)
    run.step(5)
    assert not np.allclose(run.observe()["ctrl"][1], [0.25, -0.5])
    assert run.copy_world(1, mujoco.MjData(PENDULUM)).time == pytest.approx(5 * PENDULUM.opt.timestep)
