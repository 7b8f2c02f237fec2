"""Bench section `memory` (jobs/bench/memory.py): model + data bytes of the Warp engines as mujoco_warp's
testspeed --memory counts them, and the largest nworld that fits. The section runs on CUDA only; here its
own measurement runs on Warp's cpu device, where the bytes are the same arrays in host memory."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.progress import Progress

from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.host import sysinfo
from mjpod.jobs.bench import memory, targets
from mjpod.jobs.bench.types import BenchConfig, BenchResult

MIB = memory.MIB


@pytest.mark.parametrize(
    ("points", "model", "free", "fit"),
    [
        # 1000 bytes a world over 500 fixed ones, a 10 kB model: (0.9 x 1 MB - 10.5 kB) / 1000
        ([(1024, 1_024_500), (8192, 8_192_500)], 10_000, 1_000_000, 889),
        ([(8192, 8_192_500), (1024, 1_024_500)], 10_000, 1_000_000, 889),  # the order does not matter
        ([(4, 4000)], 10_000, 1_000_000, 890),  # one point: through zero
        ([(4, 4000)], 2_000_000, 1_000_000, 0),  # the model alone does not fit
    ],
)
def test_the_largest_nworld_that_fits(points, model, free, fit):
    assert memory.largest_fit(points, model, free)[0] == fit


@pytest.mark.parametrize("engine", ["mjwarp", "comfree"])
def test_model_and_data_bytes_are_what_testspeed_counts(engine):
    testspeed = pytest.importorskip("mujoco_warp.testspeed")
    mjm = models.load("box_drop").model
    sizes = {}
    for nworld in (1, 4):
        with make(engine, mjm, EngineConfig(nworld=nworld, device="cpu", nconmax=48, njmax=64)) as e:
            sizes[nworld] = e.memory()
            assert sizes[nworld] == (
                sum(testspeed._dataclass_memory(e.m).values()),
                sum(testspeed._dataclass_memory(e.d).values()),
            )
    assert sizes[1][0] == sizes[4][0] > 0  # the model does not grow with the worlds
    assert sizes[4][1] > 3 * sizes[1][1]  # the data does, nearly fourfold
    with make("mjc", mjm, EngineConfig()) as e:
        assert e.memory() is None  # MuJoCo C holds no device memory


def test_the_rows_per_nworld_and_how_many_fit():
    config = BenchConfig(models=("pendulum",), engines=("mjc", "mjwarp"), nworld=(1, 4))
    result = BenchResult(config, sysinfo.host(), None, "cpu")
    loaded = [models.load("pendulum")]
    with Progress(console=Console(quiet=True)) as progress:
        memory.measure(config, result, loaded, progress, "cpu", free=64 * MIB)
    sizes = [r for r in result.rows if r.unit == "MiB model+data"]
    assert [(r.engine, r.nworld) for r in sizes] == [("mjwarp", 1), ("mjwarp", 4)]  # mjc has no device memory
    assert sizes[1].value > sizes[0].value > 0 and "model" in sizes[0].note
    (fit,) = [r for r in result.rows if r.unit == memory.FIT]
    with make(
        "mjwarp", loaded[0].model, config.engine_settings(nworld=4, nconmax=fit.nconmax, njmax=fit.njmax)
    ) as e:
        model_bytes, data4 = e.memory()
    with make(
        "mjwarp", loaded[0].model, config.engine_settings(nworld=1, nconmax=fit.nconmax, njmax=fit.njmax)
    ) as e:
        data1 = e.memory()[1]
    assert fit.value == memory.largest_fit([(1, data1), (4, data4)], model_bytes, 64 * MIB)[0] > 4
    assert "64 MiB free" in fit.note
    (verdict,) = [v for v in targets.read(result) if v.claim.startswith("worlds that fit")]
    assert verdict.verdict == "reported" and verdict.nworld == fit.value and verdict.model == "pendulum"


def test_on_a_cpu_the_section_says_why_it_is_absent():
    config = BenchConfig(models=("pendulum",), engines=("mjwarp",), nworld=(1,))
    result = BenchResult(config, sysinfo.host(), None, "cpu")
    with Progress(console=Console(quiet=True)) as progress:
        memory.run(config, result, [models.load("pendulum")], progress)
    assert not result.rows
    assert result.skipped == ["memory (device memory is measured on a CUDA GPU; Warp runs on cpu here)"]
    (verdict,) = [v for v in targets.read(result) if v.claim.startswith("worlds that fit")]
    assert verdict.verdict == "not measured" and verdict.figure == result.skipped[0]
