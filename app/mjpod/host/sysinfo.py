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

EGL_VENDOR_DIRS = (
    "/usr/share/glvnd/egl_vendor.d",
    "/etc/glvnd/egl_vendor.d",
    "/usr/local/nvidia/share/glvnd/egl_vendor.d",
)
PACKAGES = ("mjpod", "mujoco", "mujoco-warp", "warp-lang", "numpy", "mujoco-menagerie")


@dataclasses.dataclass(frozen=True)
class Gpu:
    name: str
    driver: str
    memory_mib: int


def nvidia_gpus() -> list[Gpu]:
    """GPUs as nvidia-smi reports them; empty when there is no driver (or no nvidia-smi)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, driver, mem = (part.strip() for part in line.split(","))
        gpus.append(Gpu(name, driver, int(float(mem)) if mem.replace(".", "").isdigit() else 0))
    return gpus


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
