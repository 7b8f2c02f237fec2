"""Camera data for learning: which images of which cameras, their arrays, and the conventions both
renderers keep, so a dataset reads the same whoever drew it (docs/sweep.md, "Camera data").

- `rgb`: uint8 (H, W, 3), row 0 at the top (as GL's images and every image file).
- `depth`: float32 (H, W), metres along the camera's optical axis (planar depth: the distance of the
  hit point from the camera's image plane, what GL's depth buffer gives once converted, not the
  length of the ray), and `NO_HIT` (0.0) where the pixel sees nothing before the far plane.
- `segmentation`: int32 (H, W, 2), the (object id, object type) the pixel shows: type is MuJoCo's
  mjtObj (`object_types()`; 5 = geom, the id then a geom id), (-1, -1) where it shows nothing.
- the cameras: `intrinsics` K (3x3, OpenCV's convention: pixel centres at integer (column, row),
  x right, y down, z forward) per camera, fixed for a rollout; and where each camera is, per world and
  sample: `cam_xpos` (3,) and `cam_xmat` (3x3, row-major, columns the camera's x right, y up and z
  backward axes in the world, MuJoCo's camera frame), so depth back-projects to world points.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

IMAGES = ("rgb", "depth", "segmentation")
NO_HIT = 0.0  # depth where a pixel sees nothing (as depth cameras report a missing return)
BACKGROUND = (-1, -1)  # segmentation where a pixel sees nothing
_PIXEL = {"rgb": ((3,), np.uint8), "depth": ((), np.float32), "segmentation": ((2,), np.int32)}

Shapes = dict[str, tuple[tuple[int, ...], type]]


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """What to draw in every world: the model cameras (ids, in order), the images, the size."""

    cameras: tuple[int, ...]
    images: tuple[str, ...]
    height: int
    width: int

    def arrays(self, nworld: int) -> Shapes:
        """One sample's arrays: each image kind (nworld, ncam, H, W, ...) and the camera poses."""
        ncam = len(self.cameras)
        shapes: Shapes = {
            name: ((nworld, ncam, self.height, self.width, *pixel), dtype)
            for name, (pixel, dtype) in _PIXEL.items()
            if name in self.images
        }
        shapes["cam_xpos"] = ((nworld, ncam, 3), np.float32)
        shapes["cam_xmat"] = ((nworld, ncam, 3, 3), np.float32)
        return shapes

    def pixel_bytes(self) -> int:
        """Bytes of one pixel of every chosen image kind, together."""
        return sum(
            np.dtype(dtype).itemsize * math.prod(pixel)
            for name, (pixel, dtype) in _PIXEL.items()
            if name in self.images
        )


def object_types() -> dict[int, str]:
    """What a segmentation type number means: MuJoCo's mjtObj, e.g. {5: "geom", 9: "flex", ...}."""
    return {int(v): k.removeprefix("mjOBJ_").lower() for k, v in mujoco.mjtObj.__members__.items()}


def intrinsics(mjm: mujoco.MjModel, camera: int, height: int, width: int) -> np.ndarray:
    """K (3x3) of a perspective model camera drawn at `width` x `height`, OpenCV's convention.

    The frustum is the one both renderers use: from the vertical field of view (`fovy`, the aspect
    from the image), or from a physical camera's `sensorsize` and `focal`/`principal` (cropped to the
    image's aspect, as mujoco_warp's ray generation and GL do).
    """
    aspect = width / height
    sensor_w, sensor_h = (float(v) for v in mjm.cam_sensorsize[camera])
    if sensor_h:
        fx, fy, cx, cy = (float(v) for v in mjm.cam_intrinsic[camera])
        if aspect > sensor_w / sensor_h:
            sensor_h = sensor_w / aspect
        elif aspect < sensor_w / sensor_h:
            sensor_w = sensor_h * aspect
        left, right = -(sensor_w / 2 - cx) / fx, (sensor_w / 2 + cx) / fx
        top, bottom = (sensor_h / 2 - cy) / fy, -(sensor_h / 2 + cy) / fy
    else:
        half = math.tan(math.radians(float(mjm.cam_fovy[camera])) / 2)
        left, right, top, bottom = -half * aspect, half * aspect, half, -half
    # the image plane at distance 1: pixel column c covers x in left + (right - left) * [c, c + 1] / W
    fx_pix, fy_pix = width / (right - left), height / (top - bottom)
    return np.array([[fx_pix, 0.0, -left * fx_pix - 0.5], [0.0, fy_pix, top * fy_pix - 0.5], [0.0, 0.0, 1.0]])
