"""mujoco_warp's ray-traced batch renderer: one launch draws every world from the engine's device state.

This is what scales on datacenter GPUs (H100/H200 have almost no raster hardware): rays run on
CUDA cores. Images use the GL renderer's conventions: RGB uint8, row 0 at the top, the same camera.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco_warp as mjw
import numpy as np
import warp as wp

from mjpod.engines.mjwarp import MjWarpEngine
from mjpod.errors import MjpodError


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


class BatchRenderer:
    """Draws one model camera in all of an engine's worlds at once; hands back the worlds asked for."""

    def __init__(
        self, engine: MjWarpEngine, camera: int, height: int, width: int, worlds: Sequence[int] = (0,)
    ) -> None:
        if not isinstance(engine, MjWarpEngine):
            raise BatchRenderError(
                f"the batch renderer draws a Warp engine's worlds; engine {engine.name!r} is not one. "
                "Use --engine mjwarp (or comfree), or --renderer gl"
            )
        if not 0 <= camera < engine.mjm.ncam:
            raise BatchRenderError(f"the batch renderer needs a model camera id; got {camera}")
        bad = [w for w in worlds if not 0 <= w < engine.nworld]
        if bad or not worlds:
            raise BatchRenderError(f"worlds {list(worlds)} must lie in 0..{engine.nworld - 1}")
        self.engine, self.height, self.width = engine, height, width
        self.description = f"mujoco_warp batch ray tracer on {engine.device}"
        self._device = wp.get_device(engine.device)
        with wp.ScopedDevice(self._device):
            self.rc = mjw.create_render_context(
                engine.mjm,
                nworld=engine.nworld,
                cam_res=(width, height),
                render_rgb=True,
                render_depth=False,
                # as GL draws the scene (skybox, textures, no shadows), and as mjwarp-testspeed's defaults
                # draw it, so its --function=render figure measures the same work (bench/video.py)
                render_skybox=True,
                use_textures=True,
                use_shadows=False,
                cam_active=[camera],
            )
            self._worlds = wp.array(np.asarray(worlds, dtype=np.int32), dtype=wp.int32)
            self._out = wp.empty((len(worlds), height, width, 3), dtype=wp.uint8)
        self._offset = int(self.rc.rgb_adr.numpy()[0])
        self._graphs: dict[bool, object] = {}

    def _launch(self, update_poses: bool) -> None:
        m, d = self.engine.m, self.engine.d
        if update_poses:
            mjw.kinematics(m, d)
            mjw.camlight(m, d)
        mjw.refit_bvh(m, d, self.rc)
        mjw.render(m, d, self.rc)

    def draw(self, update_poses: bool = True) -> None:
        """Ray-trace every world into the device buffer (no copy to the host); on CUDA, a graph replay.

        A physics step leaves body poses from before its integration; `update_poses` recomputes them
        from the current qpos so the image shows the state a GL frame of the same world shows.
        `update_poses=False` is exactly what mjwarp-testspeed --function=render times: refit + render.
        """
        with wp.ScopedDevice(self._device):
            if not (self._device.is_cuda and self.engine.config.cuda_graph):
                self._launch(update_poses)
            elif update_poses not in self._graphs:
                self._launch(update_poses)  # loads the kernels, which must happen before a capture
                with wp.ScopedCapture() as capture:
                    self._launch(update_poses)
                self._graphs[update_poses] = capture.graph
            else:
                wp.capture_launch(self._graphs[update_poses])

    def sync(self) -> None:
        wp.synchronize_device(self._device)

    def render(self) -> np.ndarray:
        """RGB frames of the chosen worlds: (len(worlds), height, width, 3) uint8."""
        self.draw()
        with wp.ScopedDevice(self._device):
            wp.launch(
                _unpack_worlds,
                dim=self._out.shape[:3],
                inputs=[self.rc.rgb_data, self._offset, self._worlds],
                outputs=[self._out],
            )
            return self._out.numpy()

    def close(self) -> None:
        """Nothing to release early: the device buffers go with the renderer."""
