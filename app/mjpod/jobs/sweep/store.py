"""The output folder of a sweep: one folder per job, published whole, and one results table.

    OUT/jobs/<job id>/result.json   the job's record (status, parameters, figures, artifacts, error)
    OUT/jobs/<job id>/...           its artifacts (video.mp4 + video.json, rollout shards, bench.json)
    OUT/jobs/.staging/              attempts in progress; each is renamed into place when it ends
    OUT/results.csv                 every job of the spec: parameters, status, wall time, figures, paths

A job writes into its own staging folder and renames it into place, so a job folder is always whole:
a worker that dies leaves only staging debris (cleared by the next run), never a half-written job.
A job counts as finished when its result.json says done; everything else runs again.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from mjpod.errors import MjpodError

RESULT = "result.json"
TABLE = "results.csv"
FIRST_COLUMNS = ("id", "status", "reused", "node", "device", "wall_s")
LAST_COLUMNS = ("artifacts", "error")


class SweepLocked(MjpodError, RuntimeError):
    """Another sweep writes to the same output folder; the message names its lock file."""


def default_root(spec: Path) -> Path:
    """$MJPOD_WORKSPACE/sweeps/<spec name> (the container's volume), else ./sweeps/<spec name>."""
    workspace = os.environ.get("MJPOD_WORKSPACE")
    return (Path(workspace) if workspace else Path(".")) / "sweeps" / spec.stem


def write_json(path: Path, data: object) -> None:
    """Write JSON so a reader sees the old file or the new one, never a part."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs = root / "jobs"
        self.staging_root = self.jobs / ".staging"

    def job_dir(self, job_id: str) -> Path:
        return self.jobs / job_id

    def staging(self, job_id: str) -> Path:
        """A fresh folder for one attempt at a job (a retried job gets another)."""
        path = self.staging_root / f"{job_id}.{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def publish(self, staging: Path, job_id: str, record: dict[str, Any]) -> Path:
        """Write the record into the attempt's folder and rename it into place (replacing an older attempt)."""
        write_json(staging / RESULT, record)
        final = self.job_dir(job_id)
        old = None
        if final.exists():  # an earlier failed attempt: move it aside, then drop it
            old = staging.with_name(f"{staging.name}.replaced")
            os.rename(final, old)
        os.rename(staging, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def record(self, job_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.job_dir(job_id) / RESULT).read_text())
        except (OSError, ValueError):
            return None

    def finished(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Records of the jobs among `job_ids` that are done: a re-run skips them."""
        found = {}
        for job_id in job_ids:
            record = self.record(job_id)
            if record is not None and record.get("status") == "done":
                found[job_id] = record
        return found

    def clear_staging(self) -> None:
        """Drop what dead or cancelled attempts left (only while no job of this sweep runs)."""
        shutil.rmtree(self.staging_root, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One sweep at a time per output folder: two would run the same jobs twice."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.root / ".sweep.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SweepLocked(
                f"another mjpod sweep is writing to {self.root} (it holds {lock.lock_file}): "
                "wait for it to end, or give this one another --out"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def write_table(self, rows: list[dict[str, Any]]) -> Path:
        """results.csv: one row per job, parameters and figures as columns (atomically replaced)."""
        flat = [flatten(r) for r in rows]
        # parameters, then figures (fig_...), each sorted by name
        middle = sorted(
            {k for r in flat for k in r} - set(FIRST_COLUMNS) - set(LAST_COLUMNS), key=_column_order
        )
        path = self.root / TABLE
        tmp = path.with_name(f".{TABLE}.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, [*FIRST_COLUMNS, *middle, *LAST_COLUMNS])
            writer.writeheader()
            writer.writerows(flat)
        os.replace(tmp, path)
        return path


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """A record as one table row: parameters as they are, figures prefixed, artifacts joined."""
    row = {k: record.get(k) for k in FIRST_COLUMNS}
    row.update(record.get("params", {}))
    row["device"] = record.get("device") or row.get(
        "device"
    )  # where it ran (cuda), not what was asked (auto)
    row.update({f"fig_{k}": v for k, v in (record.get("figures") or {}).items()})
    row["artifacts"] = ";".join(record.get("artifacts") or [])
    row["error"] = record.get("error")
    for k, v in row.items():
        if isinstance(v, list):
            row[k] = " ".join(map(str, v))
    return row


def _column_order(name: str) -> tuple[bool, str]:
    return name.startswith("fig_"), name
