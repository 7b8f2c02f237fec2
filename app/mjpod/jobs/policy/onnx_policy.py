"""A policy exported to ONNX, run with onnxruntime: its inputs are observations by name, its output
the controls, and both are checked against the model before the first step.

Inputs are named for the observation they take (`qpos`, `qvel`, `ctrl`, `sensordata` as (batch, n);
`time` as (batch,) or (batch, 1)); the batch dimension is symbolic or nworld. The output is the one
named `ctrl` (or the only one), (batch, nu). Float inputs of 16, 32 or 64 bits are fed as such.
onnxruntime runs on its CPU provider, and on its CUDA provider when the engine runs on CUDA and the
installed onnxruntime has it (onnxruntime-gpu); no other provider (none that reaches a network).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from mjpod.jobs.policy.source import Policy, PolicyError, PolicySource

TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}
EXPORT_HINT = "name the inputs for the observations they take, e.g. torch.onnx.export(..., input_names=['qpos', 'qvel'], output_names=['ctrl'], dynamic_axes=...)"


def widths(mjm: mujoco.MjModel) -> dict[str, int]:
    """The observations an ONNX input may take, and the width of each per world."""
    return {"qpos": mjm.nq, "qvel": mjm.nv, "ctrl": mjm.nu, "sensordata": mjm.nsensordata, "time": 1}


def load(source: PolicySource, mjm: mujoco.MjModel, nworld: int, device: str | None = None) -> Policy:
    """An onnxruntime session on the file, its inputs and output checked against `mjm` and `nworld`."""
    import onnxruntime as ort

    providers: list[Any] = ["CPUExecutionProvider"]
    if device and device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        index = int(device.partition(":")[2] or 0)
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the checks below say what is wrong
    try:
        session = ort.InferenceSession(str(source.path), options, providers=providers)
    except Exception as err:  # onnxruntime raises its own exception types (InvalidGraph, Fail, ...)
        raise PolicyError(f"policy {source.spec!r} is not an ONNX model onnxruntime can run: {err}") from None
    feeds = _inputs(source, session, widths(mjm), nworld)
    output = _output(source, session, mjm.nu, nworld)

    def call(obs: Any) -> np.ndarray:
        feed = {}
        for name, dtype, rank in feeds:
            value = np.ascontiguousarray(obs[name], dtype)
            feed[name] = value.reshape(len(value), -1) if rank == 2 else value.reshape(-1)
        return session.run([output], feed)[0]

    inputs = ", ".join(name for name, *_ in feeds)
    return Policy(source, call, None, False, f"ONNX ({inputs} -> {output}) on {session.get_providers()[0]}")


def _batch_ok(dim: object, nworld: int) -> bool:
    return not isinstance(dim, int) or dim in (nworld, -1)


def _inputs(
    source: PolicySource, session: Any, width: dict[str, int], nworld: int
) -> list[tuple[str, type, int]]:
    """(name, dtype, rank) of each input, each checked against the observation it takes."""
    feeds = []
    for node in session.get_inputs():
        if node.name not in width:
            raise PolicyError(
                f"policy {source.spec!r}: ONNX input {node.name!r} is not an observation mjpod gives "
                f"({', '.join(width)}): {EXPORT_HINT}"
            )
        if node.type not in TYPES:
            raise PolicyError(
                f"policy {source.spec!r}: ONNX input {node.name!r} is {node.type}; mjpod feeds float, "
                "double or float16 observations: export it with float inputs"
            )
        shape, n = list(node.shape), width[node.name]
        ranks = (1, 2) if node.name == "time" else (2,)
        good = len(shape) in ranks and _batch_ok(shape[0], nworld)
        good = good and (len(shape) == 1 or not isinstance(shape[1], int) or shape[1] == n)
        expected = "(batch,) or (batch, 1)" if node.name == "time" else f"(batch, {n})"
        if not good:
            raise PolicyError(
                f"policy {source.spec!r}: ONNX input {node.name!r} has shape {_shape(shape)}; this model "
                f"and nworld {nworld} give {node.name} as {expected}, batch = nworld or symbolic"
            )
        feeds.append((node.name, TYPES[node.type], len(shape)))
    if not feeds:
        raise PolicyError(f"policy {source.spec!r}: the ONNX model has no inputs: {EXPORT_HINT}")
    return feeds


def _output(source: PolicySource, session: Any, nu: int, nworld: int) -> str:
    outputs = session.get_outputs()
    names = [o.name for o in outputs]
    chosen = [o for o in outputs if o.name == "ctrl"] or (outputs if len(outputs) == 1 else [])
    if not chosen:
        raise PolicyError(
            f"policy {source.spec!r}: the ONNX model has outputs {', '.join(names)}, none named ctrl: "
            "name the controls' output ctrl (output_names=['ctrl'])"
        )
    node = chosen[0]
    shape = list(node.shape)
    if len(shape) != 2 or not _batch_ok(shape[0], nworld) or (isinstance(shape[1], int) and shape[1] != nu):
        raise PolicyError(
            f"policy {source.spec!r}: ONNX output {node.name!r} has shape {_shape(shape)}; this model "
            f"needs ctrl as (batch, {nu}) for its {nu} actuator(s), batch = nworld {nworld} or symbolic"
        )
    if node.type not in TYPES:
        raise PolicyError(
            f"policy {source.spec!r}: ONNX output {node.name!r} is {node.type}; ctrl must be float"
        )
    return node.name


def _shape(shape: list) -> str:
    return (
        "("
        + ", ".join(str(d) if d is not None else "?" for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )
