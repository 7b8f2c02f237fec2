"""Each figure beside its target: the ratios are read from the right rows of one result, the verdicts
follow the targets (within 5%, at least 2x, within 10%), and a claim without figures says so."""

from __future__ import annotations

import pytest

from mjpod.host.sysinfo import Gpu, Host
from mjpod.jobs.bench import targets
from mjpod.jobs.bench.types import SEED_MODEL, BenchConfig, BenchResult, Row

PANDA = SEED_MODEL


def result(rows: list[Row]) -> BenchResult:
    host = Host(gpus=(Gpu("NVIDIA H100 80GB HBM3", "580", 81559),), cpu_count=16)
    return BenchResult(BenchConfig(), host=host, gl=None, warp_device="cuda:0", rows=rows)


def physics(model: str, nworld: int, engine: str, value: float, section: str = "physics") -> Row:
    return Row(
        section,
        model,
        value,
        "world-steps/s",
        nworld * 300,
        1.0,
        engine=engine,
        device="cuda:0",
        nworld=nworld,
    )


def batch(engine: str, value: float, nworld: int = 8192, width: int = 64) -> Row:
    return Row(
        "batch",
        "bin",
        value,
        "world-frames/s",
        nworld,
        1.0,
        engine=engine,
        nworld=nworld,
        width=width,
        height=width,
    )


def by_claim(verdicts: list[targets.Verdict]) -> dict[str, list[targets.Verdict]]:
    out: dict[str, list[targets.Verdict]] = {}
    for v in verdicts:
        out.setdefault(v.claim, []).append(v)
    return out


def test_mjwarp_is_read_against_testspeed_of_the_same_model_and_nworld():
    rows = [
        physics(PANDA, 1024, "mjwarp", 970.0),
        physics(PANDA, 1024, "mjwarp-testspeed", 1000.0, section="testspeed"),
        physics("bin", 1024, "mjwarp-testspeed", 10.0, section="testspeed"),  # another model: not a pair
        physics(PANDA, 8192, "mjwarp", 900.0),
        physics(PANDA, 8192, "mjwarp-testspeed", 1000.0, section="testspeed"),
        physics(PANDA, 4096, "mjwarp", 5.0),  # no testspeed figure at 4096: no verdict
    ]
    found = by_claim(targets.read(result(rows)))["mjwarp vs mjwarp-testspeed"]
    assert [(v.model, v.nworld, v.verdict) for v in found] == [(PANDA, 1024, "met"), (PANDA, 8192, "MISSED")]
    assert found[0].figure.startswith("0.970x (970 vs 1,000 world-steps/s)")


@pytest.mark.parametrize(("comfree", "verdict"), [(2.5, "met"), (2.0, "met"), (1.5, "MISSED")])
def test_comfree_needs_twice_mjwarp_on_the_settled_pile(comfree, verdict):
    rows = [
        physics("bin", 4096, "mjwarp", 100.0, section="contact"),
        physics("bin", 4096, "comfree", 100.0 * comfree, section="contact"),
        Row("contact", "bin", comfree, "x mjwarp", 1, 1.0, engine="comfree", nworld=4096),  # a ratio row
    ]
    found = by_claim(targets.read(result(rows)))["comfree vs mjwarp, settled pile"]
    assert [(v.nworld, v.verdict) for v in found] == [(4096, verdict)]


def test_batch_render_is_read_at_64x64_against_testspeed_render():
    rows = [
        batch("mjwarp", 95.0),
        batch("mjwarp-testspeed", 100.0),
        batch("mjwarp", 1.0, width=320),  # another size: not the claim
        Row("batch", "bin", 3000.0, "frames/s", 10, 1.0, width=64, height=64, note="GL"),
    ]
    found = by_claim(targets.read(result(rows)))["batch render 64x64 vs testspeed --function=render"]
    assert [(v.nworld, v.verdict) for v in found] == [(8192, "met")]
    rows[1] = batch("mjwarp-testspeed", 120.0)  # 95/120 = 0.79: more than 10% short
    found = by_claim(targets.read(result(rows)))["batch render 64x64 vs testspeed --function=render"]
    assert found[0].verdict == "MISSED"


def test_the_browser_view_may_slow_the_simulation_by_5_percent_at_most():
    def stream(model: str, browsers: int, value: float) -> Row:
        unit = f"steps/s, browser view, {browsers} browser{'s' if browsers != 1 else ''}"
        return Row("stream", model, value, unit, int(value), 1.0, engine="mjc", device="cpu")

    rows = [
        stream("bin", 0, 1000.0),
        stream("bin", 1, 960.0),
        stream(PANDA, 0, 500.0),
        stream(PANDA, 1, 450.0),
    ]
    found = by_claim(targets.read(result(rows)))["browser view: 1 browser vs none"]
    assert [(v.model, v.verdict) for v in found] == [("bin", "met"), (PANDA, "MISSED")]
    assert found[0].figure == "0.960x (960 vs 1,000 steps/s, browser view, 1 browser)"


def test_gl_figures_are_reported_and_a_claim_without_figures_says_not_measured():
    rows = [
        Row("seed", PANDA, 61.0, "frames/s", 183, 3.0, width=320, height=240, note="GL"),
        Row("render", PANDA, 90.0, "frames/s", 270, 3.0, width=320, height=240, note="GL"),
        Row("render", PANDA, 50.0, "frames/s", 150, 3.0, width=640, height=480, note="GL"),  # not 320x240
    ]
    found = by_claim(targets.read(result(rows)))
    assert [v.figure for v in found["seed loop (mj_step + render)"]] == ["61.0 frames/s at 320x240"]
    assert [v.figure for v in found["render only (GL)"]] == ["90.0 frames/s at 320x240"]
    assert all(v.verdict == "reported" for v in found["render only (GL)"])
    for claim in ("mjwarp vs mjwarp-testspeed", "comfree vs mjwarp, settled pile"):
        assert [v.verdict for v in found[claim]] == ["not measured"]


def test_markdown_names_the_hardware_and_puts_each_figure_on_a_line():
    res = result(
        [physics("bin", 1024, "mjwarp", 96.0), physics("bin", 1024, "mjwarp-testspeed", 100.0, "testspeed")]
    )
    res.warnings.append("contact: comfree on bin nworld=8192 failed: out of memory")
    text = targets.markdown(res)
    assert text.startswith("# mjpod bench: figures beside their targets on NVIDIA H100 80GB HBM3")
    assert "| mjwarp vs mjwarp-testspeed | bin | 1024 | cuda:0 | 0.960x (96 vs 100 world-steps/s) |" in text
    assert "| >= 0.95 (within 5%) | met |" in text
    assert "- contact: comfree on bin nworld=8192 failed: out of memory" in text


def rollout_rows(full: float, device: str, nworld: int = 8192, width: int = 64) -> list[Row]:
    alone = Row("batch", "bin", 100.0, "world-frames/s", nworld, 1.0, engine="mjwarp", device=device,
                nworld=nworld, width=width, height=width)  # fmt: skip
    rollout = Row("rollout", "bin", full, "world-frames/s", nworld, 1.0, engine="mjwarp", device=device,
                  nworld=nworld, width=width, height=width)  # fmt: skip
    ratio = Row("rollout", "bin", full / 100.0, "x render-only", nworld, 1.0, engine="mjwarp", device=device,
                nworld=nworld, width=width, height=width)  # fmt: skip
    return [alone, rollout, ratio]


@pytest.mark.parametrize(("full", "verdict"), [(85.0, "met"), (80.0, "met"), (79.0, "MISSED")])
def test_a_rollout_with_cameras_keeps_80_percent_of_render_only_on_cuda_at_8192(full, verdict):
    rows = rollout_rows(full, "cuda:0") + rollout_rows(10.0, "cuda:0", width=128)
    found = by_claim(targets.read(result(rows)))["rollout with cameras vs render-only"]
    assert [(v.nworld, v.verdict) for v in found] == [(8192, verdict), (8192, "MISSED")]
    assert found[0].figure == f"{full / 100:.3f}x ({full:,.0f} vs 100 world-frames/s) at 64x64"


def test_a_rollout_on_a_cpu_or_fewer_worlds_is_reported():
    rows = rollout_rows(20.0, "cpu", nworld=32) + rollout_rows(20.0, "cuda:0", nworld=1024)
    found = by_claim(targets.read(result(rows)))["rollout with cameras vs render-only"]
    assert [(v.device, v.verdict) for v in found] == [("cpu", "reported"), ("cuda:0", "reported")]
    assert found[0].figure.startswith("0.200x (20 vs 100 world-frames/s)")
