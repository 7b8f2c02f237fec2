"""Which camera a recording looks through, named the same way for both renderers.

A camera is a model camera (by name or id) or a free camera (azimuth, elevation, distance, lookat,
as in MuJoCo's viewer). The GL renderer takes a free camera as an `MjvCamera`; the batch renderer
only draws model cameras, so for it the free camera is added to the model at the very pose MuJoCo
gives the free one (`mjv_cameraFrame`), which keeps the two images the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import mujoco
import numpy as np

from mjpod.errors import MjpodError

FREE = "free"
ADDED_CAMERA = "mjpod_free"


class CameraError(MjpodError, ValueError):
    """A camera that cannot be used: the message lists what the model offers."""


@dataclasses.dataclass(frozen=True)
class CameraSpec:
    """`name` is a model camera name, its id as text, "free", or None (the model's first camera,
    else a free camera framing the whole model). Free-camera fields left None keep MuJoCo's defaults."""

    name: str | None = None
    azimuth: float | None = None
    elevation: float | None = None
    distance: float | None = None
    lookat: tuple[float, float, float] | None = None

    @property
    def wants_free(self) -> bool:
        fields = (self.azimuth, self.elevation, self.distance, self.lookat)
        return self.name == FREE or any(v is not None for v in fields)


def camera_names(mjm: mujoco.MjModel) -> list[str]:
    return [mujoco.mj_id2name(mjm, mujoco.mjtObj.mjOBJ_CAMERA, i) or f"#{i}" for i in range(mjm.ncam)]


def resolve(mjm: mujoco.MjModel, spec: CameraSpec) -> int | mujoco.MjvCamera:
    """A model camera id, or a free `MjvCamera` set up from the spec."""
    if spec.wants_free:
        if spec.name not in (None, FREE):
            raise CameraError(
                f"camera {spec.name!r} is a model camera; --azimuth/--elevation/--distance/--lookat "
                "only apply to the free camera (use --camera free or leave --camera out)"
            )
        return free_camera(mjm, spec)
    if spec.name is None:
        return 0 if mjm.ncam else free_camera(mjm, spec)
    if spec.name.lstrip("-").isdigit():
        cam_id = int(spec.name)
        if not 0 <= cam_id < mjm.ncam:
            raise CameraError(
                f"camera id {cam_id} out of range: the model has {mjm.ncam} camera(s) "
                f"({', '.join(camera_names(mjm)) or 'none'}); or use --camera free"
            )
        return cam_id
    cam_id = mujoco.mj_name2id(mjm, mujoco.mjtObj.mjOBJ_CAMERA, spec.name)
    if cam_id < 0:
        raise CameraError(
            f"unknown camera {spec.name!r}; the model's cameras: {', '.join(camera_names(mjm)) or 'none'}; "
            "or use --camera free with --azimuth/--elevation/--distance/--lookat"
        )
    return cam_id


def free_camera(mjm: mujoco.MjModel, spec: CameraSpec) -> mujoco.MjvCamera:
    """MuJoCo's default free camera for the model (it frames the whole scene), then the spec's overrides."""
    cam = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(mjm, cam)
    if spec.azimuth is not None:
        cam.azimuth = spec.azimuth
    if spec.elevation is not None:
        cam.elevation = spec.elevation
    if spec.distance is not None:
        if spec.distance <= 0:
            raise CameraError(f"--distance must be positive, got {spec.distance}")
        cam.distance = spec.distance
    if spec.lookat is not None:
        cam.lookat[:] = spec.lookat
    return cam


def with_model_camera(mjm: mujoco.MjModel, path: Path, cam: mujoco.MjvCamera) -> tuple[mujoco.MjModel, int]:
    """Recompile the model from `path` with a fixed world camera where the free camera `cam` looks from.

    The added camera changes no physics; returns the new model and the camera's id.
    """
    if Path(path).suffix.lower() == ".mjb":
        raise CameraError(
            f"{path} is a compiled .mjb, which cannot take an added camera: the batch renderer draws "
            "model cameras only. Use --camera NAME, the XML model, or --renderer gl for a free camera."
        )
    mjd = mujoco.MjData(mjm)
    mujoco.mj_forward(mjm, mjd)
    headpos, forward, up, right = (np.zeros(3) for _ in range(4))
    mujoco.mjv_cameraFrame(headpos, forward, up, right, mjd, cam)
    quat = np.zeros(4)  # a MuJoCo camera looks along its -z with +y up: columns right, up, -forward
    mujoco.mju_mat2Quat(quat, np.column_stack([right, up, -forward]).ravel())
    spec = mujoco.MjSpec.from_file(str(path))
    spec.worldbody.add_camera(name=ADDED_CAMERA, pos=headpos, quat=quat, fovy=float(mjm.vis.global_.fovy))
    model = spec.compile()
    model.vis.global_.offwidth = mjm.vis.global_.offwidth
    model.vis.global_.offheight = mjm.vis.global_.offheight
    return model, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, ADDED_CAMERA)


def model_cameras(
    mjm: mujoco.MjModel, path: Path, names: Sequence[str | int]
) -> tuple[mujoco.MjModel, tuple[int, ...]]:
    """The cameras `names` ask for (model camera names or ids, or "free"), as model camera ids in order.

    No names: the model's first camera, or the free camera when it has none. "free" is MuJoCo's default
    free camera added to the model as a fixed camera (`with_model_camera`), so every camera drawn has an
    id, a pose and intrinsics in the model; the returned model is then that recompiled one. Unknown,
    repeated and orthographic cameras are refused, naming `cameras` and what the model offers.
    """
    wanted = [str(n) for n in names] or ["0" if mjm.ncam else FREE]
    offered = f"the model's cameras: {', '.join(camera_names(mjm)) or 'none'} (by name or id), or {FREE}"
    repeated = sorted({n for n in wanted if wanted.count(n) > 1})
    if repeated:
        raise CameraError(f"cameras lists {', '.join(repeated)} more than once: name each camera once")
    ids: list[int | None] = []  # None: the free camera
    for name in wanted:
        if name == FREE:
            ids.append(None)
            continue
        cam_id = (
            int(name)
            if name.lstrip("-").isdigit()
            else mujoco.mj_name2id(mjm, mujoco.mjtObj.mjOBJ_CAMERA, name)
        )
        if not 0 <= cam_id < mjm.ncam:
            raise CameraError(f"cameras: no camera {name!r} in this model; {offered}")
        if mjm.cam_projection[cam_id] == mujoco.mjtProjection.mjPROJ_ORTHOGRAPHIC:
            raise CameraError(
                f"cameras: {name!r} is an orthographic camera, which has no perspective intrinsics for "
                f"depth to back-project with; choose a perspective one ({offered})"
            )
        ids.append(cam_id)
    if None not in ids:
        return mjm, tuple(i for i in ids if i is not None)
    model, added = with_model_camera(mjm, path, free_camera(mjm, CameraSpec()))
    # the added camera sits among the world body's cameras: ids from `added` on move up by one
    return model, tuple(added if i is None else i + (i >= added) for i in ids)
