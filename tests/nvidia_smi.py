"""A stand-in `nvidia-smi` on PATH: this box seen as an NVIDIA GPU host whose GL, EGL and Warp are not
set up for the GPU (Mesa llvmpipe, no NVIDIA EGL vendor file, no CUDA), the state doctor and bench must
shout about. It answers only the query host/sysinfo.py makes, in nvidia-smi's real CSV, and refuses
anything else, so a change of that query shows up here instead of silently finding no GPU."""

from __future__ import annotations

import os
from pathlib import Path

from mjpod.host.sysinfo import QUERY

ARGS = f"--query-gpu={QUERY} --format=csv,noheader,nounits"
# nvidia-smi's lines for that query: one H100; an 8-GPU node; an A100 in MIG mode beside one that is not
H100 = "0, NVIDIA H100 80GB HBM3, GPU-3f1c7a52-9d0e-4b6a-8c21-5e7f0a9b1c2d, 00000000:18:00.0, Disabled, 580.65.06, 81559"
H100_X8 = "\n".join(
    f"{i}, NVIDIA H100 80GB HBM3, GPU-{i:08x}-9d0e-4b6a-8c21-5e7f0a9b1c2d, 00000000:{bus}:00.0, Disabled, 580.65.06, 81559"
    for i, bus in enumerate(("18", "2A", "3A", "5D", "9A", "AB", "BA", "DB"))
)
A100_MIG = (
    "0, NVIDIA A100-SXM4-80GB, GPU-5a1b2c3d-0000-4b6a-8c21-5e7f0a9b1c2d, 00000000:07:00.0, Enabled, 580.65.06, 81920\n"
    "1, NVIDIA A100-SXM4-80GB, GPU-5a1b2c3d-1111-4b6a-8c21-5e7f0a9b1c2d, 00000000:0F:00.0, Disabled, 580.65.06, 81920"
)


def on_path(folder: Path, answer: str = H100) -> dict[str, str]:
    """Write the fake into `folder`; returns the environment (PATH) that puts it first."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "answer.csv").write_text(answer + "\n")
    script = folder / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$*" = "{ARGS}" ]; then\n'
        f"  cat '{folder / 'answer.csv'}'\n"
        "  exit 0\n"
        "fi\n"
        'echo "fake nvidia-smi: unexpected arguments: $*" >&2\n'
        "exit 2\n"
    )
    script.chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}"}
