"""Expand a spec into jobs: the product of each grid, defaults filled in, an id from the parameters.

A job's parameters hold only what its kind and engine read (comfree gains only for comfree, buffer
sizes only for the Warp engines), so sweeping a gain over an mjc job gives one job, not copies, and
the id - a readable stem plus a hash of the parameters - is the same in every run of the same spec.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any

import mujoco

from mjpod import files, models
from mjpod.errors import MjpodError
from mjpod.jobs import record, rollout, simulation
from mjpod.jobs.sweep.keys import KEYS, RESOURCE_KEYS
from mjpod.jobs.sweep.spec import Spec, SpecError
from mjpod.render import camera as cameras


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    params: dict[str, Any]  # JSON-ready: what the job runs with
    cpus: float
    gpus: float  # asked for only when the job runs on cuda

    @property
    def kind(self) -> str:
        return self.params["kind"]

    def device(self, cluster_has_gpus: bool) -> str:
        """cpu or cuda: mjc always runs on the CPU; auto means cuda when the cluster has GPUs."""
        wanted = self.params.get("device", "cpu")
        if wanted == "auto":
            return "cuda" if cluster_has_gpus else "cpu"
        return wanted

    def request(self, cluster_has_gpus: bool) -> dict[str, float]:
        """What this job asks Ray for: CPU always, GPU when it runs on cuda."""
        gpus = self.gpus if self.device(cluster_has_gpus) == "cuda" else 0.0
        return {"CPU": self.cpus, "GPU": gpus}


def job_id(params: dict[str, Any]) -> str:
    """`kind-model-engine-nN-sS-<hash>`: readable in a folder listing, unique by the hash."""
    model = params["model"]
    if model.endswith((".xml", ".mjb")):
        model = Path(model).stem
    stem = "-".join(
        [params["kind"], re.sub(r"[^A-Za-z0-9_.]+", "-", model)[:40], params["engine"],
         f"n{params['nworld']}", f"s{params['seed']}"]
    )  # fmt: skip
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return f"{stem}-{digest}"


def expand(spec: Spec) -> list[Job]:
    """Every job of the spec, in grid order, duplicates removed. Checks what single values cannot
    show: kinds, models, cameras, worlds, frame counts and sizes, so that no job fails for its spec."""
    combos = [
        dict(zip(grid, values, strict=True)) for grid in spec.grids for values in itertools.product(*grid.values())
    ] or [{}]  # fmt: skip
    _check_kinds(spec, combos)
    cpus = spec.resources.get("cpus", RESOURCE_KEYS["cpus"].default)
    gpus = spec.resources.get("gpus", RESOURCE_KEYS["gpus"].default)
    loaded: dict[str, mujoco.MjModel] = {}
    jobs: dict[str, Job] = {}
    for combo in combos:
        given = {**spec.settings, **combo}
        params = _params(given)
        params["model"] = _model(params["model"], spec, loaded)
        _check_job(params, loaded[params["model"]], spec)
        job = Job(job_id(params), params, cpus, gpus)
        jobs.setdefault(job.id, job)
    return list(jobs.values())


def _params(given: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the given values; only the keys this kind and engine read; no empty values."""
    kind, engine = given["kind"], given.get("engine", KEYS["engine"].default)
    params = {}
    for name, key in KEYS.items():
        if kind not in key.kinds or (key.engines is not None and engine not in key.engines):
            continue
        value = given.get(name, key.default)
        if value is not None:
            params[name] = value
    return params


def _check_kinds(spec: Spec, combos: list[dict[str, Any]]) -> None:
    """A key that no job of the sweep reads is a mistake (a typo'd kind, a record key in a bench sweep)."""
    kinds = {c.get("kind", spec.settings.get("kind")) for c in combos}
    for where, names in [("settings", spec.settings), *(("grid", g) for g in spec.grids)]:
        for name in names:
            if not kinds & KEYS[name].kinds:
                readers = ", ".join(sorted(KEYS[name].kinds))
                raise SpecError(
                    f"{spec.source}: {where}.{name} is read by {readers} jobs only, and this sweep runs "
                    f"{', '.join(sorted(kinds))}: remove it, or add a {readers} job"
                )


def _model(name: str, spec: Spec, loaded: dict[str, mujoco.MjModel]) -> str:
    """The model spec as jobs load it (relative paths made absolute), checked by loading it once."""
    path = Path(name).expanduser()
    if not path.is_absolute() and (spec.folder / path).is_file():
        name = str((spec.folder / path).resolve())
    if name not in loaded:
        try:
            loaded[name] = models.load(name).model
        except models.ModelError as err:
            raise SpecError(f"{spec.source}: model {files.short(name)} cannot be loaded: {err}") from None
    return name


def _check_job(params: dict[str, Any], mjm: mujoco.MjModel, spec: Spec) -> None:
    """What the job's own checks would refuse once it ran, refused now, naming the job's values."""
    kind, nworld = params["kind"], params["nworld"]
    where = f"{spec.source}: a {kind} job ({params['model']}, {params['engine']}, nworld {nworld})"
    worlds = params.get("worlds")
    if worlds and max(worlds) >= nworld:
        raise SpecError(
            f"{spec.source}: settings.worlds {files.short(worlds)} needs nworld > {max(worlds)}, but a job "
            f"has nworld = {nworld}: show fewer worlds or simulate more"
        )
    try:
        if kind == "record":
            simulation.check_frames(params["fps"], params["duration"])
            record.check_frame(len(worlds), params["width"], params["height"])
        if kind == "rollout":
            simulation.check_frames(params["rate"], params["duration"], "samples")
            shapes = rollout.sample_shapes(
                mjm, nworld, params["sensors"], params["frames"], params["height"], params["width"]
            )
            rollout.sample_bytes(shapes, params["shard_mb"])
        if kind in ("record", "rollout") and "camera" in params:
            cameras.resolve(mjm, cameras.CameraSpec(params["camera"]))
    except MjpodError as err:
        raise SpecError(f"{where}: {err}") from None
