"""The price of a result: each figure's cost from its unit and the GPU's hourly price (given, or the
Runpod pod's own, read with the pod-scoped key Runpod puts in every pod), and two result files (two GPU
types) compared by speed and cost. Real bench runs against the local server speaking Runpod's API."""

from __future__ import annotations

import json
import socket

import pytest

from mjpod.host.sysinfo import Gpu, Host
from mjpod.jobs.bench import compare
from mjpod.jobs.bench.types import BenchConfig, BenchResult, Row
from tests.cli_runner import run_mjpod
from tests.cloud.runpod_api import FakeRunpod
from tests.jobs.bench.test_append import PHYSICS, only_json, said

HOUR = 3600.0


def row(value: float, unit: str, per_hour: float | None = 3.6, **kw) -> Row:
    return Row("x", "pendulum", value, unit, 1, 1.0, price_per_hour=per_hour, **kw)


@pytest.mark.parametrize(
    ("figure", "cost"),
    [
        # $3.6/hr is $0.001/s: a billion world-steps at 1e6/s take 1000 s
        (row(1e6, "world-steps/s"), (1.0, "G world-steps")),
        (row(1000.0, "world-frames/s"), (1.0, "M world-frames")),
        (row(500.0, "frames/s"), (2.0, "M frames")),
        # a 30 fps video recorded at 120 frames/s: an hour of it takes 900 s
        (row(120.0, "frames/s", video_fps=30.0), (0.9, "video-hour")),
        (row(1.3, "x mjwarp"), None),
        (row(2.0, "ms latency p50"), None),
        (row(9000.0, "steps/s, 15 stalled viewers"), None),
        (row(1e6, "world-steps/s", per_hour=None), None),
    ],
)
def test_a_figures_cost_follows_from_its_unit(figure, cost):
    got = figure.cost()
    if cost is None:
        assert got is None
    else:
        assert got is not None and got[1] == cost[1] and got[0] == pytest.approx(cost[0])


def test_bench_with_a_price_per_hour_prices_each_figure(tmp_path):
    proc = run_mjpod("bench", "--out", str(tmp_path), *PHYSICS, "--price-per-hour", "3.6")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = only_json(tmp_path)
    assert data["price"] == {"per_hour": 3.6, "currency": "USD", "source": "--price-per-hour"}
    (figure,) = data["results"]
    assert figure["unit"] == "world-steps/s" and figure["price_per_hour"] == 3.6
    dollars = 3.6 / HOUR * 1e9 / figure["value"]
    assert f"${dollars:.3g} /G world-steps" in proc.stdout  # beside the speed, in the table
    assert "price: $3.600/hr (--price-per-hour)" in proc.stdout


def test_bench_on_a_runpod_pod_reads_its_price_per_gpu_with_the_pods_own_key(tmp_path):
    with FakeRunpod() as api:
        pod = api.add_pod("mjpod", costPerHr=5.0, gpuCount=2)
        api.pod_keys["rp_pod_scoped"] = pod  # what Runpod injects: it may act on this pod only
        env = {"RUNPOD_POD_ID": pod, "RUNPOD_API_KEY": "rp_pod_scoped", "RUNPOD_API_BASE_URL": api.url}
        proc = run_mjpod("bench", "--out", str(tmp_path), *PHYSICS, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = only_json(tmp_path)
    assert data["price"]["per_hour"] == 2.5  # the pod's $5/hr over its 2 GPUs: the bench runs on one
    assert data["price"]["source"] == f"Runpod pod {pod}: $5.000/hr for 2 GPUs, per GPU"
    assert data["results"][0]["price_per_hour"] == 2.5
    assert [c.args["input"]["podId"] for c in api.fields("pod")] == [pod]


def test_a_price_that_cannot_be_looked_up_is_a_warning_and_the_bench_goes_on(tmp_path):
    with socket.socket() as s:  # a port nothing listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {"RUNPOD_POD_ID": "pod0001", "RUNPOD_API_KEY": "rp_pod_scoped", "RUNPOD_API_BASE_URL": url}
    proc = run_mjpod("bench", "--out", str(tmp_path), *PHYSICS, **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = only_json(tmp_path)
    assert data["price"] is None and "price_per_hour" not in data["results"][0]
    (warning,) = data["warnings"]
    assert warning.startswith("no prices: looking up this Runpod pod's price failed (cannot reach")
    assert warning.endswith("pass --price-per-hour")
    assert " cost " not in proc.stdout  # no cost column without a price


def test_a_price_per_hour_must_be_a_positive_number(tmp_path):
    proc = run_mjpod("bench", "--out", str(tmp_path), *PHYSICS, "--price-per-hour", "0")
    assert proc.returncode == 2 and "--price-per-hour is dollars per hour, above 0; got 0.0" in said(proc)


def result(gpu: str, rows: list[Row], per_hour: float | None = None) -> BenchResult:
    host = Host(gpus=(Gpu(gpu, "580.1", 81559),), cpu_count=16)
    config = BenchConfig(price_per_hour=per_hour)
    return BenchResult(config, host, None, "cuda:0", rows)


def physics(value: float, nworld: int, per_hour: float | None, engine: str = "mjwarp") -> Row:
    return Row(
        "physics",
        "bin",
        value,
        "world-steps/s",
        1,
        1.0,
        engine=engine,
        nworld=nworld,
        price_per_hour=per_hour,
    )


def test_two_gpus_compare_by_speed_and_by_cost_per_figure():
    """B is twice as fast at 8192 worlds but costs three times as much per hour: faster, and dearer."""
    a = result("A40", [physics(1e8, 8192, 0.4), physics(1e6, 1, 0.4), physics(5e5, 1, 0.4, "mjc")])
    b = result(
        "H100",
        [physics(1e6, 1, 1.2), physics(2e8, 8192, 1.2), Row("seed", "panda", 90.0, "frames/s", 1, 1.0)],
    )
    found = compare.pairs(a, b)
    assert [(p.a.nworld, p.a.engine) for p in found] == [
        (8192, "mjwarp"),
        (1, "mjwarp"),
    ]  # a's order; mjc only in a
    big, one = found
    assert big.speedup == pytest.approx(2.0) and big.cost_ratio == pytest.approx(1.5)
    assert one.speedup == pytest.approx(1.0) and one.cost_ratio == pytest.approx(3.0)
    assert compare.summary(found) == [
        "B is faster in 1 of 2 figures",
        "B is cheaper for the same work in 0 of 2",
    ]


def test_bench_report_compares_two_files_and_prices_an_unpriced_one(tmp_path):
    a = result("NVIDIA A40", [physics(1e8, 8192, None)])
    b = result("NVIDIA H100 80GB HBM3", [physics(4e8, 8192, 2.0)], per_hour=2.0)
    b.price = compare.price.Price(2.0, "--price-per-hour")
    a.save(tmp_path / "a.json")
    b.save(tmp_path / "b.json")
    files = (str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    unpriced = run_mjpod("bench-report", *files)
    assert unpriced.returncode == 0, unpriced.stderr
    assert "no cost: give each file's price with --price-per-hour (A's, then B's)" in unpriced.stdout
    shown = run_mjpod("bench-report", *files, "--price-per-hour", "0.4", "--price-per-hour", "9")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "A: NVIDIA A40, $0.400/hr" in out and "B: NVIDIA H100 80GB HBM3, $2.000/hr" in out
    line = next(line for line in out.splitlines() if "physics" in line)
    # B's own price stays (only figures without one take --price-per-hour): 4x faster at 5x the price
    assert "4.00x" in line and "1.25x" in line
    assert "$0.00111 /G world-steps" in line and "$0.00139 /G world-steps" in line  # 0.4/3600*1e9/1e8
    assert "B is cheaper for the same work in 0 of 1" in out


def test_bench_report_wants_one_price_per_file(tmp_path):
    a = result("NVIDIA A40", [physics(1e8, 8192, None)])
    a.save(tmp_path / "a.json")
    proc = run_mjpod(
        "bench-report", str(tmp_path / "a.json"), str(tmp_path / "a.json"), "--price-per-hour", "1"
    )
    assert proc.returncode == 2 and "give one --price-per-hour per result file (2)" in said(proc)
    assert json.loads((tmp_path / "a.json").read_text())["price"] is None


@pytest.mark.ffmpeg
def test_a_recording_is_priced_per_hour_of_video(tmp_path):
    args = (
        "--only",
        "record",
        "--engine",
        "mjc",
        "--model",
        "pendulum",
        "--quick",
        "--price-per-hour",
        "3.6",
    )
    proc = run_mjpod("bench", "--out", str(tmp_path), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (figure,) = only_json(tmp_path)["results"]
    assert figure["section"] == "record" and figure["video_fps"] == 30.0
    dollars = 3.6 / HOUR * 30.0 * HOUR / figure["value"]  # an hour of 30 fps video at value frames/s
    assert f"${dollars:.3g} /video-hour" in proc.stdout
