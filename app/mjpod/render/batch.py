"""mujoco_warp's ray-traced batch renderer: one launch draws every world and camera from the engine's
device state.

This is what scales on datacenter GPUs (H100/H200 have almost no raster hardware): rays run on
CUDA cores. Images use the GL renderer's conventions (render/images.py): RGB uint8 with row 0 at the
top, planar depth in metres, (object id, type) segmentation, the same cameras.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco_warp as mjw
import numpy as np
import warp as wp

from mjpod.engines import warp_setup
from mjpod.engines.mjwarp import MjWarpEngine
from mjpod.errors import MjpodError
from mjpod.render.images import IMAGES, ImageSpec

# bytes per pixel of every world and camera on the device: the render context's packed RGB, depth
# and (object id, type) buffers, and the unpacked RGB copied out (images(...) adds those asked for)
_DEVICE_BYTES = {"rgb": 4 + 3, "depth": 4, "segmentation": 8}


class BatchRenderError(MjpodError, ValueError):
    """The batch renderer cannot run with these settings; the message says what to change."""


@wp.kernel
def _unpack_worlds(
    packed: wp.array2d(dtype=wp.uint32),
    offset: int,
    worlds: wp.array(dtype=wp.int32),
    out: wp.array4d(dtype=wp.uint8),
):
    """Packed 0xAARRGGBB pixels of the chosen worlds -> (world, row, col, rgb) bytes."""
    i, y, x = wp.tid()
    value = packed[worlds[i], offset + y * out.shape[2] + x]
    out[i, y, x, 0] = wp.uint8((value >> wp.uint32(16)) & wp.uint32(0xFF))
    out[i, y, x, 1] = wp.uint8((value >> wp.uint32(8)) & wp.uint32(0xFF))
    out[i, y, x, 2] = wp.uint8(value & wp.uint32(0xFF))


@wp.kernel
def _unpack_all(packed: wp.array2d(dtype=wp.uint32), out: wp.array3d(dtype=wp.uint8)):
    """Packed 0xAARRGGBB pixels of every world and camera -> (world, pixel, rgb) bytes."""
    w, i = wp.tid()
    value = packed[w, i]
    out[w, i, 0] = wp.uint8((value >> wp.uint32(16)) & wp.uint32(0xFF))
    out[w, i, 1] = wp.uint8((value >> wp.uint32(8)) & wp.uint32(0xFF))
    out[w, i, 2] = wp.uint8(value & wp.uint32(0xFF))


def device_bytes(nworld: int, spec: ImageSpec) -> int:
    """Device memory the images of `spec` take in `nworld` worlds (render buffers and copies out)."""
    per_pixel = sum(_DEVICE_BYTES[name] for name in spec.images) or _DEVICE_BYTES["rgb"]
    return nworld * len(spec.cameras) * spec.height * spec.width * per_pixel


def _host(array: np.ndarray, dtype: type, inner: tuple[int, ...] = ()) -> wp.array:
    """A Warp view of a contiguous host array, so a device-to-host copy lands straight in it."""
    if not array.flags.c_contiguous:
        raise ValueError("images are copied into contiguous host arrays only")
    return wp.array(array.reshape(-1, *inner), dtype=dtype, device="cpu", copy=False)


class BatchRenderer:
    """Draws model cameras in every world of a Warp engine at once. `render` hands back the RGB frames
    of the worlds asked for from the first camera (the WorldRenderer of record and the bench);
    `render_into` writes every world's images of every camera, and the cameras' poses, into host arrays
    (a rollout's sample) with one copy per image kind."""

    def __init__(
        self,
        engine: MjWarpEngine,
        camera: int | Sequence[int],
        height: int,
        width: int,
        worlds: Sequence[int] = (0,),
        images: Sequence[str] = ("rgb",),
    ) -> None:
        if not isinstance(engine, MjWarpEngine):
            raise BatchRenderError(
                f"the batch renderer draws a Warp engine's worlds; engine {engine.name!r} is not one. "
                "Use --engine mjwarp (or comfree), or --renderer gl"
            )
        cameras = (camera,) if isinstance(camera, int) else tuple(camera)
        bad_cameras = [c for c in cameras if not 0 <= c < engine.mjm.ncam]
        if bad_cameras or not cameras:
            raise BatchRenderError(f"the batch renderer needs model camera ids; got {list(cameras)}")
        bad = [w for w in worlds if not 0 <= w < engine.nworld]
        if bad or not worlds:
            raise BatchRenderError(f"worlds {list(worlds)} must lie in 0..{engine.nworld - 1}")
        unknown = [i for i in images if i not in IMAGES]
        if unknown or not images:
            raise BatchRenderError(f"images {list(images)}: choose one or more of {', '.join(IMAGES)}")
        self.engine, self.height, self.width = engine, height, width
        self.spec = ImageSpec(cameras, tuple(images), height, width)
        self.description = f"mujoco_warp batch ray tracer on {engine.device}"
        self._device = wp.get_device(engine.device)
        with wp.ScopedDevice(self._device):
            self.rc = mjw.create_render_context(
                engine.mjm,
                nworld=engine.nworld,
                cam_res=(width, height),
                render_rgb="rgb" in images,
                render_depth="depth" in images,
                render_seg="segmentation" in images,
                # as GL draws the scene (skybox, textures, no shadows), and as mjwarp-testspeed's defaults
                # draw it, so its --function=render figure measures the same work (bench/video.py)
                render_skybox=True,
                use_textures=True,
                use_shadows=False,
                cam_active=list(cameras),
            )
            self._worlds = wp.array(np.asarray(worlds, dtype=np.int32), dtype=wp.int32)
        self._offset = int(self.rc.rgb_adr.numpy()[0])  # of the first camera's RGB pixels
        self._out: wp.array | None = None  # render()'s frames, made when first asked for
        self._rgb: wp.array | None = None  # render_into's unpacked RGB of every world and camera
        self._cameras = np.asarray(cameras)
        self._graphs: dict[bool, object] | None = {} if engine.config.cuda_graph else None

    def _launch(self, update_poses: bool) -> None:
        m, d = self.engine.m, self.engine.d
        if update_poses:
            mjw.kinematics(m, d)
            mjw.camlight(m, d)
        mjw.refit_bvh(m, d, self.rc)
        mjw.render(m, d, self.rc)

    def draw(self, update_poses: bool = True) -> None:
        """Ray-trace every world into the device buffers (no copy to the host); on CUDA, a graph replay.

        A physics step leaves body poses from before its integration; `update_poses` recomputes them
        from the current qpos so the image shows the state a GL frame of the same world shows.
        `update_poses=False` is exactly what mjwarp-testspeed --function=render times: refit + render.
        """
        warp_setup.run_captured(self._device, self._graphs, update_poses, lambda: self._launch(update_poses))

    def sync(self) -> None:
        wp.synchronize_device(self._device)

    def render(self) -> np.ndarray:
        """RGB frames of the chosen worlds from the first camera: (len(worlds), height, width, 3) uint8."""
        self.draw()
        if self._offset < 0:
            raise BatchRenderError("this batch renderer draws no RGB: make it with images including rgb")
        with wp.ScopedDevice(self._device):
            if self._out is None:
                self._out = wp.empty((len(self._worlds), self.height, self.width, 3), dtype=wp.uint8)
            wp.launch(
                _unpack_worlds,
                dim=self._out.shape[:3],
                inputs=[self.rc.rgb_data, self._offset, self._worlds],
                outputs=[self._out],
            )
            return self._out.numpy()

    def render_into(self, out: dict[str, np.ndarray]) -> None:
        """Every world's images of every camera, as they are now, into `out` (the arrays of
        `self.spec.arrays(nworld)`, contiguous): one launch draws them all, one copy per kind lands them."""
        self.draw()
        rc = self.rc
        with wp.ScopedDevice(self._device):
            if "rgb" in out:
                if self._rgb is None:
                    self._rgb = wp.empty((*rc.rgb_data.shape, 3), dtype=wp.uint8)
                wp.launch(_unpack_all, dim=rc.rgb_data.shape, inputs=[rc.rgb_data], outputs=[self._rgb])
                wp.copy(_host(out["rgb"], wp.uint8), self._rgb)
            if "depth" in out:
                wp.copy(_host(out["depth"], wp.float32), rc.depth_data)
            if "segmentation" in out:
                wp.copy(_host(out["segmentation"], wp.vec2i, (2,)), rc.seg_data)
        d = self.engine.d
        out["cam_xpos"][:] = d.cam_xpos.numpy()[:, self._cameras]
        out["cam_xmat"][:] = d.cam_xmat.numpy()[:, self._cameras]

    def close(self) -> None:
        """Nothing to release early: the device buffers go with the renderer."""
