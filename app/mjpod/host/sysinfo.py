"""What this box is: GPUs and driver, EGL vendor files, library versions. Read by bench and doctor."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import platform
import shutil
import subprocess
from importlib import metadata

from mjpod.render.egl import visible_devices

EGL_VENDOR_DIRS = (
    "/usr/share/glvnd/egl_vendor.d",
    "/etc/glvnd/egl_vendor.d",
    "/usr/local/nvidia/share/glvnd/egl_vendor.d",
)
PACKAGES = ("mjpod", "mujoco", "mujoco-warp", "warp-lang", "numpy", "mujoco-menagerie")


# One nvidia-smi query answers every question about the GPUs (tests/nvidia_smi.py answers it too).
QUERY = "index,name,uuid,pci.bus_id,mig.mode.current,driver_version,memory.total"


@dataclasses.dataclass(frozen=True)
class Gpu:
    name: str
    driver: str
    memory_mib: int
    index: int = 0  # nvidia-smi's (physical) index, what CUDA_VISIBLE_DEVICES and Ray name
    uuid: str = ""  # GPU-..., also a way CUDA_VISIBLE_DEVICES names it
    pci_bus_id: str = ""  # 00000000:18:00.0
    mig: bool = False  # MIG mode on: the GPU is split into slices, none of which has graphics

    def identity(self) -> dict:
        """What a sidecar says about the GPU: enough to find it again on the box."""
        return {"index": self.index, "name": self.name, "uuid": self.uuid, "pci_bus_id": self.pci_bus_id}


def nvidia_gpus() -> list[Gpu]:
    """GPUs as nvidia-smi reports them; empty when there is no driver (or no nvidia-smi)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [_gpu(line) for line in out.strip().splitlines() if line.strip()]


def _gpu(line: str) -> Gpu:
    index, name, uuid, bus, mig, driver, mem = (part.strip() for part in line.split(","))
    return Gpu(
        name,
        driver,
        int(float(mem)) if mem.replace(".", "").isdigit() else 0,
        int(index) if index.isdigit() else 0,
        uuid,
        bus,
        mig.lower() == "enabled",  # Disabled, or [N/A] on GPUs without MIG
    )


def cuda_gpu(ordinal: int | None) -> Gpu | None:
    """The GPU that is CUDA device `ordinal` of this process; None without one."""
    if ordinal is None:
        return None
    return gpu_for(ordinal, nvidia_gpus(), os.environ.get("CUDA_VISIBLE_DEVICES"))


def gpu_for(ordinal: int, gpus: list[Gpu], visible: str | None) -> Gpu | None:
    """Which of `gpus` is CUDA device `ordinal` under CUDA_VISIBLE_DEVICES=`visible` (indices or UUIDs;
    unset: nvidia-smi's order); None for a MIG slice (nvidia-smi lists whole GPUs) or one not there."""
    entries = visible_devices(visible)
    if entries is None:
        return next((g for g in gpus if g.index == ordinal), None)
    if ordinal >= len(entries):
        return None
    entry = entries[ordinal]
    if entry.isdigit():
        return next((g for g in gpus if g.index == int(entry)), None)
    return next((g for g in gpus if entry.startswith("GPU-") and g.uuid.startswith(entry)), None)


def egl_vendor_files() -> dict[str, str]:
    """EGL vendor files glvnd would load, path -> library; __EGL_VENDOR_LIBRARY_FILENAMES wins."""
    override = os.environ.get("__EGL_VENDOR_LIBRARY_FILENAMES")
    paths = (
        override.split(":")
        if override
        else sorted(p for d in EGL_VENDOR_DIRS for p in glob.glob(os.path.join(d, "*.json")))
    )
    found = {}
    for path in paths:
        try:
            with open(path) as f:
                found[path] = json.load(f).get("ICD", {}).get("library_path", "?")
        except (OSError, ValueError):
            found[path] = "unreadable"
    return found


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def available_memory() -> int:
    """Bytes of memory the host can give a new allocation without swapping (MemAvailable)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


ENV_SHOWN = (
    "MUJOCO_GL",
    "MUJOCO_EGL_DEVICE_ID",
    "NVIDIA_DRIVER_CAPABILITIES",
    "NVIDIA_VISIBLE_DEVICES",
    "WARP_DEVICE",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Host:
    """This machine, as the head of every benchmark result describes it."""

    hostname: str = ""
    platform: str = ""
    cpu: str = ""
    cpu_count: int
    gpus: tuple[Gpu, ...]
    egl_vendor_files: dict[str, str] = dataclasses.field(default_factory=dict)  # path -> library
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # the ENV_SHOWN variables that are set
    versions: dict[str, str] = dataclasses.field(default_factory=dict)  # package -> version

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"gpus": [dataclasses.asdict(g) for g in self.gpus]}

    @classmethod
    def from_json(cls, data: dict) -> Host:
        """A host as `to_json` wrote it (fields a file lacks get their defaults)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(
            **{k: v for k, v in data.items() if k in fields} | {"gpus": tuple(Gpu(**g) for g in data["gpus"])}
        )


def host() -> Host:
    """This machine: its name, CPU, GPUs, EGL vendor files, GL/GPU environment and library versions."""
    return Host(
        hostname=platform.node(),
        platform=platform.platform(),
        cpu=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count() or 1,
        gpus=tuple(nvidia_gpus()),
        egl_vendor_files=egl_vendor_files(),
        env={k: v for k in ENV_SHOWN if (v := os.environ.get(k))},
        versions=versions(),
    )
