"""Rollouts for learning: every world's state and camera images at a fixed rate, in shards.

Sample k is taken at simulation time k / rate (k = 0 is the initial state), the engine stepping in
between as `mjpod record` does for frames. Every world is sampled: its state through the engine's
`observe` (one copy per array for all worlds), its images by a renderer that draws every world and
camera at once (`batch`: one launch on the engine's device, copied straight into the shard; `gl`: world
by world through the host). The shards (jobs/shards.py: NPZ or HDF5, at most `shard_mb` each, written
while the rollout goes on) hold consecutive samples:

    time          (T,)                        float64  simulation time of each sample
    qpos          (T, nworld, nq)             float32
    qvel          (T, nworld, nv)             float32
    ctrl          (T, nworld, nu)             float32  the control in force during the last step before the sample
    sensordata    (T, nworld, nsensordata)    float32  sensors = true; computed at the sample's state
    rgb           (T, nworld, ncam, H, W, 3)  uint8    images: rgb, row 0 at the top
    depth         (T, nworld, ncam, H, W)     float32  images: depth, metres along the optical axis, 0 = no hit
    segmentation  (T, nworld, ncam, H, W, 2)  int32    images: segmentation, (object id, mjtObj type), -1 = none
    cam_xpos      (T, nworld, ncam, 3)        float32  with images: each camera's position ...
    cam_xmat      (T, nworld, ncam, 3, 3)     float32  ... and orientation (MuJoCo's camera frame)
    intrinsics    (ncam, 3, 3)                float64  with images: each camera's K (OpenCV), in every shard

render/images.py states the image conventions. `rollout.json` beside the shards says the rest: model,
engine, timestep, rate, names of joints, actuators, sensors and cameras, comfree gains per world, and
each shard's first sample and count.

With a policy (`--policy`, jobs/policy) the controls come from it: it is handed the same observation
a sample holds (the engine's `observe`, and with images the renderer's images and camera poses, drawn
once for both when it acts at a sample's state); a policy error ends the rollout with the samples
before it in whole shards and `ended: policy error` in rollout.json.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mujoco
import numpy as np

from mjpod import __version__, files, models, render
from mjpod.engines import DEFAULT_ENGINE, Engine, EngineConfig
from mjpod.errors import SettingError
from mjpod.host import sysinfo
from mjpod.jobs import policy as policies
from mjpod.jobs import simulation
from mjpod.jobs.shards import FORMATS, Layout, ShardWriter, file_overhead, host_bytes, sample_bytes
from mjpod.jobs.simulation import check_frames, gpu_used, make_engine, steps_before_frame
from mjpod.render import camera as cameras
from mjpod.render import egl
from mjpod.render import images as conventions
from mjpod.render.images import IMAGES, ImageSpec, Shapes

FORMAT = "mjpod-rollout/2"
META = "rollout.json"
MiB = 2**20


@dataclasses.dataclass(frozen=True)
class RolloutSettings:
    model: str
    engine: str = DEFAULT_ENGINE
    engine_config: EngineConfig = dataclasses.field(default_factory=EngineConfig)
    duration: float = 2.0
    rate: float = 50.0
    sensors: bool = True
    renderer: render.RendererKind = "gl"
    cameras: tuple[str, ...] = ()  # model camera names or ids (as text), or "free"; none: the first camera
    images: tuple[str, ...] = ()  # any of rgb, depth, segmentation; none: no images
    width: int = 320
    height: int = 240
    format: str = "npz"
    shard_mb: float = 256.0
    policy: str | None = None  # as RecordSettings.policy: the controller in the loop
    policy_hz: float | None = None

    @property
    def samples(self) -> int:
        return math.floor(self.duration * self.rate + 1e-9) + 1


@dataclasses.dataclass
class RolloutResult:
    samples: int  # taken (fewer than planned when stopped)
    steps: int
    shards: list[str]
    bytes: int
    wall_seconds: float  # model loaded to last shard written
    # after the first sample (kernels compiled, graphs captured) to the last shard written
    warm_seconds: float
    interrupted: bool = False


def default_output(model_name: str, engine: str) -> Path:
    """$MJPOD_WORKSPACE/rollouts, else ./rollouts; a timestamped folder."""
    return simulation.default_output("rollouts", model_name, engine)


def output_folder(path: Path) -> Path:
    """`path` made ready for a rollout: created when missing, refused when it holds one already."""
    if path.exists() and not path.is_dir():
        raise SettingError(f"{path} is a file: give a folder for the rollout (--out)")
    earlier = sorted(p.name for p in path.glob(f"{META}")) + sorted(p.name for p in path.glob("rollout-*"))
    if earlier:
        raise SettingError(
            f"{path} already holds a rollout ({', '.join(earlier[:3])}): choose another --out, or remove it"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SettingError(f"cannot make the output folder {path}: {err.strerror or err}") from None
    return path


def check(settings: RolloutSettings) -> None:
    """Refuse settings that cannot work before anything is loaded: each error names the key and the fix."""
    for key in ("duration", "rate", "shard_mb"):
        value = getattr(settings, key)
        if not (math.isfinite(value) and value > 0):
            raise SettingError(f"{key} must be a positive number, got {value}")
    check_frames(settings.rate, settings.duration, "samples")
    if settings.width < 1 or settings.height < 1:
        raise SettingError(
            f"width and height must be at least 1 pixel, got {settings.width}x{settings.height}"
        )
    unknown = [i for i in settings.images if i not in IMAGES]
    if unknown or len(set(settings.images)) < len(settings.images):
        raise SettingError(f"images {list(settings.images)}: list each of {', '.join(IMAGES)} at most once")
    if settings.renderer not in render.RENDERERS:
        raise SettingError(f"renderer must be {' or '.join(render.RENDERERS)}, got {settings.renderer!r}")
    if settings.images and settings.renderer == "batch" and settings.engine == "mjc":
        raise SettingError(
            "renderer = batch draws a Warp engine's worlds on its device, and engine mjc runs on the CPU: "
            "set engine to mjwarp or comfree, or renderer to gl"
        )
    check_format(settings.format)


def check_format(fmt: str) -> None:
    """A shard format this installation can write."""
    if fmt not in FORMATS:
        raise SettingError(f"format must be one of {', '.join(FORMATS)}, got {files.short(fmt)}")
    if fmt == "hdf5" and importlib.util.find_spec("h5py") is None:
        raise SettingError(
            "format = hdf5 needs h5py, which is not installed here: pip install h5py, or use npz"
        )


@dataclasses.dataclass(frozen=True)
class Plan:
    """A checked rollout: the model (with any added camera), what each sample holds, how shards split."""

    loaded: models.LoadedModel
    mjm: mujoco.MjModel
    spec: ImageSpec | None
    shapes: Shapes
    per_shard: int
    policy: policies.Policy | None = None  # loaded and checked against mjm
    engine_config: EngineConfig = dataclasses.field(default_factory=EngineConfig)  # as the policy drives


def plan(settings: RolloutSettings) -> Plan:
    """Load the model, resolve the cameras, size the shards and load the policy; refuses (before any
    engine starts) a camera the model lacks, images that do not fit in the device's or the host's
    memory, and a policy that cannot run this model."""
    check(settings)
    loaded = models.load(settings.model)
    mjm, spec = loaded.model, None
    if settings.images:
        mjm, ids = cameras.model_cameras(mjm, loaded.path, settings.cameras)
        spec = ImageSpec(ids, settings.images, settings.height, settings.width)
    elif settings.cameras:
        raise SettingError("cameras are chosen but no images: set images (rgb, depth, segmentation) too")
    shapes = sample_shapes(mjm, settings.engine_config.nworld, settings.sensors, spec)
    per_sample = sample_bytes(shapes)
    room = settings.shard_mb * MiB - file_overhead(settings.format, shapes)  # for the samples
    per_shard = max(1, min(settings.samples, int(room // per_sample)))
    device, drawn, free = _device_bytes(settings, spec)
    if free is not None:  # a GPU: the images must fit in its memory
        _fits(settings, spec, device, drawn, free)
    # the shard buffers in the host's memory (with Warp's cpu device, its image buffers there too)
    host = host_bytes(settings.format, per_shard, per_sample) + (drawn if free is None else 0)
    _fits(settings, spec, "the host", host, sysinfo.available_memory())
    check_shard(shapes, settings.shard_mb, settings.format)
    policy, config = policies.prepare(settings.policy, settings.policy_hz, mjm, settings.engine_config)
    return Plan(loaded, mjm, spec, shapes, per_shard, policy, config)


def sample_shapes(mjm: mujoco.MjModel, nworld: int, sensors: bool, spec: ImageSpec | None) -> Shapes:
    """The arrays of one sample, as the module docstring lists them."""
    shapes: Shapes = {
        "time": ((), np.float64),
        "qpos": ((nworld, mjm.nq), np.float32),
        "qvel": ((nworld, mjm.nv), np.float32),
        "ctrl": ((nworld, mjm.nu), np.float32),
    }
    if sensors:
        shapes["sensordata"] = ((nworld, mjm.nsensordata), np.float32)
    if spec is not None:
        shapes |= spec.arrays(nworld)
    return shapes


def check_shard(shapes: Shapes, shard_mb: float, fmt: str) -> int:
    """The bytes of one sample; a SettingError when a shard of one sample in `fmt` (its file's own
    structure counted) is larger than a shard may be (shards hold one sample at least, so `shard_mb`
    would not bound them)."""
    size = sample_bytes(shapes)
    need = size + file_overhead(fmt, shapes)
    if need > shard_mb * MiB:
        raise SettingError(
            f"a shard of one sample of every world is {need / MiB:,.1f} MiB as {fmt} (its arrays "
            f"{size / MiB:,.1f} MiB), more than shard_mb = {shard_mb:g}: raise shard_mb to at least "
            f"{math.ceil(need / MiB)}, or sample fewer worlds, cameras or pixels"
        )
    return size


def _fits(settings: RolloutSettings, spec: ImageSpec | None, where: str, need: int, free: int) -> None:
    if need > free:
        ncam = len(spec.cameras) if spec else 0
        raise SettingError(
            f"a rollout of {settings.engine_config.nworld} worlds x {ncam} camera(s) at "
            f"{settings.width}x{settings.height} ({', '.join(settings.images) or 'no images'}) needs "
            f"{need / 2**30:,.2f} GiB on {where}, which has {free / 2**30:,.2f} GiB free: sample fewer "
            "worlds, cameras or pixels (or lower shard_mb)"
        )


def _device_bytes(settings: RolloutSettings, spec: ImageSpec | None) -> tuple[str, int, int | None]:
    """Where the images are drawn, the bytes they take there, and what is free (None: the host's)."""
    if spec is None or settings.renderer != "batch":
        return "the host", 0, None
    from mjpod.engines import warp_setup
    from mjpod.render.batch import device_bytes

    device = warp_setup.device(settings.engine_config.device)
    return str(device.alias), device_bytes(settings.engine_config.nworld, spec), warp_setup.free_bytes(device)


def rollout(
    settings: RolloutSettings,
    folder: Path,
    stop: threading.Event | None = None,
    on_sample: Callable[[int, int], None] | None = None,
    planned: Plan | None = None,
) -> RolloutResult:
    """Simulate and write the shards and rollout.json into `folder` (which must exist).

    Every setting is checked first (`plan`, unless its result is given); a stop request ends the rollout
    after the current sample with whole shards and a rollout.json saying so, and so does a policy error
    (then raised as a PolicyFailed that says what was kept).
    """
    start = time.perf_counter()
    planned = planned or plan(settings)
    stop = stop or threading.Event()
    layout = Layout()
    if planned.spec is not None:
        names = cameras.camera_names(planned.mjm)
        layout = Layout(
            tuple(names[c] for c in planned.spec.cameras),
            {"intrinsics": _intrinsics(planned.mjm, planned.spec)},
        )
    mjm = planned.mjm
    with make_engine(planned.loaded.name, mjm, settings.engine, planned.engine_config) as engine:
        renderer = (
            None if planned.spec is None else render.make_images(settings.renderer, engine, planned.spec)
        )
        driven = policies.drive(engine, planned.policy, settings.policy_hz)
        images = _images_for(driven, renderer)
        try:
            with ShardWriter(folder, settings.format, planned.shapes, planned.per_shard, layout) as shards:
                ran = sample_loop(driven, images, shards, settings, stop, on_sample)
                written = shards.close()
        finally:
            if renderer is not None:
                renderer.close()
        gains = [engine.gains(w) for w in range(engine.nworld)]
        device = engine.device
        description = renderer.description if renderer is not None else None
        policy = driven.record() if isinstance(driven, policies.Controlled) else None
        gpu = gpu_used(egl.gpu_of(engine))
    end = time.perf_counter()
    meta = _meta(settings, planned, device, description, ran, written, gains, layout, policy)
    meta |= {"gpu": gpu, "egl_device": egl.report() if renderer is not None else None}  # where it ran, drew
    files.write_text(folder / META, json.dumps(meta, indent=2) + "\n")
    names = [s["file"] for s in written]
    if ran.failure is not None:
        raise ran.failure.kept(
            f"the {ran.taken} sample(s) before it in {len(names)} shard(s) in {folder} ({META} says ended: "
            "policy error)"
        )
    size = sum((folder / f).stat().st_size for f in names)
    warm = end - ran.warm_start if ran.warm_start is not None else 0.0
    return RolloutResult(ran.taken, ran.steps, names, size, end - start, warm, ran.taken < settings.samples)


@dataclasses.dataclass
class Ran:
    """What the sample loop did: samples taken, physics steps, when the first sample was in (what
    follows ran with compiled kernels), and the policy error that ended it, if one did."""

    taken: int = 0
    steps: int = 0
    warm_start: float | None = None
    failure: policies.PolicyFailed | None = None


Images = Callable[[dict[str, np.ndarray]], None]  # every world's images, into a sample's arrays


def _images_for(driven: Engine, renderer: render.ImageRenderer | None) -> Images | None:
    """How a sample gets its images: drawn straight into it, or, with a policy in the loop, drawn at
    most once per state into arrays the policy is handed too (`obs`: rgb, depth, segmentation,
    cam_xpos, cam_xmat as the shards hold them, drawn for it when it reads one) and copied into the
    sample."""
    if renderer is None:
        return None
    if not isinstance(driven, policies.Controlled):
        return renderer.render_into
    drawn = {
        name: np.empty(shape, dtype) for name, (shape, dtype) in renderer.spec.arrays(driven.nworld).items()
    }

    def draw() -> dict[str, np.ndarray]:
        renderer.render_into(drawn)
        return drawn

    shared = driven.observe_also(drawn, draw)

    def into(row: dict[str, np.ndarray]) -> None:
        for name, value in shared().items():
            row[name][...] = value

    return into


def sample_loop(
    engine: Engine,
    images: Images | None,
    shards: ShardWriter,
    settings: RolloutSettings,
    stop: threading.Event,
    on_sample: Callable[[int, int], None] | None = None,
) -> Ran:
    """The rollout itself: step every world to each sample's time (a Controlled engine asking its
    policy on the way), then take the sample (state from the engine, images from the renderer, into
    the shard's rows). Stops early at a stop request, or at a policy error with the samples before it."""
    ran, total = Ran(), settings.samples
    for k in range(total):
        if stop.is_set():
            return ran
        n = steps_before_frame(k, settings.rate, engine.timestep)
        try:
            if n:
                engine.step(n)
        except policies.PolicyFailed as err:  # the samples before it stay, in whole shards
            ran.steps, ran.failure = err.step, err
            return ran
        ran.steps += n
        row = shards.slot()
        row["time"][...] = ran.steps * engine.timestep
        for name, value in engine.observe(settings.sensors).items():
            row[name][...] = value
        if images is not None:
            images(row)
        shards.commit()
        ran.taken = k + 1
        if ran.warm_start is None:
            ran.warm_start = time.perf_counter()
        if on_sample:
            on_sample(k + 1, total)
    return ran


def _intrinsics(mjm: mujoco.MjModel, spec: ImageSpec) -> np.ndarray:
    return np.stack([conventions.intrinsics(mjm, c, spec.height, spec.width) for c in spec.cameras])


def _names(mjm: mujoco.MjModel, obj: mujoco.mjtObj, count: int) -> list[str]:
    return [
        mujoco.mj_id2name(mjm, obj, i) or f"{obj.name.removeprefix('mjOBJ_').lower()}{i}"
        for i in range(count)
    ]


def _meta(settings, planned, device, description, ran, written, gains, layout, policy) -> dict:
    mjm, spec, taken = planned.mjm, planned.spec, ran.taken
    ctrl = planned.engine_config.ctrl
    meta = {
        "format": FORMAT,
        "mjpod_version": __version__,
        "model": planned.loaded.name,
        "model_path": str(planned.loaded.path),
        "engine": settings.engine,
        "device": device,
        "nworld": settings.engine_config.nworld,
        "ctrl": ctrl
        if policy is None
        else f"policy {settings.policy}" + (" + noise" if ctrl == "noise" else ""),
        "seed": settings.engine_config.seed,
        "timestep": float(mjm.opt.timestep),
        "rate": settings.rate,
        "duration": settings.duration,
        "samples": taken,
        "samples_planned": settings.samples,
        "interrupted": taken < settings.samples,
        "ended": "policy error" if ran.failure else "stopped" if taken < settings.samples else "completed",
        "error": str(ran.failure) if ran.failure else None,
        "policy": policy,
        "steps": ran.steps,
        "shard_format": settings.format,
        "arrays": {
            k: {"shape": ["T", *s], "dtype": np.dtype(d).name} for k, (s, d) in planned.shapes.items()
        },
        "joints": _names(mjm, mujoco.mjtObj.mjOBJ_JOINT, mjm.njnt),
        "jnt_qposadr": mjm.jnt_qposadr.tolist(),
        "jnt_dofadr": mjm.jnt_dofadr.tolist(),
        "actuators": _names(mjm, mujoco.mjtObj.mjOBJ_ACTUATOR, mjm.nu),
        "sensors": _names(mjm, mujoco.mjtObj.mjOBJ_SENSOR, mjm.nsensor),
        "sensor_adr": mjm.sensor_adr.tolist(),
        "sensor_dim": mjm.sensor_dim.tolist(),
        "comfree_gains": [list(g) for g in gains] if gains and gains[0] is not None else None,
        "shards": written,
    }
    if spec is not None:
        intrinsics = layout.constants["intrinsics"]
        meta["images"] = {
            "renderer": settings.renderer,
            "drawn_by": description,
            "kinds": list(spec.images),
            "width": spec.width,
            "height": spec.height,
            "cameras": [
                {"name": name, "id": int(c), "fovy": float(mjm.cam_fovy[c]), "intrinsics": k.tolist()}
                for name, c, k in zip(layout.cameras, spec.cameras, intrinsics, strict=True)
            ],
            "depth": "float32 metres along the optical axis (planar), 0.0 where nothing is hit",
            "segmentation": "int32 (object id, object type) per pixel, (-1, -1) where nothing is drawn",
            "segmentation_types": conventions.object_types(),
            "orientation": "row 0 at the top",
            "intrinsics": "K per camera, OpenCV convention: pixel centres at integer (column, row)",
            "extrinsics": "cam_xpos, cam_xmat per sample and world: MuJoCo's camera frame "
            "(columns x right, y up, z backward) in world coordinates",
        }
    return meta
