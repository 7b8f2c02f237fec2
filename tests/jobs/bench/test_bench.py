"""`mjpod bench` end to end (quick): the JSON has every field, positive figures and the real GL renderer."""

import importlib.util
import json

import pytest

from mjpod.jobs.bench import policy as bench_policy
from mjpod.jobs.bench.sections import SECTIONS
from mjpod.jobs.bench.types import BenchConfig, nworld_sweep
from mjpod.render.gl import gl_info
from tests import nvidia_smi
from tests.cli_runner import run_mjpod

HAS_TORCH = importlib.util.find_spec("torch") is not None
ROW_FIELDS = {"section", "model", "value", "unit", "count", "seconds"}


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory, panda_available):
    out = tmp_path_factory.mktemp("bench")
    # fmt: off
    proc = run_mjpod("bench", "--quick", "--out", str(out), "--model", "box_drop", "--model", "pendulum",
                     "--nworld", "1", "--nworld", "2", "--nstep", "20", "--seconds", "0.2",
                     "--skip", "contact", timeout=900)  # the contact section has its own test
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = sorted(out.iterdir())
    data = json.loads(next(f for f in files if f.suffix == ".json").read_text())
    return proc, files, data


def test_writes_json_plot_and_transcript(bench_run):
    _, files, _ = bench_run
    suffixes = {f.suffix for f in files}
    assert suffixes == {".json", ".png", ".txt"}
    png = next(f for f in files if f.suffix == ".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_json_has_every_field_and_positive_figures(bench_run, panda_available):
    _, _, data = bench_run
    for key in ("mjpod_version", "created", "config", "host", "gl", "warp_device", "warnings", "results"):
        assert key in data
    assert data["host"]["versions"]["mujoco"] and data["host"]["cpu_count"] >= 1
    rows = data["results"]
    for row in rows:
        assert row.keys() >= ROW_FIELDS
        assert row["value"] > 0 and row["count"] > 0 and row["seconds"] > 0, row
    physics = [r for r in rows if r["section"] == "physics"]
    combos = {(r["model"], r["engine"], r["nworld"]) for r in physics}
    engines = ("mjc", "mjwarp", "comfree")
    assert combos == {(m, e, n) for m in ("box_drop", "pendulum") for e in engines for n in (1, 2)}
    assert all(r["unit"] == "world-steps/s" and r["device"] == "cpu" for r in physics)
    assert all(r["nconmax"] > 0 and r["njmax"] > 0 for r in physics if r["engine"] != "mjc")
    assert not any("overflow" in w for w in data["warnings"])
    renders = {(r["model"], r["width"], r["height"]) for r in rows if r["section"] == "render"}
    assert renders == {(m, w, h) for m in ("box_drop", "pendulum") for w, h in ((320, 240), (640, 480))}
    policy = {
        (r["engine"], r["nworld"], r["note"].partition(":")[0]) for r in rows if r["section"] == "policy"
    }
    variants = ["none", "trivial", "onnx-mlp"] + (["torch-mlp dlpack"] if HAS_TORCH else [])
    assert policy == {(e, n, v) for e in engines for n in (1, 2) for v in variants}  # on pendulum: it acts
    assert {r["model"] for r in rows if r["section"] == "policy"} == {"pendulum"}
    seeds = [r for r in rows if r["section"] == "seed"]
    if panda_available:
        assert seeds[0]["model"] == "franka_emika_panda/mjx_scene" and seeds[0]["unit"] == "frames/s"
        assert (seeds[0]["width"], seeds[0]["height"]) == (320, 240)


@pytest.mark.ffmpeg
def test_video_sections_measure_encoder_recording_and_batch_beside_gl(bench_run):
    _, _, data = bench_run
    rows = data["results"]
    encode = {(r["width"], r["height"], r["note"]) for r in rows if r["section"] == "encode"}
    writers = ("libx264 mediapy", "libx264 imageio-ffmpeg pipe")  # after and before the switch to mediapy
    assert {(w, h, note) for w, h in ((640, 480), (1280, 720)) for note in writers} <= encode
    records = {(r["engine"], r["note"].split()[0]) for r in rows if r["section"] == "record"}
    assert records == {("mjc", "gl"), ("mjwarp", "batch")}
    assert all(r["model"] == "box_drop" and r["unit"] == "frames/s" for r in rows if r["section"] == "record")
    batch = [r for r in rows if r["section"] == "batch"]
    traced = {
        (r["model"], r["nworld"], r["width"], r["height"]) for r in batch if r.get("engine") == "mjwarp"
    }
    sizes = ((64, 64), (320, 240), (128, 128))  # the rollout section measures render-only at 128x128
    assert traced == {(m, n, w, h) for m in ("box_drop", "pendulum") for n in (1, 2) for w, h in sizes}
    assert all(
        r["unit"] == "world-frames/s" and r["count"] % r["nworld"] == 0 for r in batch if "nworld" in r
    )
    gl = {(r["model"], r["width"], r["height"]) for r in batch if "engine" not in r}
    assert gl == {(m, w, h) for m in ("box_drop", "pendulum") for w, h in sizes[:2]}


def test_a_rollout_with_cameras_is_measured_beside_render_only(bench_run):
    """Physics + RGB-D of every world + shards, at 64x64 and 128x128, beside the batch section's figure
    for the same model, size and nworld, and their ratio."""
    _, _, data = bench_run
    rows = data["results"]
    key = lambda r: (r["model"], r["nworld"], r["width"], r["height"])  # noqa: E731
    alone = {key(r): r for r in rows if r["section"] == "batch" and r.get("engine") == "mjwarp"}
    full = {key(r): r for r in rows if r["section"] == "rollout" and r["unit"] == "world-frames/s"}
    ratio = {key(r): r for r in rows if r["section"] == "rollout" and r["unit"] == "x render-only"}
    cells = {(m, n, w, w) for m in ("box_drop", "pendulum") for n in (1, 2) for w in (64, 128)}
    assert set(full) == set(ratio) == cells
    for cell in cells:
        assert full[cell]["count"] % cell[1] == 0 and full[cell]["device"] == "cpu"
        assert ratio[cell]["value"] == pytest.approx(full[cell]["value"] / alone[cell]["value"])
    assert not [w for w in data["warnings"] if w.startswith("rollout")]


def test_reports_the_gl_renderer_this_machine_really_used(bench_run):
    proc, _, data = bench_run
    real = gl_info()
    assert data["gl"]["renderer"] == real.renderer
    assert data["gl"]["software"] == real.software
    assert real.renderer in proc.stdout  # said before measuring


def test_on_a_cpu_the_memory_rows_are_absent_saying_why(bench_run):
    proc, _, data = bench_run
    why = "memory (device memory is measured on a CUDA GPU; Warp runs on cpu here)"
    assert why in data["skipped"] and f"skipped: {why}" in " ".join(proc.stdout.split())
    assert not [r for r in data["results"] if r["section"] == "memory"]
    assert data["gpu"] is None and data["gl"]["egl_device"] == 0  # no GPU here; Mesa's EGL device drew


def test_world_steps_are_counted_like_testspeed(bench_run):
    _, _, data = bench_run
    for r in data["results"]:
        if r["section"] == "physics":
            assert r["count"] % r["nworld"] == 0  # nworld x steps
            assert r["value"] == pytest.approx(r["count"] / r["seconds"])


def test_bad_section_and_engine_are_refused():
    proc = run_mjpod("bench", "--skip", "gl")
    assert proc.returncode == 2 and "unknown section(s) to skip: gl" in proc.stderr
    proc = run_mjpod("bench", "--engine", "mjx")
    assert proc.returncode == 2 and "unknown engine(s): mjx" in proc.stderr


@pytest.fixture(scope="module")
def nvidia_box_run(tmp_path_factory, has_cuda):
    """A plain (not --quick) bench of GL rendering and MuJoCo C physics with a fake `nvidia-smi` on PATH:
    this box then looks like an NVIDIA host that renders with Mesa, as a container without the graphics
    capability does."""
    if has_cuda:
        pytest.skip("this box has a working GPU; the fake nvidia-smi stands for a misconfigured one")
    out = tmp_path_factory.mktemp("bench-nvidia")
    skip = [a for s in SECTIONS if s not in ("render", "physics") for a in ("--skip", s)]
    # fmt: off
    proc = run_mjpod("bench", "--out", str(out / "results"), "--model", "pendulum", "--engine", "mjc",
                     "--nstep", "20", "--seconds", "0.05", *skip, **nvidia_smi.on_path(out / "bin"))
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(next((out / "results").glob("*.json")).read_text())


def test_software_gl_on_an_nvidia_box_is_a_loud_warning(nvidia_box_run):
    proc, data = nvidia_box_run
    said = " ".join(proc.stdout.split())  # the console wraps long lines
    assert "GPU: NVIDIA H100 80GB HBM3, driver 580.65.06, 81559 MiB" in said
    assert "WARNING: rendering falls back to a SOFTWARE renderer (llvmpipe" in said
    assert any("SOFTWARE renderer" in w and "NVIDIA H100" in w for w in data["warnings"])
    assert data["gl"]["software"] and data["host"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"


def test_the_default_nworld_sweep_on_a_cpu_is_1_8_32(nvidia_box_run):
    """The README's promise for a run without --nworld or --quick: 1, 8 and 32 worlds on a CPU."""
    _, data = nvidia_box_run
    physics = [r["nworld"] for r in data["results"] if r["section"] == "physics"]
    assert physics == [1, 8, 32]


def test_the_default_nworld_sweep_suits_each_engine_and_device():
    config = BenchConfig()
    assert nworld_sweep(config, "mjwarp", "cpu") == (1, 8, 32)
    assert nworld_sweep(config, "comfree", "cuda:0") == (1, 64, 512, 1024, 4096, 8192)  # 1…8192 on a GPU
    assert nworld_sweep(config, "mjc", "cuda:0") == (1, 8, 32)  # MuJoCo C runs on the CPU
    assert nworld_sweep(BenchConfig.quick_run(), "mjwarp", "cuda:0") == (1, 4)
    assert nworld_sweep(BenchConfig(nworld=(3, 5)), "mjwarp", "cuda:0") == (3, 5)
    assert bench_policy._nworlds(config, "mjwarp", "cuda:0") == (1, 8, 32, 1024, 8192)  # the sizes
    assert (
        bench_policy._nworlds(config, "mjc", "cuda:0")
        == bench_policy._nworlds(config, "comfree", "cpu")
        == (1, 8, 32)
    )


def test_each_section_is_measured_by_the_run_of_the_module_of_its_name():
    assert list(SECTIONS) == [
        "seed", "render", "memory", "physics", "contact", "policy", "stream", "encode", "record", "batch",
        "rollout",
    ]  # fmt: skip
    for name, section in SECTIONS.items():
        assert (section.__module__, section.__name__) == (f"mjpod.jobs.bench.{name}", "run")
