"""The device rule for GL: draw on the EGL device of the GPU the job simulates on.

EGL numbers its devices in its own order, which follows neither CUDA's nor CUDA_VISIBLE_DEVICES, so
on a box with several GPUs MuJoCo's default (the first EGL device) piles every context onto one GPU.
NVIDIA's EGL says which CUDA device backs each EGL device (EGL_NV_device_cuda, read through
EGL_EXT_device_enumeration and EGL_EXT_device_query); `choose` matches it to the CUDA device a
command names (`--device cuda:N`, WARP_DEVICE, or cuda:0 in a Ray job that sees only its GPU), and
`bind` sets MUJOCO_EGL_DEVICE_ID, to the value this MuJoCo reads as that device, before MuJoCo makes its
display, which it does once per process, with its first context (`bound` wraps that context and then
removes the variable again, so that child processes choose for themselves).

A MUJOCO_EGL_DEVICE_ID set by the user wins (with a warning when it names another GPU). Where no EGL
device has a CUDA id (Mesa, MIG slices, no NVIDIA EGL) that is said once and MuJoCo's own default is
kept. `current` reads back which EGL device MuJoCo's display really is on, for sidecars and doctor.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from mjpod.errors import MjpodError

if TYPE_CHECKING:
    from mjpod.engines import Engine

EGL_CUDA_DEVICE_NV = 0x323A  # EGL_NV_device_cuda: the CUDA device an EGL device is
EGL_DEVICE_EXT = 0x322C  # EGL_EXT_device_query: the device of a display
MAX_DEVICES = 32  # eglQueryDevicesEXT's array: more than any box holds (MuJoCo asks for 10)
SOFTWARE = "EGL_MESA_device_software"
WAY_FORWARD = (
    'render with the batch renderer (record --renderer batch; in a sweep renderer = "batch") or watch '
    "in the browser view (serve --web), which draw without server-side GL"
)

log = logging.getLogger("mjpod.render")


class EGLError(MjpodError, RuntimeError):
    """EGL cannot be asked about its devices here; the message says why."""


@dataclasses.dataclass(frozen=True)
class EglDevice:
    """One device of eglQueryDevicesEXT, in EGL's order."""

    index: int
    cuda_id: int | None  # EGL_NV_device_cuda: the CUDA device it is, as this process numbers them
    extensions: str = ""

    @property
    def software(self) -> bool:
        return SOFTWARE in self.extensions


@dataclasses.dataclass(frozen=True)
class Choice:
    index: int | None  # the EGL device that renders on the CUDA device; None: none does
    reason: str


# -- the rule, as pure functions -------------------------------------------------------------------


def cuda_ordinal(device: str | None) -> int | None:
    """`cuda:N` -> N, `cuda` -> 0 (Warp's default CUDA device); None for cpu or no device."""
    if not device or not device.startswith("cuda"):
        return None
    _, _, number = device.partition(":")
    return int(number) if number.isdigit() else 0


def gpu_of(engine: Engine) -> str | None:
    """The CUDA device a job names: its engine's when that runs on CUDA, else the one its settings
    name (`--device cuda:1` with mjc still draws on that GPU); None: WARP_DEVICE's or EGL's default."""
    return engine.device if engine.device.startswith("cuda") else engine.config.device


def visible_devices(value: str | None) -> list[str] | None:
    """The entries of CUDA_VISIBLE_DEVICES (indices, GPU-/MIG- UUIDs); None when unset (all GPUs)."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def choose(cuda_ids: Sequence[int | None], visible: str | None, ordinal: int) -> Choice:
    """The EGL device (in EGL's order) that renders on CUDA device `ordinal` of this process.

    `cuda_ids[i]` is what EGL device i reports as its CUDA device (None: it reports none). NVIDIA's
    driver numbers CUDA devices as the process sees them, after CUDA_VISIBLE_DEVICES; a driver that
    numbered them physically would report ids beyond the visible ones, and then the physical id in
    CUDA_VISIBLE_DEVICES is matched instead.
    """
    entries = visible_devices(visible)
    if entries is not None and ordinal >= len(entries):
        return Choice(None, f"cuda:{ordinal} is not visible here (CUDA_VISIBLE_DEVICES={visible})")
    entry = entries[ordinal] if entries is not None else None
    if entry and entry.startswith("MIG-"):
        return Choice(
            None, f"cuda:{ordinal} is a MIG slice ({entry}), and MIG has no graphics: {WAY_FORWARD}"
        )
    mapped: dict[int, int] = {}
    for index, cuda_id in enumerate(cuda_ids):
        if cuda_id is None:
            continue
        if cuda_id in mapped:
            return Choice(
                None, f"EGL devices {mapped[cuda_id]} and {index} both report CUDA device {cuda_id}"
            )
        mapped[cuda_id] = index
    if not mapped:
        return Choice(None, "no EGL device reports a CUDA device (Mesa, a MIG slice, or no NVIDIA EGL)")
    wanted = ordinal
    if entries is not None and max(mapped) >= len(entries):  # ids beyond the visible ones: physical ids
        if not entry or not entry.isdigit():
            return Choice(None, f"EGL reports physical CUDA ids, and CUDA_VISIBLE_DEVICES names {entry!r}")
        wanted = int(entry)
    if wanted not in mapped:
        return Choice(None, f"no EGL device reports CUDA device {wanted} (they report {sorted(mapped)})")
    return Choice(mapped[wanted], f"EGL device {mapped[wanted]} reports CUDA device {wanted}")


def _mujoco_selection():
    """MuJoCo's own EGL selection helpers (the versions that read EGL_NV_device_cuda), or None."""
    try:
        from mujoco import egl as mujoco_egl
    except ImportError:  # PYOPENGL_PLATFORM names another platform, or no EGL
        return None
    names = ("_cuda_device_order", "_ordered_egl_devices", "_select_egl_device", "_parse_cuda_device_ids")
    return mujoco_egl if all(hasattr(mujoco_egl, n) for n in names) else None


def mujoco_opens(cuda_ids: Sequence[int | None], visible: str | None, value: str | None) -> int | None:
    """The EGL device this MuJoCo opens for MUJOCO_EGL_DEVICE_ID=`value` (None: unset), or None when
    the value is out of range. A MuJoCo that reads EGL_NV_device_cuda takes the value as a CUDA device
    where EGL reports them; older ones, and any where none is reported, as an index in EGL's order."""
    count = len(cuda_ids)
    helpers = _mujoco_selection()
    mapped = {c: i for i, c in enumerate(cuda_ids) if c is not None}
    if helpers is None or not mapped or len(mapped) < sum(c is not None for c in cuda_ids):
        if value is None:
            return 0 if count else None
        return int(value) if value.strip().isdigit() and int(value) < count else None
    devices = list(range(count))  # MuJoCo's helpers take any objects as devices: indices stand in
    cuda = helpers._parse_cuda_device_ids(visible)
    ordered = helpers._ordered_egl_devices(devices, mapped, cuda)
    if value is None:
        return ordered[0] if ordered else None
    try:
        return helpers._select_egl_device(ordered, mapped, cuda, int(value))
    except (RuntimeError, ValueError):
        return None


def mujoco_value(cuda_ids: Sequence[int | None], visible: str | None, index: int) -> str | None:
    """What MUJOCO_EGL_DEVICE_ID must say for this MuJoCo to open EGL device `index`; None if nothing does."""
    candidates = [*range(len(cuda_ids)), *(c for c in cuda_ids if c is not None)]
    for value in map(str, dict.fromkeys(candidates)):
        if mujoco_opens(cuda_ids, visible, value) == index:
            return value
    return None


# -- this process's EGL ------------------------------------------------------------------------------


def backend() -> str:
    return os.environ.get("MUJOCO_GL", "glfw").lower()


def _egl():
    """PyOpenGL's EGL with MuJoCo's extension entry points; importing it sets PYOPENGL_PLATFORM=egl."""
    try:
        from mujoco.egl import egl_ext
    except ImportError as err:
        raise EGLError(f"EGL cannot be loaded: {err}") from None
    return egl_ext


def _handles() -> list:
    egl = _egl()
    try:
        return egl.eglQueryDevicesEXT(MAX_DEVICES)
    except Exception as err:  # GLError, or a loader without the extension
        raise EGLError(f"eglQueryDevicesEXT failed: {err}") from None


def _address(pointer) -> int | None:
    return ctypes.cast(pointer, ctypes.c_void_p).value


def _device_string(egl, handle, name: int) -> str:
    query = egl.eglGetProcAddress("eglQueryDeviceStringEXT")
    if not query:
        return ""
    func = ctypes.CFUNCTYPE(ctypes.c_char_p, egl.EGLDeviceEXT, egl.EGLint)(query)
    value = func(handle, name)
    return value.decode(errors="replace") if value else ""


def cuda_id_of(egl, handle) -> int | None:
    """EGL_NV_device_cuda's answer for one device; None where the driver has no such attribute."""
    try:
        return int(egl.eglQueryDeviceAttribEXT(handle, EGL_CUDA_DEVICE_NV))
    except Exception:  # GLError (EGL_BAD_ATTRIBUTE on Mesa), or no eglQueryDeviceAttribEXT
        return None


def devices() -> list[EglDevice]:
    """Every EGL device, in EGL's order, with the CUDA device each reports; raises EGLError without EGL."""
    egl = _egl()
    return [_device(egl, i, h) for i, h in enumerate(_handles())]


def _device(egl, index: int, handle) -> EglDevice:
    return EglDevice(index, cuda_id_of(egl, handle), _device_string(egl, handle, egl.EGL_EXTENSIONS))


def _display_device(egl, display) -> int | None:
    """The address of the EGL device a display is on (EGL_EXT_device_query)."""
    query = egl.eglGetProcAddress("eglQueryDisplayAttribEXT")
    if not query or display is None:
        return None
    func = ctypes.CFUNCTYPE(egl.EGLBoolean, egl.EGLDisplay, egl.EGLint, ctypes.POINTER(ctypes.c_ssize_t))(
        query
    )
    value = ctypes.c_ssize_t()
    return value.value if func(display, EGL_DEVICE_EXT, ctypes.byref(value)) else None


def _mujoco_display():
    """MuJoCo's EGL display, made with its first context in this process; None before that."""
    module = sys.modules.get("mujoco.egl")
    return getattr(module, "EGL_DISPLAY", None) if module else None


def current() -> EglDevice | None:
    """The EGL device MuJoCo's contexts are on; None off EGL or before MuJoCo made a context."""
    display = _mujoco_display()
    if backend() != "egl" or display is None:
        return None
    egl = _egl()
    address = _display_device(egl, display)
    for i, handle in enumerate(_handles()):
        if _address(handle) == address:
            return _device(egl, i, handle)
    return None


# -- binding this process ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Binding:
    """Which EGL device this process's GL draws on, and why."""

    device: str | None  # the CUDA device GL follows (cuda:N); None: no CUDA device named
    egl_index: int | None  # the EGL device MuJoCo opens; None: off EGL, or not known
    cuda_id: int | None  # the CUDA device that EGL device reports
    how: str


_bound: Binding | None = None
_said: set[str] = set()
_ours: str | None = None  # the MUJOCO_EGL_DEVICE_ID `bind` set, until MuJoCo has read it


def say_once(message: str) -> None:
    """A warning a process gives once, however many renderers it makes."""
    if message not in _said:
        _said.add(message)
        log.warning(message)


def bind(device: str | None = None) -> Binding:
    """Point MuJoCo's EGL at the GPU of `device` (else WARP_DEVICE) before its first context.

    MuJoCo opens its EGL display once per process, so the first call decides: later ones return the
    same binding (and say so once when they name another GPU).
    """
    global _bound
    device = device or os.environ.get("WARP_DEVICE") or None
    if _bound is not None:
        if cuda_ordinal(device) is not None and device != _bound.device:
            say_once(f"GL stays on EGL device {_bound.egl_index}: this process made its GL context for "
                     f"{_bound.device or 'no CUDA device'} before {device} asked")  # fmt: skip
        return _bound
    if backend() != "egl":
        return Binding(device, None, None, f"MUJOCO_GL={backend()}: not EGL")
    try:
        _bound = _bind(device)
    except EGLError as err:  # MuJoCo's own context will fail and say why; nothing to choose here
        return Binding(device, None, None, str(err))
    return _bound


def _bind(device: str | None) -> Binding:
    global _ours
    made = current()
    if made is not None:  # a context exists already (the user's code made one): it cannot move
        return Binding(device, made.index, made.cuda_id, "MuJoCo's display was made before mjpod chose one")
    found = devices()
    ids = [d.cuda_id for d in found]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ordinal = cuda_ordinal(device)
    choice = choose(ids, visible, ordinal) if ordinal is not None else None
    user = os.environ.get("MUJOCO_EGL_DEVICE_ID")
    if user is not None:
        opened = mujoco_opens(ids, visible, user)
        if choice is not None and choice.index is not None and opened != choice.index:
            say_once(
                f"MUJOCO_EGL_DEVICE_ID={user} draws on EGL device {opened}, but {device} is EGL device "
                f"{choice.index}: GL and simulation run on different GPUs (unset it to follow --device)"
            )
        return _binding(device, opened, ids, f"MUJOCO_EGL_DEVICE_ID={user}, set by the user")
    if choice is None:
        return _binding(
            device, mujoco_opens(ids, visible, None), ids, "MuJoCo's default: no CUDA device named"
        )
    if choice.index is None:
        say_once(f"GL for {device} draws on EGL's default device: {choice.reason}")
        return _binding(device, mujoco_opens(ids, visible, None), ids, choice.reason)
    value = mujoco_value(ids, visible, choice.index)
    if value is None:
        reason = f"this MuJoCo cannot be pointed at EGL device {choice.index} ({choice.reason})"
        say_once(f"GL for {device} draws on EGL's default device: {reason}")
        return _binding(device, mujoco_opens(ids, visible, None), ids, reason)
    os.environ["MUJOCO_EGL_DEVICE_ID"] = _ours = value
    return _binding(device, choice.index, ids, f"{choice.reason} (MUJOCO_EGL_DEVICE_ID={value})")


@contextlib.contextmanager
def bound(device: str | None = None) -> Iterator[Binding]:
    """`bind`, then the caller makes its MuJoCo context; once MuJoCo has opened its display the variable
    mjpod set is removed again, so that a child process (which chooses for itself) does not take it for
    the user's."""
    global _ours
    binding = bind(device)
    try:
        yield binding
    finally:
        if _ours is not None and _mujoco_display() is not None:
            if os.environ.get("MUJOCO_EGL_DEVICE_ID") == _ours:
                del os.environ["MUJOCO_EGL_DEVICE_ID"]
            _ours = None


def _binding(device: str | None, index: int | None, ids: Sequence[int | None], how: str) -> Binding:
    return Binding(device, index, ids[index] if index is not None and index < len(ids) else None, how)


def report() -> dict | None:
    """Where this process's GL drew, for a sidecar: the EGL device of MuJoCo's display and how it was
    chosen; None when no EGL context was made."""
    made = current()
    if made is None:
        return None
    how = _bound.how if _bound is not None else "MuJoCo's default"
    return {"index": made.index, "cuda_id": made.cuda_id, "software": made.software, "how": how}


# -- a context on any device (doctor's map) ------------------------------------------------------------


@contextlib.contextmanager
def context_on(index: int) -> Iterator[EglDevice]:
    """A current GL context on EGL device `index`, apart from MuJoCo's (whose display stays as it is)."""
    egl = _egl()
    handles = _handles()
    if not 0 <= index < len(handles):
        raise EGLError(f"EGL device {index} does not exist: there are {len(handles)}")
    display = egl.eglGetPlatformDisplayEXT(egl.EGL_PLATFORM_DEVICE_EXT, handles[index], None)
    if not display or not egl.eglInitialize(display, None, None):
        raise EGLError(f"EGL device {index} cannot be initialised (error {egl.eglGetError():#x})")
    wanted = (egl.EGL_RED_SIZE, 8, egl.EGL_GREEN_SIZE, 8, egl.EGL_BLUE_SIZE, 8, egl.EGL_SURFACE_TYPE,
              egl.EGL_PBUFFER_BIT, egl.EGL_RENDERABLE_TYPE, egl.EGL_OPENGL_BIT, egl.EGL_NONE)  # fmt: skip
    configs, count = (egl.EGLConfig * 1)(), egl.EGLint()
    attributes = (egl.EGLint * len(wanted))(*wanted)
    egl.eglChooseConfig(display, attributes, configs, 1, ctypes.byref(count))
    egl.eglBindAPI(egl.EGL_OPENGL_API)
    context = egl.eglCreateContext(display, configs[0], egl.EGL_NO_CONTEXT, None) if count.value else None
    try:
        if not context or not egl.eglMakeCurrent(display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, context):
            raise EGLError(f"no GL context on EGL device {index} (error {egl.eglGetError():#x})")
        yield _device(egl, index, handles[index])
    finally:
        egl.eglMakeCurrent(display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, egl.EGL_NO_CONTEXT)
        if context:
            egl.eglDestroyContext(display, context)
        mujoco_display = _mujoco_display()
        if mujoco_display is None or _address(mujoco_display) != _address(display):
            egl.eglTerminate(display)
