"""A stand-in `nvidia-smi` on PATH: this box seen as an NVIDIA GPU host whose GL, EGL and Warp are not
set up for the GPU (Mesa llvmpipe, no NVIDIA EGL vendor file, no CUDA), the state doctor and bench must
shout about. It answers only the query host/sysinfo.py makes, in nvidia-smi's real CSV, and refuses
anything else, so a change of that query shows up here instead of silently finding no GPU."""

from __future__ import annotations

import os
from pathlib import Path

QUERY = "--query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits"
H100 = "NVIDIA H100 80GB HBM3, 580.65.06, 81559"  # nvidia-smi's line for that query on an H100


def on_path(folder: Path, answer: str = H100) -> dict[str, str]:
    """Write the fake into `folder`; returns the environment (PATH) that puts it first."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$*" = "{QUERY}" ]; then\n'
        f"  echo '{answer}'\n"
        "  exit 0\n"
        "fi\n"
        'echo "fake nvidia-smi: unexpected arguments: $*" >&2\n'
        "exit 2\n"
    )
    script.chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}"}
