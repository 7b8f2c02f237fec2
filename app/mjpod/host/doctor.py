"""`mjpod doctor`: check the box (GPU driver, EGL, GL renderer, Warp, ffmpeg, disk) and name fixes."""

from __future__ import annotations

import dataclasses
import enum
import os
import re
import shutil
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from mjpod.host import sysinfo

# warp-lang wheels from 1.18 on are built against CUDA 13, which needs an R580+ driver; the same
# versions' +cu12 wheels (GitHub releases; the image's WARP_CUDA=12) and older wheels need R525+.
WARP_MIN_DRIVER = ((1, 18), 580)
CUDA12_MIN_DRIVER = 525
NVIDIA_EGL_VENDOR = '{"file_format_version": "1.0.0", "ICD": {"library_path": "libEGL_nvidia.so.0"}}'
CAPS_FIX = (
    "start the container with graphics enabled: `docker run --gpus all -e "
    "NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics,video …` (the mjpod image sets this; a "
    "compose `capabilities:` list or a platform override can drop it)"
)

# Known GL/EGL failure messages (as MuJoCo, PyOpenGL and glvnd print them) and their fixes.
GL_ERRORS: tuple[tuple[str, str], ...] = (
    (
        r"MUJOCO_EGL_DEVICE_ID.*between",
        "MUJOCO_EGL_DEVICE_ID is out of range: unset it or pick a listed EGL device",
    ),
    (
        r"invalid value for environment variable MUJOCO_GL",
        "set MUJOCO_GL to egl (headless GPU), osmesa or glfw",
    ),
    (
        r"Cannot initialize a EGL device display|EGL_NOT_INITIALIZED|eglInitialize|no EGL device",
        "EGL found no usable device: on an NVIDIA box " + CAPS_FIX + "; check that an EGL vendor file "
        "exists (/usr/share/glvnd/egl_vendor.d/10_nvidia.json) and that `nvidia-smi` works in the container",
    ),
    (
        r"libEGL|Unable to load EGL library|cannot open shared object",
        "the EGL loader is missing: install libegl1 libglvnd0 (docker/provision.sh does) and, on CPU machines, "
        "libegl-mesa0 libgl1-mesa-dri",
    ),
    (
        r"'NoneType' object has no attribute 'glGetError'|PYOPENGL_PLATFORM",
        "PyOpenGL chose another platform than MuJoCo: export PYOPENGL_PLATFORM=egl alongside MUJOCO_GL=egl",
    ),
    (
        r"DISPLAY|X11|GLFW",
        "GLFW needs a display: on a headless machine export MUJOCO_GL=egl (GPU) or MUJOCO_GL=osmesa (CPU)",
    ),
    (
        r"EGL_BAD_ALLOC|EGL_BAD_MATCH|offscreen",
        "the offscreen buffer could not be made: lower width/height or raise <visual><global offwidth offheight>",
    ),
)


class Status(enum.StrEnum):
    """How a check came out: fine, worth knowing, worth fixing, or broken."""

    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str | None = None


def explain_gl_error(message: str) -> str:
    """The fix for a known GL/EGL failure message; a generic pointer otherwise."""
    for pattern, fix in GL_ERRORS:
        if re.search(pattern, message, re.IGNORECASE):
            return fix
    return "see the README's troubleshooting section; try MUJOCO_GL=osmesa to tell a driver fault from a model one"


def _driver_major(driver: str) -> int:
    match = re.match(r"(\d+)", driver)
    return int(match.group(1)) if match else 0


def warp_min_driver(warp_version: str) -> int:
    """The NVIDIA driver branch an installed warp-lang wheel needs, from its version string."""
    if "+cu12" in warp_version:
        return CUDA12_MIN_DRIVER
    since, minimum = WARP_MIN_DRIVER
    version = tuple(int(x) for x in re.findall(r"\d+", warp_version)[:2])
    return minimum if version >= since else CUDA12_MIN_DRIVER


def check_driver() -> Finding:
    gpus = sysinfo.nvidia_gpus()
    if not gpus:
        return Finding(
            "NVIDIA driver",
            Status.INFO,
            "no NVIDIA GPU visible (nvidia-smi missing or finds none)",
            "fine for development: Warp runs on cpu and GL on Mesa; in Docker pass --gpus all",
        )
    warp = metadata.version("warp-lang")
    minimum, driver = warp_min_driver(warp), gpus[0].driver
    names = ", ".join(sorted({g.name for g in gpus}))
    if _driver_major(driver) < minimum:
        older = (
            f"or build the image with `make image WARP_CUDA=12` (warp-lang's +cu12 wheel runs on "
            f"R{CUDA12_MIN_DRIVER}+; on Runpod pass --warp-cuda 12)"
            if minimum > CUDA12_MIN_DRIVER
            else "(no warp-lang wheel runs on older drivers)"
        )
        return Finding(
            "NVIDIA driver",
            Status.FAIL,
            f"{names}, driver {driver}: warp-lang {warp} needs R{minimum}+",
            f"use a host with driver >= {minimum}, {older}",
        )
    return Finding("NVIDIA driver", Status.OK, f"{len(gpus)} x {names}, driver {driver} (warp-lang {warp})")


def check_capabilities() -> Finding:
    caps = os.environ.get("NVIDIA_DRIVER_CAPABILITIES")
    if caps is None:
        return Finding(
            "driver capabilities", Status.INFO, "NVIDIA_DRIVER_CAPABILITIES not set (not in a GPU container)"
        )
    parts = {c.strip() for c in caps.split(",")}
    if "all" in parts or "graphics" in parts:
        return Finding("driver capabilities", Status.OK, f"NVIDIA_DRIVER_CAPABILITIES={caps}")
    return Finding(
        "driver capabilities",
        Status.FAIL,
        f"NVIDIA_DRIVER_CAPABILITIES={caps} lacks graphics: the toolkit mounts no EGL/GL driver, "
        "so rendering falls back to software or fails",
        CAPS_FIX,
    )


def check_egl_vendor() -> Finding:
    files = sysinfo.egl_vendor_files()
    if not files:
        return Finding(
            "EGL vendor",
            Status.FAIL,
            "no EGL vendor file: glvnd has no EGL implementation to load",
            "install libegl-mesa0 (CPU) or the NVIDIA driver's EGL; docker/provision.sh does both",
        )
    listed = ", ".join(f"{Path(p).name}->{lib}" for p, lib in files.items())
    has_nvidia = any("nvidia" in lib.lower() for lib in files.values())
    if sysinfo.nvidia_gpus() and not has_nvidia:
        return Finding(
            "EGL vendor",
            Status.FAIL,
            f"NVIDIA GPU present but no NVIDIA EGL vendor file ({listed})",
            f"write {NVIDIA_EGL_VENDOR} to /usr/share/glvnd/egl_vendor.d/10_nvidia.json "
            "(the mjpod image ships it) and make sure graphics is in NVIDIA_DRIVER_CAPABILITIES",
        )
    return Finding("EGL vendor", Status.OK, listed)


def egl_device_count() -> int | None:
    """How many EGL devices eglQueryDevicesEXT reports; None when EGL cannot be asked."""
    try:
        from mujoco.egl import egl_ext

        return len(egl_ext.eglQueryDevicesEXT())
    except Exception:
        return None


def check_egl_device_id() -> Finding:
    wanted = os.environ.get("MUJOCO_EGL_DEVICE_ID")
    if os.environ.get("MUJOCO_GL", "").lower() != "egl":
        return Finding(
            "EGL device",
            Status.INFO,
            f"MUJOCO_GL={os.environ.get('MUJOCO_GL', 'unset')}: EGL not in use",
            "export MUJOCO_GL=egl for headless rendering on a GPU",
        )
    count = egl_device_count()
    if count is None:
        return Finding(
            "EGL device", Status.WARN, "could not enumerate EGL devices", explain_gl_error("eglInitialize")
        )
    if wanted is None:
        return Finding(
            "EGL device", Status.OK, f"{count} EGL device(s); MUJOCO_EGL_DEVICE_ID unset (first usable)"
        )
    if not wanted.isdigit() or int(wanted) >= count:
        return Finding(
            "EGL device",
            Status.FAIL,
            f"MUJOCO_EGL_DEVICE_ID={wanted} is out of range: there are {count} EGL device(s), "
            f"ids 0..{count - 1}",
            f"unset MUJOCO_EGL_DEVICE_ID or set it to 0..{count - 1}",
        )
    return Finding("EGL device", Status.OK, f"MUJOCO_EGL_DEVICE_ID={wanted} of {count} EGL device(s)")


def check_gl() -> Finding:
    from mjpod.render.gl import gl_info

    try:
        info = gl_info()
    except Exception as err:  # the message is what identifies the failure
        return Finding("GL renderer", Status.FAIL, f"no GL context: {err}", explain_gl_error(str(err)))
    detail = f"{info.renderer} ({info.version}) via MUJOCO_GL={info.backend}"
    nvidia = sysinfo.nvidia_gpus()
    if info.software and nvidia:
        return Finding("GL renderer", Status.FAIL, f"software rendering on an NVIDIA box: {detail}", CAPS_FIX)
    if nvidia and "nvidia" not in f"{info.vendor} {info.renderer}".lower():
        return Finding(
            "GL renderer",
            Status.FAIL,
            f"GL draws on {info.vendor}'s renderer, not on the NVIDIA GPU: {detail}",
            "make glvnd load the NVIDIA EGL vendor file (__EGL_VENDOR_LIBRARY_FILENAMES="
            "/usr/share/glvnd/egl_vendor.d/10_nvidia.json) or set MUJOCO_EGL_DEVICE_ID to the NVIDIA device",
        )
    if info.software:
        return Finding("GL renderer", Status.INFO, f"software rendering (no GPU here): {detail}")
    return Finding("GL renderer", Status.OK, detail)


def check_warp() -> Finding:
    try:
        from mjpod.engines import warp_setup

        warp_setup.init()
        import warp as wp
    except Exception as err:
        return Finding(
            "Warp", Status.FAIL, f"warp failed to initialise: {err}", "reinstall from the lock: make venv"
        )
    devices = ", ".join(d.alias for d in wp.get_devices())
    if sysinfo.nvidia_gpus() and not wp.is_cuda_available():
        return Finding(
            "Warp",
            Status.FAIL,
            f"NVIDIA GPU present but Warp sees no CUDA device ({devices})",
            "the driver is too old for this warp-lang or the container lacks --gpus all",
        )
    return Finding("Warp", Status.OK, f"warp {wp.config.version}: {devices}")


def check_ffmpeg() -> Finding:
    """Videos need ffmpeg (imageio-ffmpeg's); without it only recording and the video bench are lost."""
    from mjpod import video

    if missing := video.ffmpeg_missing():
        return Finding(
            "ffmpeg",
            Status.WARN,
            f"{missing.split(':')[0]}: recording (mjpod record, view --record) is unavailable and the "
            "bench skips its encode and record sections; simulation, rendering and streaming work",
            "pip install imageio-ffmpeg (make venv and the image install it)",
        )
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        encoder = video.choose_encoder("auto")
        detail = f"{exe} ({imageio_ffmpeg.get_ffmpeg_version()}); videos use {encoder.name}: {encoder.reason}"
        return Finding("ffmpeg", Status.OK, detail)
    except Exception as err:
        return Finding(
            "ffmpeg", Status.FAIL, f"no ffmpeg: {err}", "make venv (imageio-ffmpeg bundles ffmpeg)"
        )


def check_disk(path: Path) -> Finding:
    target = path if path.exists() else Path.cwd()
    free_gib = shutil.disk_usage(target).free / 2**30
    detail = f"{free_gib:.1f} GiB free at {target}"
    if free_gib < 1:
        return Finding("disk", Status.FAIL, detail, "free space: videos and the Warp kernel cache need room")
    if free_gib < 5:
        return Finding("disk", Status.WARN, detail, "long recordings and the Warp kernel cache may fill it")
    return Finding("disk", Status.OK, detail)


def check_frame_size(spec: str, width: int, height: int) -> Finding:
    from mjpod import models

    try:
        mjm = models.load(spec).model
    except models.ModelError as err:
        return Finding("frame size", Status.FAIL, str(err))
    glob = mjm.vis.global_
    if width > glob.offwidth or height > glob.offheight:
        return Finding(
            "frame size",
            Status.WARN,
            f"{width}x{height} exceeds {spec}'s offscreen buffer {glob.offwidth}x{glob.offheight}: "
            "a plain mujoco.Renderer fails with this size",
            f'add <visual><global offwidth="{width}" offheight="{height}"/></visual> to the model '
            "(mjpod's renderers raise it automatically)",
        )
    return Finding("frame size", Status.OK, f"{width}x{height} fits {glob.offwidth}x{glob.offheight}")


def run_checks(workspace: Path, frame: tuple[str, int, int] | None = None) -> list[Finding]:
    """Every check, in order."""
    checks: list[Callable[[], Finding]] = [
        check_driver,
        check_capabilities,
        check_egl_vendor,
        check_egl_device_id,
        check_gl,
        check_warp,
        check_ffmpeg,
        lambda: check_disk(workspace),
    ]
    if frame:
        checks.append(lambda: check_frame_size(*frame))
    return [c() for c in checks]
