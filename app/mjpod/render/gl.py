"""OpenGL rendering through mujoco.Renderer, and what GL really runs underneath it.

The backend comes from MUJOCO_GL (egl on servers); `gl_info` asks the driver for GL_RENDERER so a
benchmark can say whether it measured the NVIDIA driver or Mesa's software rasteriser.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from mjpod.errors import MjpodError
from mjpod.render.images import NO_HIT, ImageSpec

if TYPE_CHECKING:
    from mjpod.engines import Engine

SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "osmesa", "lavapipe", "software rasterizer")


class GLFrameError(MjpodError, ValueError):
    """A frame size the GL context cannot allocate; the message gives the largest side it takes."""


@dataclasses.dataclass(frozen=True)
class GLInfo:
    """The GL implementation a context really got."""

    backend: str  # MUJOCO_GL: egl, osmesa, glfw
    renderer: str  # GL_RENDERER, e.g. "NVIDIA H100 80GB HBM3/PCIe/SSE2" or "llvmpipe (LLVM 15.0.6, 256 bits)"
    vendor: str
    version: str

    @property
    def software(self) -> bool:
        """True when pixels are drawn by the CPU (llvmpipe, OSMesa) rather than a GPU."""
        return any(s in self.renderer.lower() for s in SOFTWARE_RENDERERS)


def backend() -> str:
    return os.environ.get("MUJOCO_GL", "glfw").lower()


def _query_current_context() -> GLInfo:
    from OpenGL import GL  # PyOpenGL follows PYOPENGL_PLATFORM, which mujoco sets from MUJOCO_GL

    def text(name: int) -> str:
        value = GL.glGetString(name)
        return value.decode(errors="replace") if value else "unknown"

    return GLInfo(backend(), text(GL.GL_RENDERER), text(GL.GL_VENDOR), text(GL.GL_VERSION))


@contextlib.contextmanager
def _scratch_context() -> Iterator[None]:
    """A current 1x1 context of the configured backend, for queries; freed afterwards."""
    context = mujoco.GLContext(1, 1)
    try:
        context.make_current()
        yield
    finally:
        context.free()


def gl_info() -> GLInfo:
    """Open a 1x1 context with the configured backend and report what it is."""
    with _scratch_context():
        return _query_current_context()


def max_frame_side() -> int:
    """The largest width or height this GL can give an offscreen buffer (GL_MAX_RENDERBUFFER_SIZE)."""
    from OpenGL import GL

    with _scratch_context():
        return int(GL.glGetIntegerv(GL.GL_MAX_RENDERBUFFER_SIZE))


class GLRenderer:
    """mujoco.Renderer with the GL implementation it runs on attached."""

    def __init__(self, mjm: mujoco.MjModel, height: int, width: int) -> None:
        # The offscreen buffer must hold the frame: raise it rather than fail (this edits `mjm`'s visual).
        glob = mjm.vis.global_
        glob.offwidth, glob.offheight = max(glob.offwidth, width), max(glob.offheight, height)
        try:
            self._renderer = mujoco.Renderer(mjm, height=height, width=width)
        except mujoco.FatalError as err:  # the driver cannot allocate a framebuffer that large
            raise GLFrameError(
                f"GL cannot draw {width}x{height} frames here ({err}); this GL takes at most "
                f"{max_frame_side()} pixels a side (and enough memory for the buffer): choose a smaller size"
            ) from None
        self.height, self.width = height, width
        self.info = _query_current_context()  # mujoco.Renderer leaves its context current

    def render(self, mjd: mujoco.MjData, camera: int | str | mujoco.MjvCamera = -1) -> np.ndarray:
        """An RGB frame (height, width, 3) of `mjd` seen from `camera` (-1: the free camera)."""
        self._renderer.update_scene(mjd, camera=camera)
        return self._renderer.render()

    def images(
        self,
        mjd: mujoco.MjData,
        camera: int,
        out: dict[str, np.ndarray],
        option: mujoco.MjvOption | None = None,
    ) -> None:
        """The images `out` names (rgb, depth, segmentation) of `mjd` seen from model camera `camera`,
        written into `out`, in render/images.py's conventions: one scene, one GL pass per image kind."""
        renderer = self._renderer
        renderer.update_scene(mjd, camera=camera, scene_option=option)
        if "rgb" in out:
            renderer.render(out=out["rgb"])
        if "depth" in out:  # metres along the optical axis (mujoco.Renderer undoes the projection)
            renderer.enable_depth_rendering()
            depth = renderer.render(out=out["depth"])
            renderer.disable_depth_rendering()
            far = self._renderer.model.vis.map.zfar * self._renderer.model.stat.extent
            depth[depth >= np.float32(far) * (1 - 1e-5)] = NO_HIT  # the cleared buffer: nothing hit
        if "segmentation" in out:  # (object id, mjtObj type); (-1, -1) where nothing is drawn
            renderer.enable_segmentation_rendering()
            renderer.render(out=out["segmentation"])
            renderer.disable_segmentation_rendering()

    def close(self) -> None:
        self._renderer.close()

    def __enter__(self) -> GLRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GLWorldRenderer:
    """GL frames of chosen worlds of an engine: each world is copied to the host and drawn in turn."""

    def __init__(
        self,
        engine: Engine,
        camera: int | mujoco.MjvCamera,
        height: int,
        width: int,
        worlds: Sequence[int] = (0,),
    ) -> None:
        self.engine, self.camera, self.worlds = engine, camera, tuple(worlds)
        self._gl = GLRenderer(engine.mjm, height, width)
        self._data = [mujoco.MjData(engine.mjm) for _ in self.worlds]
        self.description = self._gl.info.renderer

    def render(self) -> np.ndarray:
        return np.stack(
            [
                self._gl.render(self.engine.get_world(i, mjd), self.camera)
                for i, mjd in zip(self.worlds, self._data, strict=True)
            ]
        )

    def close(self) -> None:
        self._gl.close()


class GLImageRenderer:
    """Every world's images of several model cameras through GL, into a rollout's sample arrays: each
    world is copied to the host and drawn once per camera and image kind (GL's path: the mjc engine,
    a reference for the batch renderer). Sites are hidden, so GL draws the geoms the batch renderer draws.
    """

    def __init__(self, engine: Engine, spec: ImageSpec) -> None:
        self.engine, self.spec = engine, spec
        self._gl = GLRenderer(engine.mjm, spec.height, spec.width)
        self._mjd = mujoco.MjData(engine.mjm)
        self._option = mujoco.MjvOption()
        self._option.sitegroup[:] = 0
        self._cameras = list(spec.cameras)
        self.description = self._gl.info.renderer

    def render_into(self, out: dict[str, np.ndarray]) -> None:
        """The images and camera poses of `spec.arrays(nworld)`, world by world."""
        for w in range(self.engine.nworld):
            mjd = self.engine.get_world(w, self._mjd)
            for c, camera in enumerate(self._cameras):
                self._gl.images(
                    mjd, camera, {name: out[name][w, c] for name in self.spec.images}, self._option
                )
            out["cam_xpos"][w] = mjd.cam_xpos[self._cameras]
            out["cam_xmat"][w] = mjd.cam_xmat[self._cameras].reshape(-1, 3, 3)

    def close(self) -> None:
        self._gl.close()
