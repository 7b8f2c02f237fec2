"""Renderers: images of an engine's worlds, from two kinds behind one interface.

`gl` draws each chosen world with mujoco.Renderer (EGL, OSMesa or GLFW, from MUJOCO_GL) after copying
its state to the host; `batch` ray-traces every world in one launch on a Warp engine's device
(mujoco_warp's batch renderer). Both return the same images: RGB uint8, row 0 at the top, one per
chosen world, so a job that records or streams frames does not care which one draws them (`make`).
For learning, both also draw every world from several cameras as RGB, depth and segmentation in the
conventions of render/images.py (`make_images`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

import mujoco
import numpy as np

from mjpod.errors import SettingError
from mjpod.render.images import ImageSpec

if TYPE_CHECKING:
    from mjpod.engines import Engine

RendererKind = Literal["gl", "batch"]
RENDERERS: tuple[RendererKind, ...] = ("gl", "batch")


class WorldRenderer(Protocol):
    """Draws chosen worlds of one engine from one camera, at one size."""

    description: str  # what draws the pixels: the GL_RENDERER string, or the ray tracer and its device

    def render(self) -> np.ndarray:
        """The chosen worlds as they are now: (len(worlds), height, width, 3) uint8."""
        ...

    def close(self) -> None: ...


class ImageRenderer(Protocol):
    """Draws every world of one engine from several cameras: RGB, depth and segmentation."""

    description: str
    spec: ImageSpec

    def render_into(self, out: dict[str, np.ndarray]) -> None:
        """Every world's images and camera poses as they are now, into `spec.arrays(nworld)`'s arrays."""
        ...

    def close(self) -> None: ...


def make(
    kind: str,
    engine: Engine,
    camera: int | mujoco.MjvCamera,
    height: int,
    width: int,
    worlds: Sequence[int] = (0,),
) -> WorldRenderer:
    """A renderer of `kind` for `engine`'s `worlds`. Imports lazily, so GL never loads Warp."""
    if kind == "gl":
        from mjpod.render.gl import GLWorldRenderer

        return GLWorldRenderer(engine, camera, height, width, worlds)
    if kind == "batch":
        from mjpod.render.batch import BatchRenderer

        return BatchRenderer(engine, int(camera), height, width, worlds)  # type: ignore[arg-type]
    raise SettingError(f"renderer must be {' or '.join(RENDERERS)}, got {kind!r}")


def make_images(kind: str, engine: Engine, spec: ImageSpec) -> ImageRenderer:
    """An image renderer of `kind` for every world of `engine`. Imports lazily, so GL never loads Warp."""
    if kind == "gl":
        from mjpod.render.gl import GLImageRenderer

        return GLImageRenderer(engine, spec)
    if kind == "batch":
        from mjpod.render.batch import BatchRenderer

        return BatchRenderer(engine, spec.cameras, spec.height, spec.width, images=spec.images)  # type: ignore[arg-type]
    raise SettingError(f"renderer must be {' or '.join(RENDERERS)}, got {kind!r}")
