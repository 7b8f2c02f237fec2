"""Warp start-up in one place: quiet logs, the kernel cache location, and device choice."""

from __future__ import annotations

import os
from collections.abc import Callable

import warp as wp

from mjpod.errors import MjpodError

_initialised = False


class DeviceError(MjpodError, RuntimeError):
    """The Warp device asked for does not exist here; the message lists what does and how to fall back."""


def init() -> None:
    """Initialise Warp once, quietly; WARP_CACHE_PATH (honoured by Warp itself) moves the cache."""
    global _initialised
    if not _initialised:
        wp.config.quiet = True
        wp.config.log_level = wp.LOG_WARNING  # no per-kernel "Module ... load" lines
        wp.init()
        _initialised = True


def device(name: str | None = None) -> wp.context.Device:
    """The Warp device to use: `name`, else WARP_DEVICE (as in the seed), else Warp's preferred one.

    A request for CUDA on a machine without it raises a RuntimeError that says so and how to fall back.
    """
    init()
    name = name or os.environ.get("WARP_DEVICE") or None
    if name is None:
        return wp.get_preferred_device()
    if name.startswith("cuda") and not wp.is_cuda_available():
        raise DeviceError(
            f"Warp device {name!r} requested but no CUDA device is available "
            f"(Warp sees: {', '.join(d.alias for d in wp.get_devices())}). "
            "Run with --device cpu, or check the GPU with `mjpod doctor`."
        )
    try:
        return wp.get_device(name)
    except (ValueError, RuntimeError) as err:
        known = ", ".join(d.alias for d in wp.get_devices())
        raise DeviceError(f"unknown Warp device {name!r} ({err}); available: {known}") from None


def run_captured(
    device: wp.context.Device, graphs: dict | None, key: object, launch: Callable[[], None]
) -> None:
    """Run `launch` (a fixed sequence of kernel launches) on `device`. With a `graphs` cache on a CUDA
    device, the first call runs it once (which loads its kernels) and captures it in a graph kept under
    `key`; later calls replay that graph. `graphs=None` runs the launches plainly every time.
    """
    with wp.ScopedDevice(device):
        if graphs is None or not device.is_cuda:
            launch()
        elif key not in graphs:
            launch()  # loads the kernels, which must happen before a capture
            with wp.ScopedCapture() as capture:  # records the launches, does not run them
                launch()
            graphs[key] = capture.graph
        else:
            wp.capture_launch(graphs[key])


def free_bytes(device: wp.context.Device) -> int | None:
    """Free memory of a CUDA device; None for the cpu device (its memory is the host's)."""
    return int(device.free_memory) if device.is_cuda else None
