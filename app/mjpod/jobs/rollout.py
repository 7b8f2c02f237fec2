"""Rollouts for learning: the state of every world at a fixed rate, in NPZ shards numpy reads alone.

Sample k is taken at simulation time k / rate (k = 0 is the initial state), with the engine stepping
in between as `mjpod record` does for frames. Each shard `rollout-NNNNN.npz` holds consecutive samples:

    time        (T,)                   float64  simulation time of each sample
    qpos        (T, nworld, nq)        float32
    qvel        (T, nworld, nv)        float32
    ctrl        (T, nworld, nu)        float32  the control in force during the last step before the sample
    sensordata  (T, nworld, nsensordata) float32  (sensors = true; computed at the sample's state)
    frames      (T, nworld, H, W, 3)   uint8    (frames = true; RGB, row 0 at the top)

`rollout.json` beside the shards says what they hold: model, engine, timestep, rate, names of joints,
actuators and sensors, comfree gains per world, and each shard's first sample and count. Shards are
written as they fill (at most `shard_mb` each), so memory stays flat however long the rollout.
Plain arrays only: `numpy.load(path)` reads them with allow_pickle left off.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import mujoco
import numpy as np

from mjpod import __version__, files, models, render
from mjpod.engines import DEFAULT_ENGINE, Engine, EngineConfig
from mjpod.errors import SettingError
from mjpod.jobs.simulation import check_frames, make_engine, steps_before_frame
from mjpod.render import camera as cameras

FORMAT = "mjpod-rollout/1"
META = "rollout.json"
Shapes = dict[str, tuple[tuple[int, ...], type]]  # one sample's arrays: name -> (shape, dtype)


@dataclasses.dataclass(frozen=True)
class RolloutSettings:
    model: str
    engine: str = DEFAULT_ENGINE
    engine_config: EngineConfig = dataclasses.field(default_factory=EngineConfig)
    duration: float = 2.0
    rate: float = 50.0
    sensors: bool = True
    frames: bool = False
    width: int = 320
    height: int = 240
    camera: str | None = None
    shard_mb: float = 256.0

    @property
    def samples(self) -> int:
        return math.floor(self.duration * self.rate + 1e-9) + 1


@dataclasses.dataclass
class RolloutResult:
    samples: int
    steps: int
    shards: list[str]
    bytes: int
    wall_seconds: float


class _Shards:
    """Buffers samples and writes a shard each time `per_shard` are in."""

    def __init__(self, folder: Path, shapes: Shapes, per_shard: int) -> None:
        self.folder, self.shapes, self.per_shard = folder, shapes, per_shard
        self.buffers = {k: np.empty((per_shard, *s), d) for k, (s, d) in shapes.items()}
        self.filled, self.first = 0, 0
        self.written: list[dict] = []

    def add(self, sample: dict[str, np.ndarray]) -> None:
        for k, v in sample.items():
            self.buffers[k][self.filled] = v
        self.filled += 1
        if self.filled == self.per_shard:
            self.flush()

    def flush(self) -> None:
        if not self.filled:
            return
        name = f"rollout-{len(self.written):05d}.npz"
        with files.replacing(self.folder / name, "wb") as f:
            np.savez(f, **{k: b[: self.filled] for k, b in self.buffers.items()})
        self.written.append({"file": name, "first_sample": self.first, "samples": self.filled})
        self.first += self.filled
        self.filled = 0


def sample_shapes(
    mjm: mujoco.MjModel, nworld: int, sensors: bool, frames: bool, height: int, width: int
) -> Shapes:
    """The arrays of one sample, as the module docstring lists them."""
    shapes: Shapes = {
        "time": ((), np.float64),
        "qpos": ((nworld, mjm.nq), np.float32),
        "qvel": ((nworld, mjm.nv), np.float32),
        "ctrl": ((nworld, mjm.nu), np.float32),
    }
    if sensors:
        shapes["sensordata"] = ((nworld, mjm.nsensordata), np.float32)
    if frames:
        shapes["frames"] = ((nworld, height, width, 3), np.uint8)
    return shapes


def sample_bytes(shapes: Shapes, shard_mb: float) -> int:
    """The bytes of one sample; a SettingError when one is larger than a shard may be (shards are
    written whole, one sample at least, so `shard_mb` would not bound them)."""
    size = sum(np.dtype(d).itemsize * math.prod(s) for s, d in shapes.values())
    if size > shard_mb * 2**20:
        raise SettingError(
            f"one sample of every world is {size / 2**20:.1f} MiB, more than shard_mb = {shard_mb:g}: "
            "raise shard_mb, or lower nworld (or the frame size)"
        )
    return size


def rollout(settings: RolloutSettings, folder: Path) -> RolloutResult:
    """Simulate and write the shards and rollout.json into `folder` (which must exist)."""
    check_frames(settings.rate, settings.duration, "samples")
    loaded = models.load(settings.model)
    mjm = loaded.model
    nworld = settings.engine_config.nworld
    shapes = sample_shapes(mjm, nworld, settings.sensors, settings.frames, settings.height, settings.width)
    per_sample = sample_bytes(shapes, settings.shard_mb)
    cam = cameras.resolve(mjm, cameras.CameraSpec(settings.camera)) if settings.frames else None
    per_shard = max(1, min(settings.samples, int(settings.shard_mb * 2**20 // per_sample)))
    shards = _Shards(folder, shapes, per_shard)
    timestep = float(mjm.opt.timestep)
    start = time.perf_counter()
    steps = 0
    mjd = mujoco.MjData(mjm)
    with make_engine(loaded.name, mjm, settings.engine, settings.engine_config) as engine:
        shown = range(nworld)  # every world's picture, as every world's state
        renderer = (
            None if cam is None else render.make("gl", engine, cam, settings.height, settings.width, shown)
        )
        try:
            for k in range(settings.samples):
                n = steps_before_frame(k, settings.rate, timestep)
                if n:
                    engine.step(n)
                steps += n
                shards.add(_sample(engine, mjd, steps * timestep, shapes, renderer))
        finally:
            if renderer is not None:
                renderer.close()
        gains = [engine.gains(w) for w in range(nworld)]
        device = engine.device
    shards.flush()
    wall = time.perf_counter() - start
    meta = _meta(settings, loaded, mjm, device, steps, shapes, shards.written, gains)
    files.write_text(folder / META, json.dumps(meta, indent=2) + "\n")
    written = [s["file"] for s in shards.written]
    size = sum((folder / f).stat().st_size for f in written)
    return RolloutResult(settings.samples, steps, written, size, wall)


def _sample(
    engine: Engine,
    mjd: mujoco.MjData,
    sim_time: float,
    shapes: Shapes,
    renderer: render.WorldRenderer | None,
) -> dict[str, np.ndarray]:
    """Every world's state now, through the engine interface (copied into one MjData at a time), and
    every world's picture from the renderer."""
    out = {k: np.empty(s, d) for k, (s, d) in shapes.items()}
    out["time"] = np.float64(sim_time)
    for w in range(engine.nworld):
        engine.get_world(w, mjd)
        out["qpos"][w], out["qvel"][w], out["ctrl"][w] = mjd.qpos, mjd.qvel, mjd.ctrl
        if "sensordata" in out:
            out["sensordata"][w] = mjd.sensordata
    if renderer is not None:
        out["frames"][:] = renderer.render()
    return out


def _names(mjm: mujoco.MjModel, obj: mujoco.mjtObj, count: int) -> list[str]:
    return [
        mujoco.mj_id2name(mjm, obj, i) or f"{obj.name.removeprefix('mjOBJ_').lower()}{i}"
        for i in range(count)
    ]


def _meta(settings, loaded, mjm, device, steps, shapes, written, gains) -> dict:
    return {
        "format": FORMAT,
        "mjpod_version": __version__,
        "model": loaded.name,
        "model_path": str(loaded.path),
        "engine": settings.engine,
        "device": device,
        "nworld": settings.engine_config.nworld,
        "ctrl": settings.engine_config.ctrl,
        "seed": settings.engine_config.seed,
        "timestep": float(mjm.opt.timestep),
        "rate": settings.rate,
        "duration": settings.duration,
        "samples": settings.samples,
        "steps": steps,
        "arrays": {k: {"shape": ["T", *s], "dtype": np.dtype(d).name} for k, (s, d) in shapes.items()},
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
