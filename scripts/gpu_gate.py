#!/usr/bin/env python3
"""The GPU check's gate (scripts/gpu-check.sh runs it before any figure): exit 3, saying why and how to
fix it, unless this is the GPU machine the check is for. That is doctor's own verdict on three of its
checks: the NVIDIA driver (nvidia-smi lists a GPU, new enough for Warp), the GL renderer (the NVIDIA
driver's, not a software one) and Warp (a CUDA device beside an NVIDIA GPU), all ok.

    PYTHONPATH=app python3 scripts/gpu_gate.py
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # as the mjpod command: set before anything imports mujoco

from mjpod.host import doctor

EXIT = 3  # not a machine the GPU check may spend its time on
NEEDED = (doctor.check_driver, doctor.check_gl, doctor.check_warp)
FIX = (
    "on the lent GPU machine run the check in the same command as `bash .devstage/unpack.sh && source "
    "/root/stage/env.sh` (they install the GL loaders and point EGL at the NVIDIA vendor file); "
    "`nvidia-smi` must list the GPU (docs/gpu-runbook.md)"
)


def main() -> int:
    findings = [check() for check in NEEDED]
    for f in findings:
        print(f"{f.check}: {f.status}: {f.detail}")
    short = [f for f in findings if f.status is not doctor.Status.OK]
    if not short:
        print("GPU check gate: ok")
        return 0
    reasons = "; ".join(f"{f.check} {f.status}: {f.detail}" for f in short)
    print(f"not a GPU machine for the GPU check: {reasons}. Fix: {FIX}", file=sys.stderr)
    return EXIT


if __name__ == "__main__":
    sys.exit(main())
