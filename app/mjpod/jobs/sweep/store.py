"""The output folder of a sweep: one folder per job, published whole, and one results table.

    OUT/jobs/<job id>/result.json   the job's record (status, parameters, figures, artifacts, error)
    OUT/jobs/<job id>/...           its artifacts (video.mp4 + video.json, rollout shards, bench.json)
    OUT/jobs/.staging/              attempts in progress; each is renamed into place when it ends
    OUT/results.csv                 every job of the spec: parameters, status, wall time, figures, paths

A job writes into its own staging folder and renames it into place, so a job folder is always whole:
a worker that dies leaves only staging debris (cleared by the next run), never a half-written job.
A job counts as finished when its result.json says done and holds up: it is this job's record, and
every file it names is there, a plain file of the size it had. Anything else runs again, and a record
that does not hold up says why in a log line. Files are written through `mjpod.files` (fresh
temporary names, replaced in one step), so a link planted in a shared output folder is never followed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from mjpod import files
from mjpod.errors import MjpodError

RESULT = "result.json"
TABLE = "results.csv"
FIRST_COLUMNS = ("id", "status", "reused", "node", "device", "wall_s")
LAST_COLUMNS = ("artifacts", "error")
STATUSES = ("done", "failed", "cancelled", "pending")
RECORD_BYTES = 1 << 20  # a job's record: parameters, figures, file names and a traceback
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): such a text cell
# is written with a leading apostrophe, which spreadsheets show as text and do not run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

log = logging.getLogger("mjpod.sweep")


class SweepLocked(MjpodError, RuntimeError):
    """Another sweep writes to the same output folder; the message names its lock file."""


class OutputFolderError(MjpodError, ValueError):
    """The output folder cannot hold a sweep (a file, a planted link); the message says what to change."""


def default_root(spec: Path) -> Path:
    """$MJPOD_WORKSPACE/sweeps/<spec name> (the container's volume), else ./sweeps/<spec name>."""
    workspace = os.environ.get("MJPOD_WORKSPACE")
    return (Path(workspace) if workspace else Path(".")) / "sweeps" / spec.stem


def write_json(path: Path, data: object) -> None:
    """Write JSON so a reader sees the old file or the new one, never a part."""
    files.write_text(path, json.dumps(data, indent=2) + "\n")


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs = root / "jobs"
        self.staging_root = self.jobs / ".staging"
        self._warned: set[str] = set()

    def job_dir(self, job_id: str) -> Path:
        return self.jobs / job_id

    def check(self) -> None:
        """Refuse an output folder that is a file, or whose `jobs` folder is a link (the job folders
        would land where it points)."""
        if self.root.exists() and not self.root.is_dir():
            raise OutputFolderError(
                f"the output folder {self.root} is a file: give a folder with --out (it is made if missing)"
            )
        _not_a_link(self.jobs)

    def staging(self, job_id: str) -> Path:
        """A fresh folder for one attempt at a job (a retried job gets another)."""
        _not_a_link(self.jobs)
        _not_a_link(self.staging_root)  # one run clears a planted link: this one came since
        path = self.staging_root / f"{job_id}.{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def publish(self, staging: Path, job_id: str, record: dict[str, Any]) -> Path:
        """Write the record into the attempt's folder and rename it into place (replacing an older attempt,
        or whatever else holds the name: a file or link there is moved aside, never followed)."""
        write_json(staging / RESULT, record)
        final = self.job_dir(job_id)
        old = None
        if os.path.lexists(final):
            old = staging.with_name(f"{staging.name}.replaced")
            os.rename(final, old)
        os.rename(staging, final)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        return final

    def record(self, job_id: str) -> dict[str, Any] | None:
        """The job's record as written, or None when there is none or it is not a JSON object."""
        record, _ = self._read(job_id)
        return record

    def _read(self, job_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """(the record, None) or (None, why it cannot be used); (None, None) when there is none."""
        path = self.job_dir(job_id) / RESULT
        try:
            record = json.loads(files.read_bytes(path, RECORD_BYTES, "the job record", follow=False))
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        except files.FileRefused as err:
            return None, str(err)
        except (OSError, ValueError, RecursionError) as err:
            return None, f"{path} cannot be read as JSON ({type(err).__name__}); truncated?"
        if not isinstance(record, dict):
            return None, f"{path} is not a JSON object"
        return record, None

    def finished(self, jobs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Records of the jobs (id -> parameters) that are done: a re-run skips them. A record that
        says done but does not hold up (`unproven`) is logged, once, and its job runs again."""
        found = {}
        for job_id, params in jobs.items():
            record, why = self._read(job_id)
            if record is not None and record.get("status") in STATUSES[1:]:
                continue  # failed or stopped: it runs again, as it should
            if record is not None:
                why = unproven(record, job_id, params, self.job_dir(job_id))
            if why is None and record is not None:
                found[job_id] = record
            elif why is not None and job_id not in self._warned:
                self._warned.add(job_id)
                log.warning("job %s runs again: %s", job_id, why)
        return found

    def clear_staging(self) -> None:
        """Drop what dead or cancelled attempts left, or a link planted in its place (only while no job
        of this sweep runs)."""
        if self.staging_root.is_symlink():
            self.staging_root.unlink()
        else:
            shutil.rmtree(self.staging_root, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One sweep at a time per output folder: two would run the same jobs twice."""
        self.check()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputFolderError(
                f"cannot make the output folder {self.root} ({err.strerror or err}): give another --out"
            ) from None
        lock = FileLock(self.root / ".sweep.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SweepLocked(
                f"another mjpod sweep is writing to {self.root} (it holds {lock.lock_file}): "
                "wait for it to end, or give this one another --out"
            ) from None
        except OSError as err:  # a link planted there (filelock does not follow it), a read-only folder
            raise OutputFolderError(
                f"cannot take the lock {lock.lock_file} ({err.strerror or err}): remove what is there "
                "(mjpod makes it itself), or give another --out"
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
        with files.replacing(path, "w", newline="") as f:
            writer = csv.DictWriter(f, [*FIRST_COLUMNS, *middle, *LAST_COLUMNS])
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in row.items()} for row in flat)
        return path


def _not_a_link(path: Path) -> None:
    if path.is_symlink():
        raise OutputFolderError(
            f"{path} is a link to {os.readlink(path)}: mjpod makes that folder itself, and would write "
            "where the link points; remove the link (or give another --out)"
        )


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """A record as one table row: parameters as they are, figures prefixed, artifacts joined."""
    row = {k: record.get(k) for k in FIRST_COLUMNS}
    row.update(record.get("params", {}))
    row.update({f"fig_{k}": v for k, v in (record.get("figures") or {}).items()})
    row["artifacts"] = ";".join(record.get("artifacts") or [])
    row["error"] = record.get("error")
    for k, v in row.items():
        if isinstance(v, list):
            row[k] = " ".join(map(str, v))
    return row


def _column_order(name: str) -> tuple[bool, str]:
    return name.startswith("fig_"), name


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe; numbers stay."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


SCALAR = (str, int, float, bool, type(None))


def unproven(record: dict[str, Any], job_id: str, params: Mapping[str, Any], folder: Path) -> str | None:
    """None when `record` proves the job at `folder` done; else why it does not (read back from a
    shared folder, it may be truncated, stale or planted)."""
    if record.get("status") != "done":
        return f"its record says status {files.short(record.get('status'))}"
    if record.get("id") != job_id or record.get("params") != dict(params):
        return "its record is not this job's (another id or other parameters)"
    figures, artifacts = record.get("figures"), record.get("artifacts")
    if not isinstance(figures, dict) or not all(
        isinstance(k, str) and isinstance(v, SCALAR) for k, v in figures.items()
    ):
        return "its record's figures are not a table of numbers and words"
    if not all(isinstance(record.get(k), SCALAR) for k in ("node", "device", "wall_s", "error")):
        return "its record's node, device, wall_s or error is not a plain value"
    if not isinstance(artifacts, list) or not all(isinstance(a, str) for a in artifacts):
        return "its record's artifacts are not a list of file names"
    sizes = record.get("artifact_bytes")
    if sizes is not None and not isinstance(sizes, dict):
        return "its record's artifact_bytes is not a table of file sizes"
    for artifact in artifacts:
        name = artifact.removeprefix(f"jobs/{job_id}/")
        if name == artifact or "/" in name or name.startswith("."):
            return f"its record names a file outside its folder: {files.short(artifact)}"
        path = folder / name
        if path.is_symlink() or not path.is_file():
            return f"{path} is missing (or not a plain file)"
        if isinstance(sizes, dict) and sizes.get(name) != path.stat().st_size:
            return f"{path} is not the size the job wrote ({files.short(sizes.get(name))} bytes)"
    return None
