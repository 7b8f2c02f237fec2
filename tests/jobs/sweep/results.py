"""Read a sweep's results.csv and check what a finished sweep of specs.SPEC must hold."""

import csv
from pathlib import Path

import numpy as np

from tests.jobs.sweep import specs
from tests.mp4 import decode


def table(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as f:
        return list(csv.DictReader(f))


def check_finished(out: Path) -> list[dict[str, str]]:
    """Every job of the spec is in the table; all done but the comfree one, whose error names the cause."""
    rows = table(out)
    assert len(rows) == specs.JOBS
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["engine"] for r in failed] == ["comfree"], rows
    assert "elliptic" in failed[0]["error"]
    assert all(r["status"] == "done" for r in rows if r not in failed)
    for r in rows:
        if r["kind"] == "record" and r["status"] == "done":
            frames, meta = decode(out / r["artifacts"].split(";")[0])
            assert len(frames) == int(r["fig_frames"]) == 30 and meta["size"] == (64, 64)
        if r["kind"] == "rollout" and r["status"] == "done":
            shard = next(p for p in r["artifacts"].split(";") if p.endswith(".npz"))
            with np.load(out / shard) as data:  # plain arrays: no pickle needed
                assert data["qpos"].shape == (
                    76,
                    2,
                    7,
                )  # 1.5 s at 50 Hz, plus t = 0; two worlds; a free joint
                assert np.isfinite(data["qpos"]).all()
        if r["kind"] == "bench":
            assert float(r["fig_physics_world_steps_per_s"]) > 0
    return rows
