"""Run one sweep job where it lands: record, rollout or bench through the same library calls as the
`mjpod` commands (and probe, which says where it landed), into a staging folder published whole.
Knows nothing of Ray, so a plain loop (`mjpod sweep --no-ray`) and a Ray worker run exactly the same
code. A job on cuda sees only the GPU it was given (CUDA_VISIBLE_DEVICES) as cuda:0, and its GL draws
there too (render/egl.py); its record says which GPU that was and which EGL device drew.
"""

from __future__ import annotations

import datetime
import io
import os
import socket
import sys
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
    """The job's engine settings; under Ray the job's GPU is cuda:0 (Ray sets CUDA_VISIBLE_DEVICES).
    A probe has no engine: its settings carry only the device, which its GL follows."""
    return EngineConfig(
        nworld=params.get("nworld", EngineConfig.nworld),
        device=("cuda:0" if device == "cuda" else "cpu") if params.get("engine") != "mjc" else None,
        ctrl=params.get("ctrl", EngineConfig.ctrl),
        seed=params.get("seed", EngineConfig.seed),
        nconmax=params.get("nconmax"),
        njmax=params.get("njmax"),
        nthread=max(1, int(cpus)),  # mjc's rollout threads stay within the cores the job asked for
        deterministic=params.get("deterministic", False),
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
        **_policy(params),
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
        renderer=params["renderer"],
        cameras=tuple(str(c) for c in params.get("cameras", ())),
        images=tuple(params["images"]),
        width=params["width"],
        height=params["height"],
        format=params["format"],
        shard_mb=params["shard_mb"],
        **_policy(params),
    )
    result = rollout.rollout(settings, folder)
    figures = {
        "samples": result.samples,
        "steps": result.steps,
        "world_steps_per_s": round(result.steps * config.nworld / result.wall_seconds, 1),
        "shards": len(result.shards),
        "bytes": result.bytes,
    }
    if settings.images:
        figures["world_samples_per_s"] = round(result.samples * config.nworld / result.wall_seconds, 1)
    return figures, [rollout.META, *result.shards]


def _policy(params: dict[str, Any]) -> dict[str, Any]:
    """The job's policy settings, once its file is checked to be the one the sweep was planned with
    (a node that sees another file, or a file edited since, fails the job saying so)."""
    if "policy" not in params:
        return {}
    from mjpod.jobs import policy as policies

    source = policies.resolve(params["policy"])
    if source.sha256 != (params.get("policy_sha256") or None):
        raise policies.PolicyError(
            f"policy {params['policy']!r} on this node is not the file the sweep was planned with "
            f"(SHA-256 {source.sha256}, planned {params.get('policy_sha256')}): put the same file on every "
            "node's shared folder, and re-run the sweep after editing a policy"
        )
    return {"policy": params["policy"], "policy_hz": params.get("policy_hz")}


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


def _probe(params: dict[str, Any], config: EngineConfig, folder: Path) -> Outcome:
    """Where the job landed: the GPU it was given, the EGL device a GL context there gets (from one frame
    of the model) and its GL_RENDERER; then it keeps its slot for hold_s seconds, so that jobs that run
    together can be seen together. A harmless kind for checking a box or a cluster before real work."""
    import mujoco

    from mjpod import models
    from mjpod.jobs.simulation import gpu_used
    from mjpod.render import egl
    from mjpod.render.gl import GLRenderer

    started = time.time()
    mjm = models.load(params["model"]).model
    mjd = mujoco.MjData(mjm)
    mujoco.mj_forward(mjm, mjd)
    with GLRenderer(mjm, 48, 64, config.device) as gl:
        frame = gl.render(mjd)
        info = gl.info
    time.sleep(params["hold_s"])
    gpu = gpu_used(config.device)
    figures = {
        "gpu": os.environ.get("CUDA_VISIBLE_DEVICES", ""),  # the GPU id(s) the job was given
        "gpu_name": gpu["name"] if gpu else "",
        "egl_device": info.egl_device,
        "gl_renderer": info.renderer,
        "frame_mean": round(float(frame.mean()), 3),
        "started_at": round(started, 3),
        "ended_at": round(time.time(), 3),
    }
    write_json(folder / "probe.json", figures | {"gpu": gpu, "egl": egl.report()})
    return figures, ["probe.json"]


def _drawn() -> dict | None:
    """The EGL device this worker's GL drew on, when it drew (sys.modules: never load GL to ask)."""
    egl = sys.modules.get("mjpod.render.egl")
    return egl.report() if egl else None


KINDS: dict[str, Callable[[dict[str, Any], EngineConfig, Path], Outcome]] = {
    "record": _record,
    "rollout": _rollout,
    "bench": _bench,
    "probe": _probe,
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
        "gpus": os.environ.get("CUDA_VISIBLE_DEVICES") if device == "cuda" else None,  # as Ray gave them
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
    record["egl_device"] = _drawn()
    record["artifacts"] = [f"jobs/{job_id}/{f}" for f in files]
    # what a re-run checks before it skips the job: each file still there, at the size written
    record["artifact_bytes"] = {f: (staging / f).stat().st_size for f in files if (staging / f).is_file()}
    (staging / "started.json").unlink()
    store.publish(staging, job_id, record)
    return record
