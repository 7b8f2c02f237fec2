"""Run one sweep job where it lands: record, rollout or bench through the same library calls as the
`mjpod` commands, into a staging folder published whole. Knows nothing of Ray, so a plain loop
(`mjpod sweep --no-ray`) and a Ray worker run exactly the same code.
"""

from __future__ import annotations

import datetime
import io
import os
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco: workers are headless

from mjpod import __version__
from mjpod.engines import EngineConfig
from mjpod.engines.base import COMFREE_DAMPING, COMFREE_STIFFNESS
from mjpod.jobs.sweep.store import Store, write_json

Outcome = tuple[dict[str, Any], list[str]]  # figures, artifact file names in the job folder


def engine_config(params: dict[str, Any], device: str, cpus: float) -> EngineConfig:
    """The job's engine settings; under Ray the job's GPU is cuda:0 (Ray sets CUDA_VISIBLE_DEVICES)."""
    return EngineConfig(
        nworld=params["nworld"],
        device=("cuda:0" if device == "cuda" else "cpu") if params["engine"] != "mjc" else None,
        ctrl=params["ctrl"],
        seed=params["seed"],
        nconmax=params.get("nconmax"),
        njmax=params.get("njmax"),
        nthread=max(1, int(cpus)),  # mjc's rollout threads stay within the cores the job asked for
        comfree_stiffness=(params.get("comfree_stiffness", COMFREE_STIFFNESS),),
        comfree_damping=(params.get("comfree_damping", COMFREE_DAMPING),),
    )


def _record(params: dict[str, Any], config: EngineConfig, folder: Path) -> Outcome:
    from mjpod.jobs import record
    from mjpod.render.camera import CameraSpec

    settings = record.RecordSettings(
        model=params["model"],
        engine=params["engine"],
        engine_config=config,
        renderer=params["renderer"],
        camera=CameraSpec(params.get("camera")),
        worlds=tuple(params["worlds"]),
        width=params["width"],
        height=params["height"],
        fps=params["fps"],
        duration=params["duration"],
        out=folder / "video.mp4",
    )
    result = record.record(settings)
    figures = {
        "frames": result.frames,
        "frames_per_second": round(result.frames_per_second, 3),
        "steps": result.steps,
        "encoder": result.encoder,
    }
    if result.overflow:
        figures["overflow"] = result.overflow
    return figures, ["video.mp4", "video.json"]


def _rollout(params: dict[str, Any], config: EngineConfig, folder: Path) -> Outcome:
    from mjpod.jobs import rollout

    settings = rollout.RolloutSettings(
        model=params["model"],
        engine=params["engine"],
        engine_config=config,
        duration=params["duration"],
        rate=params["rate"],
        sensors=params["sensors"],
        frames=params["frames"],
        width=params["width"],
        height=params["height"],
        camera=params.get("camera"),
        shard_mb=params["shard_mb"],
    )
    result = rollout.rollout(settings, folder)
    figures = {
        "samples": result.samples,
        "steps": result.steps,
        "world_steps_per_s": round(result.steps * config.nworld / result.wall_seconds, 1),
        "shards": len(result.shards),
        "bytes": result.bytes,
    }
    return figures, [rollout.META, *result.shards]


def _bench(params: dict[str, Any], config: EngineConfig, folder: Path) -> Outcome:
    from rich.console import Console

    from mjpod.jobs.bench import report, runner
    from mjpod.jobs.bench.types import BenchConfig

    bench_config = BenchConfig(
        models=(params["model"],),
        engines=(params["engine"],),
        nworld=(params["nworld"],),
        nstep=params["nstep"],
        seconds=params["seconds"],
        only=tuple(params["sections"]),
        testspeed=False,
        out=folder,
        engine_config=config,  # the job's device, buffers, gains, controls and threads
    )
    result = runner.run(bench_config, Console(file=io.StringIO()))
    if not result.rows:
        raise RuntimeError("no figure was measured: " + "; ".join(result.warnings))
    # The run saved its JSON after each section, under the hardware's name: keep it as the job's one file.
    os.replace(report.paths(result, folder)["json"], folder / "bench.json")
    figures: dict[str, Any] = {}
    for row in result.rows:
        unit = row.unit.replace("world-steps/s", "world_steps_per_s").replace(" ", "_")
        where = [row.model, row.engine] if row.section == "contact" else []
        figures["_".join([row.section, *map(str, where), unit])] = round(row.value, 3)
    if result.warnings:
        figures["warnings"] = " | ".join(result.warnings)
    return figures, ["bench.json"]


KINDS: dict[str, Callable[[dict[str, Any], EngineConfig, Path], Outcome]] = {
    "record": _record,
    "rollout": _rollout,
    "bench": _bench,
}


def run(job_id: str, params: dict[str, Any], out: str, device: str, cpus: float, node: str) -> dict[str, Any]:
    """Run the job and publish its folder; returns its record. A job that raises is recorded, not raised."""
    root = Path(out)
    record: dict[str, Any] = {
        "id": job_id,
        "params": params,
        "device": device,
        "node": node,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mjpod_version": __version__,
    }
    if not root.is_dir():
        return record | {
            "status": "failed",
            "error": f"the output folder {out} does not exist on node {node}: mount one shared folder at "
            "the same path on every node (a volume, NFS, a PVC), or start the sweep with --out on it",
        }
    store = Store(root)
    staging = store.staging(job_id)
    write_json(staging / "started.json", record)  # which node and process has the job: for a watcher
    start = time.perf_counter()
    try:
        figures, files = KINDS[params["kind"]](params, engine_config(params, device, cpus), staging)
        record.update(status="done", figures=figures, error=None)
    except Exception as err:  # any failure of one job is that job's record, never the sweep's end
        files = sorted(p.name for p in staging.iterdir() if p.name != "started.json")
        record.update(status="failed", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
    record["wall_s"] = round(time.perf_counter() - start, 3)
    record["artifacts"] = [f"jobs/{job_id}/{f}" for f in files]
    # what a re-run checks before it skips the job: each file still there, at the size written
    record["artifact_bytes"] = {f: (staging / f).stat().st_size for f in files if (staging / f).is_file()}
    (staging / "started.json").unlink()
    store.publish(staging, job_id, record)
    return record
