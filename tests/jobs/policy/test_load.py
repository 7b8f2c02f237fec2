"""Loading a policy: every form of the spec, and each way one can be wrong, refused before any engine
starts with a message naming the policy and the fix."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mjpod import models
from mjpod.jobs import policy as policies
from mjpod.jobs.policy import PolicyError

PENDULUM = models.load("pendulum").model  # nq = nv = nu = 2, no sensors

GOOD = """
import numpy as np

def policy(obs):
    return np.zeros((len(obs["qpos"]), 2))

def damp(obs):
    return -0.1 * obs["qvel"]

class Memory:
    device_arrays = True

    def __init__(self):
        self.seen = 0

    def reset(self):
        self.seen = 0

    def __call__(self, obs):
        self.seen += 1
        return obs["ctrl"]
"""


@pytest.fixture
def good(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "mine.py"


def test_each_form_of_the_spec_loads_the_callable_it_names(good):
    obs = {"qpos": np.ones((3, 2)), "qvel": np.ones((3, 2)), "ctrl": np.full((3, 2), 0.5)}
    by_path = policies.load(str(good), PENDULUM, 3)  # file.py alone: its `policy`
    assert by_path.call(obs).shape == (3, 2) and by_path.reset is None and by_path.about == "function"
    by_name = policies.load("mine.py:damp", PENDULUM, 3)  # relative to the current directory
    np.testing.assert_allclose(by_name.call(obs), -0.1)
    by_module = policies.load("mine:damp", PENDULUM, 3)  # a module on the path (the current directory)
    np.testing.assert_allclose(by_module.call(obs), -0.1)
    assert by_module.source.path == good.resolve() and by_module.source.module == "mine"
    stateful = policies.load(f"{good}:Memory", PENDULUM, 3)  # a class: made with no arguments
    assert stateful.about == "class Memory" and stateful.device_arrays
    stateful.call(obs)
    stateful.reset()
    assert stateful.call.seen == 0
    assert by_path.source.sha256 == hashlib.sha256(good.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("text", "spec", "said"),
    [
        (
            "import numpy_not_here\n",
            "bad.py",
            "could not be imported: ModuleNotFoundError: No module named 'numpy_not_here' (bad.py, line 1)",
        ),
        ("def policy(obs:\n", "bad.py", "could not be imported: SyntaxError"),
        (
            "def helper():\n    raise KeyError('gain')\nhelper()\n",
            "bad.py",
            "KeyError: 'gain' (bad.py, line 2)",
        ),
        ("def policy(obs):\n    pass\n", "bad.py:other", "has no 'other'; its callables: policy"),
        ("def policy(obs, gains):\n    pass\n", "bad.py", "must take one argument, obs"),
        ("def policy():\n    pass\n", "bad.py", "its signature is ()"),
        ("policy = 3\n", "bad.py", "is a int, not a function or a class"),
        ("class P:\n    pass\npolicy = P\n", "bad.py", "class P has no __call__(self, obs)"),
        (
            "class P:\n    def __init__(self, path):\n        pass\npolicy = P\n",
            "bad.py",
            "a policy class is made with no arguments",
        ),
        (
            "class P:\n    def reset(self, seed):\n        pass\n    def __call__(self, obs):\n        pass\npolicy = P\n",
            "bad.py",
            "reset() that takes no arguments",
        ),
    ],
)
def test_a_policy_that_cannot_run_is_refused_naming_it(tmp_path, monkeypatch, text, spec, said):
    (tmp_path / "bad.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError) as err:
        policies.load(spec, PENDULUM, 1)
    assert f"policy {spec!r}" in str(err.value) and said in str(err.value)


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("https://example.invalid/policy.onnx", "is a URL: policies are local files only"),
        ("missing.py:policy", "no file"),
        ("missing.onnx", "no file"),
        ("no_such_module_here:act", "no module 'no_such_module_here'"),
        ("policy", "not one of the forms"),
        ("mine.py:not-a-name", "is not a Python name"),
        ("", "empty policy spec"),
    ],
)
def test_a_spec_that_names_no_local_policy_is_refused(good, spec, said):
    with pytest.raises(PolicyError, match=None) as err:
        policies.load(spec, PENDULUM, 1)
    assert said in str(err.value)


def _onnx(path, inputs, outputs, nodes):
    import onnx
    from onnx import TensorProto, helper

    def info(name, shape, kind=TensorProto.FLOAT):
        return helper.make_tensor_value_info(name, kind, shape)

    graph = helper.make_graph(nodes, "g", [info(*i) for i in inputs], [info(*o) for o in outputs])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def test_an_onnx_policy_runs_with_its_inputs_named_for_observations(tmp_path):
    from onnx import helper

    nodes = [helper.make_node("Neg", ["qvel"], ["ctrl"])]
    path = _onnx(tmp_path / "neg.onnx", [("qvel", ["n", 2]), ("time", ["n"])], [("ctrl", ["n", 2])], nodes)
    loaded = policies.load(path, PENDULUM, 4)
    assert loaded.about.startswith("ONNX (qvel, time -> ctrl)")
    qvel = np.arange(8.0).reshape(4, 2)
    np.testing.assert_allclose(loaded.call({"qvel": qvel, "time": np.zeros(4)}), -qvel)


@pytest.mark.parametrize(
    ("inputs", "outputs", "said"),
    [
        (
            [("obs", ["n", 2])],
            [("ctrl", ["n", 2])],
            "ONNX input 'obs' is not an observation mjpod gives (qpos, qvel, ctrl, sensordata, time)",
        ),
        (
            [("qvel", ["n", 5])],
            [("ctrl", ["n", 2])],
            "ONNX input 'qvel' has shape (n, 5); this model and nworld 4 give qvel as (batch, 2)",
        ),
        ([("qvel", [3, 2])], [("ctrl", [3, 2])], "ONNX input 'qvel' has shape (3, 2)"),
        (
            [("qvel", ["n", 2])],
            [("ctrl", ["n", 3])],
            "ONNX output 'ctrl' has shape (n, 3); this model needs ctrl as (batch, 2) for its 2 actuator(s)",
        ),
        (
            [("qvel", ["n", 2])],
            [("torque", ["n", 2]), ("value", ["n", 1])],
            "outputs torque, value, none named ctrl",
        ),
    ],
)
def test_an_onnx_policy_that_does_not_fit_the_model_is_refused_before_the_first_step(
    tmp_path, inputs, outputs, said
):
    from onnx import helper, numpy_helper

    weights = np.ones((inputs[0][1][1], outputs[0][1][1]), np.float32)  # a linear map of the right widths
    nodes = [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(weights))]
    nodes += [helper.make_node("MatMul", [inputs[0][0], "w"], [o[0]]) for o in outputs]
    path = _onnx(tmp_path / "p.onnx", inputs, outputs, nodes)
    with pytest.raises(PolicyError) as err:
        policies.load(path, PENDULUM, 4)
    assert said in str(err.value), err.value


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    (tmp_path / "p.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(PolicyError, match="is not an ONNX model onnxruntime can run"):
        policies.load(str(tmp_path / "p.onnx"), PENDULUM, 1)


def test_policy_hz_is_checked_against_the_physics_rate():
    assert policies.steps_per_call(None, 0.002) == 1.0
    assert policies.steps_per_call(50.0, 0.002) == pytest.approx(10.0)
    for hz, said in [
        (1000.0, "faster than the physics (500 steps per second)"),
        (0.0, "positive"),
        (float("nan"), "positive"),
    ]:
        with pytest.raises(PolicyError, match=None) as err:
            policies.steps_per_call(hz, 0.002)
        assert said in str(err.value)


def test_with_a_policy_the_controls_default_to_its_action_alone():
    from mjpod.engines import EngineConfig

    assert policies.default_ctrl("p.py") == "hold" and policies.default_ctrl(None) == EngineConfig.ctrl
    assert policies.engine_config(EngineConfig(ctrl="noise")).noise_on_action
    assert not policies.engine_config(EngineConfig(ctrl="hold")).noise_on_action
    with pytest.raises(PolicyError, match="--ctrl zero would throw the policy's actions away"):
        policies.engine_config(EngineConfig(ctrl="zero"))
