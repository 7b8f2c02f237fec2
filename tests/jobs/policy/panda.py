"""The Franka Panda with torque motors on its seven arm joints (made from Menagerie's mjx_panda with
MjSpec, never copied into the repo), a target pose, and a PD controller for it in three forms: a
Python function, a stateful class, and the same law as an ONNX graph built with the onnx package."""

from __future__ import annotations

import os
from pathlib import Path

import mujoco
import numpy as np

# A pose that gravity pulls on: the upper arm leaning forward, the elbow bent, the hand out.
TARGET = np.array([0.0, 0.4, 0.0, -1.9, 0.0, 2.2, 0.8])
KP = np.array([600.0, 600.0, 600.0, 600.0, 150.0, 150.0, 50.0])
KD = np.array([50.0, 50.0, 50.0, 50.0, 10.0, 10.0, 4.0])
TORQUE = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])  # the Panda's joint torque limits
ARM = 7

POLICY_FILE = f'''"""A PD controller holding the Panda's arm at a pose: torque = KP (target - q) - KD q'."""
import numpy as np

TARGET = np.array({TARGET.tolist()})
KP = np.array({KP.tolist()})
KD = np.array({KD.tolist()})


def pd(obs):
    return KP * (TARGET - obs["qpos"][:, :7]) - KD * obs["qvel"][:, :7]


def zero(obs):
    return np.zeros((len(obs["qpos"]), 7))


class Counting:
    """Stateful: counts its calls since the last reset(), and each reset()."""

    def __init__(self):
        self.resets, self.calls = 0, 0

    def reset(self):
        self.resets += 1
        self.calls = 0

    def __call__(self, obs):
        if self.resets != 1:
            raise RuntimeError(f"an episode is running after {{self.resets}} reset() calls")
        self.calls += 1
        return pd(obs)
'''


def model_path(folder: Path) -> Path:
    """The torque-controlled Panda as an MJCF file in `folder` (meshes read from MENAGERIE_ROOT)."""
    root = Path(os.environ["MENAGERIE_ROOT"]) / "franka_emika_panda"
    spec = mujoco.MjSpec.from_file(str(root / "mjx_scene.xml"))
    spec.meshdir = str(root / "assets")
    for actuator in list(spec.actuators):
        spec.delete(actuator)
    for i in range(ARM):
        motor = spec.add_actuator(name=f"torque{i + 1}", target=f"joint{i + 1}")
        motor.trntype = mujoco.mjtTrn.mjTRN_JOINT
        motor.ctrlrange = [-TORQUE[i], TORQUE[i]]
        motor.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    spec.add_key(name="target", qpos=[*TARGET, 0.04, 0.04], ctrl=np.zeros(ARM))
    path = folder / "panda_torque.xml"
    path.write_text(spec.to_xml())
    return path


def policy_file(folder: Path) -> Path:
    path = folder / "panda_pd.py"
    path.write_text(POLICY_FILE)
    return path


def onnx_file(folder: Path, nq: int, nv: int) -> Path:
    """The PD law as ONNX: ctrl = qpos A + qvel B + c, float32, batch symbolic."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    select_q, select_v = np.zeros((nq, ARM), np.float32), np.zeros((nv, ARM), np.float32)
    select_q[:ARM] = np.diag(-KP)
    select_v[:ARM] = np.diag(-KD)
    bias = (KP * TARGET).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["qpos", "A"], ["pq"]),
            helper.make_node("MatMul", ["qvel", "B"], ["pv"]),
            helper.make_node("Add", ["pq", "pv"], ["s"]),
            helper.make_node("Add", ["s", "c"], ["ctrl"]),
        ],
        "panda_pd",
        [
            helper.make_tensor_value_info("qpos", TensorProto.FLOAT, ["batch", nq]),
            helper.make_tensor_value_info("qvel", TensorProto.FLOAT, ["batch", nv]),
        ],
        [helper.make_tensor_value_info("ctrl", TensorProto.FLOAT, ["batch", ARM])],
        [
            numpy_helper.from_array(select_q, "A"),
            numpy_helper.from_array(select_v, "B"),
            numpy_helper.from_array(bias, "c"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = folder / "panda_pd.onnx"
    onnx.save(model, str(path))
    return path
