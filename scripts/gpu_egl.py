#!/usr/bin/env python3
"""The GPU check's GPU-EGL step (scripts/gpu-check.sh runs it after the gate): print doctor's map (each
GPU, the EGL device that draws for it, the GL_RENDERER a context there reports), then draw one frame of
a model through mjpod's own path on the device WARP_DEVICE names and say where it was drawn. On a GPU
machine it exits 1 unless the frame was drawn by the NVIDIA driver on the EGL device the map gives that
GPU; in the rehearsal (WARP_DEVICE=cpu) it reports what Mesa did and exits 0.

    PYTHONPATH=app WARP_DEVICE=cuda:0 python3 scripts/gpu_egl.py [MODEL]
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # as the mjpod command: set before anything imports mujoco

import mujoco

from mjpod import models
from mjpod.host import doctor
from mjpod.render import egl
from mjpod.render.gl import GLRenderer

SIZE = (240, 320)  # height, width: the seed loop's frame


def main(model: str = "bin") -> int:
    rows = doctor.gpu_egl_map()
    print("GPU-EGL map (cuda | GPU | PCI bus id | MIG | EGL device | GL_RENDERER there):")
    for r in rows:
        cuda = "-" if r.cuda is None else r.cuda
        egl_index = "-" if r.egl_device is None else r.egl_device
        print(
            f"  {cuda} | {r.gpu} | {r.pci_bus_id or '-'} | {'MIG' if r.mig else 'no'} | {egl_index} | {r.gl_renderer}"
        )
    device = os.environ.get("WARP_DEVICE") or None
    mjm = models.load(model).model
    mjd = mujoco.MjData(mjm)
    mujoco.mj_forward(mjm, mjd)
    with GLRenderer(mjm, *SIZE, device) as gl:
        frame = gl.render(mjd)
        info, binding = gl.info, gl.binding
    print(
        f"one {SIZE[1]}x{SIZE[0]} frame of {model} for {device or 'no CUDA device'}: EGL device "
        f"{info.egl_device} (CUDA id {info.egl_cuda_id}), GL_RENDERER {info.renderer!r}, mean pixel "
        f"{frame.mean():.1f}; chosen because: {binding.how}"
    )
    if frame.std() == 0:
        print("the frame is blank: GL drew nothing", file=sys.stderr)
        return 1
    ordinal = egl.cuda_ordinal(device)
    if ordinal is None:
        return 0  # the rehearsal: no GPU to match
    mapped = next((r for r in rows if r.cuda == ordinal), None)
    wanted = mapped.egl_device if mapped else None
    if info.egl_device != wanted or info.software or "nvidia" not in info.renderer.lower():
        print(
            f"{device} should draw on EGL device {wanted} with the NVIDIA driver, but drew on EGL device "
            f"{info.egl_device} with {info.renderer!r}: see `mjpod doctor`",
            file=sys.stderr,
        )
        return 1
    print(f"ok: {device} draws on its own GPU's EGL device {wanted}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
