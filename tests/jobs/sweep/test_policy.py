"""A sweep over policies: a Python file and an ONNX export, three seeds each, run through the same
driver as `mjpod sweep --no-ray`; every job's sidecar names its policy by path and SHA-256, and a
policy that cannot run with a job's model stops the sweep before any job starts."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from mjpod.jobs.sweep import grid, runner, spec
from mjpod.jobs.sweep.store import Store
from tests.jobs.sweep import results

DAMP = "def policy(obs):\n    return -0.5 * obs['qvel']\n"
SPEC = """
[[grid]]
kind = ["rollout"]
model = ["pendulum"]
policy = ["policies/damp.py", "policies/neg.onnx"]
seed = [0, 1, 2]
[[grid]]
kind = ["record"]
model = ["pendulum"]
policy = ["policies/damp.py:policy"]
[settings]
ctrl = "noise"
duration = 0.2
width = 64
height = 64
fps = 20.0
"""


def neg_onnx(path, nv=2):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Neg", ["qvel"], ["ctrl"])], "neg",
        [helper.make_tensor_value_info("qvel", TensorProto.FLOAT, ["n", nv])],
        [helper.make_tensor_value_info("ctrl", TensorProto.FLOAT, ["n", nv])],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def write(tmp_path, text=SPEC):
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "damp.py").write_text(DAMP)
    neg_onnx(tmp_path / "policies" / "neg.onnx")
    (tmp_path / "s.toml").write_text(text)
    return tmp_path / "s.toml"


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.ffmpeg
def test_two_policies_and_three_seeds_run_and_each_sidecar_names_its_policy(tmp_path):
    planned = grid.expand(spec.load(write(tmp_path)))
    assert len(planned) == 7 and len({j.id for j in planned}) == 7
    damp, neg = (tmp_path / "policies" / "damp.py").resolve(), (tmp_path / "policies" / "neg.onnx").resolve()
    assert {j.params["policy"] for j in planned} == {
        f"{damp}:policy",
        str(neg),
    }  # absolute: every worker reads it
    assert all(j.params["ctrl"] == "noise" for j in planned)
    out = tmp_path / "out"
    outcome = runner.run(planned, Store(out), runner.LoopBackend(), runner.Events())
    assert [r["status"] for r in outcome.records] == ["done"] * 7, [r.get("error") for r in outcome.records]
    rows = results.table(out)
    finals = {}
    for row in rows:
        folder = out / "jobs" / row["id"]
        sidecar = json.loads(
            (folder / ("rollout.json" if row["kind"] == "rollout" else "video.json")).read_text()
        )
        named = sidecar["policy"]
        path = damp if named["kind"] == "python" else neg
        assert named["path"] == str(path) and named["sha256"] == sha(path) == row["policy_sha256"]
        assert sidecar["ended"] == "completed" and named["noise_on_top"]
        if row["kind"] == "rollout":
            qpos = np.load(folder / "rollout-00000.npz")["qpos"]
            finals[(named["kind"], row["seed"])] = qpos[-1]
    assert len(finals) == 6
    for kind in ("python", "onnx"):  # the noise on top follows the seed
        assert not np.array_equal(finals[(kind, "0")], finals[(kind, "1")])


def test_editing_a_policy_makes_new_jobs(tmp_path):
    before = {j.id for j in grid.expand(spec.load(write(tmp_path)))}
    (tmp_path / "policies" / "damp.py").write_text(DAMP.replace("0.5", "0.6"))
    after = {j.id for j in grid.expand(spec.load(tmp_path / "s.toml"))}
    assert len(before & after) == 3  # the ONNX jobs only


def test_a_worker_that_sees_another_file_fails_the_job_saying_so(tmp_path):
    planned = [j for j in grid.expand(spec.load(write(tmp_path))) if j.kind == "record"]
    (tmp_path / "policies" / "damp.py").write_text(DAMP.replace("0.5", "0.7"))
    outcome = runner.run(planned, Store(tmp_path / "out"), runner.LoopBackend(), runner.Events())
    assert outcome.records[0]["status"] == "failed"
    assert "is not the file the sweep was planned with" in outcome.records[0]["error"]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            ("policies/damp.py", "policies/missing.py"),
            "policy 'policies/missing.py' with model 'pendulum': policy 'policies/missing.py': no file",
        ),
        (("policies/neg.onnx", "policies/wide.onnx"), "ONNX input 'qvel' has shape (n, 5)"),
        (('ctrl = "noise"', 'ctrl = "zero"'), "--ctrl zero would throw the policy's actions away"),
        (('policies/damp.py", ', 'https://example.invalid/p.py", '), "policies are local files only"),
    ],
)
def test_a_policy_that_cannot_run_stops_the_sweep_before_any_job(tmp_path, change, said):
    path = write(tmp_path, SPEC.replace(*change))
    neg_onnx(tmp_path / "policies" / "wide.onnx", nv=5)
    with pytest.raises(spec.SpecError) as err:
        grid.expand(spec.load(path))
    assert "s.toml: policy" in str(err.value) and said in str(err.value), err.value


def test_the_policy_keys_are_read_by_scene_jobs_only(tmp_path):
    bench = '[grid]\nkind = ["bench"]\nmodel = ["pendulum"]\npolicy = ["policies/damp.py"]\n'
    with pytest.raises(spec.SpecError, match=r"grid\.policy is read by record, rollout jobs only"):
        grid.expand(spec.load(write(tmp_path, bench)))


def test_a_rate_without_a_policy_is_refused(tmp_path):
    text = '[grid]\nkind = ["rollout"]\nmodel = ["pendulum"]\n[settings]\npolicy_hz = 50.0\n'
    with pytest.raises(spec.SpecError, match="policy_hz is set but no policy: give policy too, or remove it"):
        grid.expand(spec.load(write(tmp_path, text)))
