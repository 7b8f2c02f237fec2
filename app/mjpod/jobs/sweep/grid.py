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
from mjpod.engines import EngineConfig
from mjpod.errors import MjpodError
from mjpod.jobs import policy as policies
from mjpod.jobs import record, rollout, simulation
from mjpod.jobs.sweep.keys import KEYS, RESOURCE_KEYS, SCENE_KINDS, TIMEOUT_S
from mjpod.jobs.sweep.spec import Spec, SpecError
from mjpod.render import camera as cameras
from mjpod.render.images import ImageSpec


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    params: dict[str, Any]  # JSON-ready: what the job runs with
    cpus: float
    gpus: float  # asked for only when the job runs on cuda
    timeout_s: float  # past it the job is stopped and recorded failed (Ray only)

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
    """`kind-model-engine-nN-sS-<hash>` (what the kind has of these): readable in a folder listing,
    unique by the hash."""
    model = params["model"]
    if model.endswith((".xml", ".mjb")):
        model = Path(model).stem
    parts = [params["kind"], re.sub(r"[^A-Za-z0-9_.]+", "-", model)[:40], params.get("engine")]
    parts += [f"{letter}{params[key]}" for letter, key in (("n", "nworld"), ("s", "seed")) if key in params]
    stem = "-".join(p for p in parts if p)
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
    loaded: dict[str, models.LoadedModel] = {}
    checked: dict[tuple, dict[str, str]] = {}
    jobs: dict[str, Job] = {}
    for combo in combos:
        given = {**spec.settings, **combo}
        params = _params(given)
        params["model"] = _model(params["model"], spec, loaded)
        _check_job(params, loaded[params["model"]], spec)
        if "policy" in params:
            params.update(_policy(params, loaded[params["model"]].model, spec, checked))
        elif "policy_hz" in params:
            raise SpecError(f"{spec.source}: policy_hz is set but no policy: give policy too, or remove it")
        timeout = given.get("timeout_s") or TIMEOUT_S[params["kind"]]
        job = Job(job_id(params), params, cpus, gpus, timeout)
        earlier = jobs.setdefault(job.id, job)
        if earlier.timeout_s != job.timeout_s:
            raise SpecError(
                f"{spec.source}: job {job.id} is listed with timeout_s {earlier.timeout_s:g} and "
                f"{job.timeout_s:g}: give each job one timeout"
            )
    return list(jobs.values())


def _params(given: dict[str, Any]) -> dict[str, Any]:
    """Defaults, then the given values; only the keys this kind and engine read; no empty values."""
    kind = given["kind"]
    engine = given.get("engine", KEYS["engine"].default) if kind in KEYS["engine"].kinds else None
    params = {}
    for name, key in KEYS.items():
        if not key.param or kind not in key.kinds:
            continue
        if key.engines is not None and engine is not None and engine not in key.engines:
            continue
        value = given.get(name, key.default)
        if name == "ctrl" and "ctrl" not in given:
            value = policies.default_ctrl(given.get("policy"))
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


def _model(name: str, spec: Spec, loaded: dict[str, models.LoadedModel]) -> str:
    """The model spec as jobs load it (relative paths made absolute), checked by loading it once."""
    path = Path(name).expanduser()
    if not path.is_absolute() and (spec.folder / path).is_file():
        name = str((spec.folder / path).resolve())
    if name not in loaded:
        try:
            loaded[name] = models.load(name)
        except models.ModelError as err:
            raise SpecError(f"{spec.source}: model {files.short(name)} cannot be loaded: {err}") from None
    return name


def _check_job(params: dict[str, Any], model: models.LoadedModel, spec: Spec) -> None:
    """What the job's own checks would refuse once it ran, refused now, naming the job's values."""
    kind = params["kind"]
    if kind not in SCENE_KINDS:  # bench and probe jobs check nothing more here
        return
    nworld = params["nworld"]
    where = f"{spec.source}: a {kind} job ({params['model']}, {params['engine']}, nworld {nworld})"
    worlds = params.get("worlds")
    if worlds and max(worlds) >= nworld:
        raise SpecError(
            f"{spec.source}: settings.worlds {files.short(worlds)} needs nworld > {max(worlds)}, but a job "
            f"has nworld = {nworld}: show fewer worlds or simulate more"
        )
    drawn = kind == "record" or bool(params.get("images"))
    if drawn and params.get("renderer") == "batch" and params["engine"] == "mjc":
        raise SpecError(
            f"{where}: renderer = batch draws a Warp engine's worlds, and this job's engine is mjc: sweep "
            "mjwarp or comfree with it, or pair batch with the Warp engines in a [[grid]] table of their own "
            "and gl with mjc in another"
        )
    if kind == "rollout" and params.get("cameras") and not params["images"]:
        raise SpecError(f'{where}: cameras is set but images is empty: set images (e.g. ["rgb", "depth"])')
    try:
        if kind == "record":
            simulation.check_frames(params["fps"], params["duration"])
            record.check_frame(len(worlds), params["width"], params["height"])
            if "camera" in params:
                cameras.resolve(model.model, cameras.CameraSpec(params["camera"]))
        if kind == "rollout":
            simulation.check_frames(params["rate"], params["duration"], "samples")
            rollout.check_format(params["format"])
            mjm, image_spec = model.model, None
            if params["images"]:
                mjm, ids = cameras.model_cameras(mjm, model.path, params.get("cameras") or ())
                image_spec = ImageSpec(ids, tuple(params["images"]), params["height"], params["width"])
            shapes = rollout.sample_shapes(mjm, nworld, params["sensors"], image_spec)
            rollout.check_shard(shapes, params["shard_mb"], params["format"])
    except MjpodError as err:
        raise SpecError(f"{where}: {err}") from None


def _policy(
    params: dict[str, Any], mjm: mujoco.MjModel, spec: Spec, checked: dict[tuple, dict[str, str]]
) -> dict[str, str]:
    """The job's policy as workers load it (paths made absolute) with its file's SHA-256, so editing
    the file makes new jobs; loaded once per model and nworld to check it fits (an ONNX model's
    inputs and outputs, a Python policy's import and signature) before any job starts."""
    given, model, nworld = params["policy"], params["model"], params["nworld"]
    key = (given, model, nworld, params.get("policy_hz"), params["ctrl"])
    if key not in checked:
        try:
            source = policies.resolve(given, spec.folder)
            policies.prepare(
                given, params.get("policy_hz"), mjm, EngineConfig(nworld, ctrl=params["ctrl"]), spec.folder
            )
        except policies.PolicyError as err:
            raise SpecError(
                f"{spec.source}: policy {files.short(given)} with model {files.short(model)}: {err}"
            ) from None
        if source.kind == "onnx" or source.module is None:
            name = str(source.path) + (f":{source.attribute}" if source.kind == "python" else "")
        else:
            name = source.spec
        checked[key] = {"policy": name, "policy_sha256": source.sha256 or ""}
    return checked[key]
