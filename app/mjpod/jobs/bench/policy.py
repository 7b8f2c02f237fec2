"""Bench section `policy`: what a policy in the loop costs, per engine and nworld, as world-steps/s.

Four rows for each engine and nworld (1, 8, 32; 1024 and 8192 more on CUDA): the engine alone with
its controls held (`none`), a trivial Python policy that answers zeros every step (`trivial`: the
cost of the call itself: every world's state to the host, the call, the checks, the controls back),
a small MLP exported to ONNX run by onnxruntime on the host arrays (`onnx-mlp`), and the same MLP in
PyTorch on the engine's own device arrays through DLPack (`torch-mlp dlpack`, when torch is
installed: it is not in the image). The policy acts before every physics step.
"""

from __future__ import annotations

import importlib.util
import itertools
import tempfile
from pathlib import Path

import mujoco
import numpy as np
from rich.progress import Progress

from mjpod import models
from mjpod.engines import make
from mjpod.jobs import policy as policies
from mjpod.jobs.bench import measure
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row

NWORLD = (1, 8, 32)
NWORLD_CUDA = (1024, 8192)  # more, for the Warp engines on CUDA
NWORLD_QUICK = (1, 8)
HIDDEN = 64  # the MLP: [qpos, qvel] -> 64 tanh -> 64 tanh -> nu
FALLBACK_MODEL = "pendulum"  # when no model of the run has actuators
POLICIES = """
import numpy as np

WEIGHTS = dict(np.load({weights!r}))


def trivial(obs):
    return np.zeros((len(obs["qpos"]), {nu}))


class TorchMLP:
    device_arrays = True

    def __init__(self):
        self.layers = None

    def __call__(self, obs):
        import torch  # here, not above: the other policies of this file run without torch

        qpos, qvel = torch.from_dlpack(obs["qpos"]), torch.from_dlpack(obs["qvel"])
        if self.layers is None:
            self.layers = [torch.from_numpy(WEIGHTS[k]).to(qpos.device) for k in ("w1", "w2", "w3", "b1", "b2", "b3")]
        w1, w2, w3, b1, b2, b3 = self.layers
        x = torch.cat([qpos, qvel], dim=1).to(w1.dtype)  # mjc observes float64, the Warp engines float32
        return torch.tanh(torch.tanh(x @ w1 + b1) @ w2 + b2) @ w3 + b3
"""


def weights(mjm: mujoco.MjModel) -> dict[str, np.ndarray]:
    """The MLP's float32 weights, fixed by a seed: w1..w3 (in, out) and b1..b3."""
    rng = np.random.default_rng(0)
    sizes = [mjm.nq + mjm.nv, HIDDEN, HIDDEN, mjm.nu]
    out = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        out[f"w{i}"] = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        out[f"b{i}"] = np.zeros(n_out, np.float32)
    return out


def onnx_mlp(path: Path, w: dict[str, np.ndarray], nq: int, nv: int, nu: int) -> Path:
    """The MLP as ONNX: inputs qpos and qvel, output ctrl, batch symbolic."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Concat", ["qpos", "qvel"], ["x"], axis=1),
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "w2", "b2"], ["h2"]),
        helper.make_node("Tanh", ["h2"], ["a2"]),
        helper.make_node("Gemm", ["a2", "w3", "b3"], ["ctrl"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [
            helper.make_tensor_value_info("qpos", TensorProto.FLOAT, ["batch", nq]),
            helper.make_tensor_value_info("qvel", TensorProto.FLOAT, ["batch", nv]),
        ],
        [helper.make_tensor_value_info("ctrl", TensorProto.FLOAT, ["batch", nu])],
        [numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _nworlds(config: BenchConfig, engine: str, device: str | None) -> tuple[int, ...]:
    if config.nworld:
        return config.nworld
    if config.quick:
        return NWORLD_QUICK
    cuda = engine != "mjc" and bool(device and device.startswith("cuda"))
    return NWORLD + NWORLD_CUDA if cuda else NWORLD


def run(
    config: BenchConfig, result: BenchResult, loaded: list[models.LoadedModel], progress: Progress
) -> None:
    """Append the rows for each engine and nworld; one failed case is a warning, the rest go on."""
    lm = next((m for m in loaded if m.model.nu), None) or models.load(FALLBACK_MODEL)
    mjm = lm.model
    with tempfile.TemporaryDirectory(prefix="mjpod-bench-policy-") as tmp:
        folder = Path(tmp)
        w = weights(mjm)
        np.savez(folder / "weights.npz", **w)
        (folder / "policies.py").write_text(POLICIES.format(weights=str(folder / "weights.npz"), nu=mjm.nu))
        onnx_path = onnx_mlp(folder / "mlp.onnx", w, mjm.nq, mjm.nv, mjm.nu)
        variants = {
            "none": None,
            "trivial": f"{folder}/policies.py:trivial",
            "onnx-mlp": str(onnx_path),
            "torch-mlp dlpack": f"{folder}/policies.py:TorchMLP",
        }
        if importlib.util.find_spec("torch") is None:
            del variants["torch-mlp dlpack"]
            result.warnings.append("policy: no torch here, so no DLPack row (pip install torch adds it)")
        plan = [
            (e, n, v)
            for e in config.engines
            for n in _nworlds(config, e, result.warp_device)
            for v in variants
        ]
        task = progress.add_task("policy", total=len(plan))
        for engine_name, nworld, variant in plan:
            progress.update(task, description=f"policy {lm.name} {engine_name} nworld={nworld} {variant}")
            row = _timed(config, result, lm.name, mjm, engine_name, nworld, variant, variants[variant])
            if row is not None:
                result.add(row)
            progress.advance(task)


def _timed(
    config: BenchConfig,
    result: BenchResult,
    model: str,
    mjm: mujoco.MjModel,
    engine_name: str,
    nworld: int,
    variant: str,
    spec: str | None,
) -> Row | None:
    where = f"policy: {variant} on {engine_name} {model} nworld={nworld}"
    try:
        engine_config = config.engine_settings(nworld=nworld, ctrl="hold")
        policy = None
        if spec is not None:
            policy = policies.load(spec, mjm, nworld, engine_config.device)
        with make(engine_name, mjm, engine_config) as engine:
            driven = policies.drive(engine, policy)
            steps, secs = measure.physics(driven, config.nstep, config.seconds)
            device = engine.device
    except Exception as err:  # a missing library, memory: say so and go on
        result.warnings.append(f"{where} failed: {err}")
        return None
    note = variant if policy is None else f"{variant}: {policy.about}"
    return Row("policy", model, steps / secs, "world-steps/s", steps, secs, engine=engine_name,
               device=device, nworld=nworld, note=note)  # fmt: skip
