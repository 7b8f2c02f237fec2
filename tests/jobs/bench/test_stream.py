"""Bench section `stream` end to end: every condition measured, bytes/state is the real message size, and
the browser view's rows come from a real headless Chromium that downloaded Studio's client."""

import json
from pathlib import Path

import mujoco

from mjpod import models
from mjpod.stream.feed import StateFeed
from tests.cli_runner import run_mjpod


def test_stream_section_rows(tmp_path):
    # fmt: off
    proc = run_mjpod("bench", "--quick", "--skip", "seed", "--skip", "render", "--skip", "physics",
                     "--model", "pendulum", "--seconds", "0.2", "--out", str(tmp_path), timeout=600)
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr  # e.g. runpy's, once per client process
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert not (warned := [w for w in data["warnings"] if "stream" in w]), warned
    rows = {r["unit"]: r for r in data["results"] if r["section"] == "stream"}
    expected = {
        "steps/s, 0 clients", "steps/s, 1 client", "steps/s, 4 clients", "steps/s, 1 client + 1 stalled",
        "steps/s, 1 client + 15 stalled + 40 silent", "ms latency p50", "ms latency p99", "bytes/state",
        "steps/s, browser view, 0 browsers", "steps/s, browser view, 1 browser", "bytes/s to 1 browser",
        "bytes first download",
    }  # fmt: skip
    assert set(rows) == expected
    odd = [
        r for r in rows.values() if not (r["value"] > 0 and r["model"] == "pendulum" and r["engine"] == "mjc")
    ]
    assert not odd, odd
    assert rows["ms latency p99"]["value"] >= rows["ms latency p50"]["value"]
    mjm = models.load("pendulum").model
    feed = StateFeed(hz=0)
    feed.publish(mujoco.MjData(mjm))
    expected_size = len(feed.latest().message)
    assert abs(rows["bytes/state"]["value"] - expected_size) <= 32  # only the digits of seq and time differ
    wasm = (Path(mujoco.__file__).parent / "studio" / "web" / "dist" / "web_client.wasm").stat().st_size
    assert rows["bytes first download"]["value"] > wasm  # the page fetched Studio's client through the gate
