"""Run the real `mjpod` command in a subprocess, as a user would."""

import os
import resource
import subprocess
import sys


def run_mjpod(
    *args: str, timeout: float = 300, memory_mb: int | None = None, **env: str
) -> subprocess.CompletedProcess:
    """`python -m mjpod ARGS` in a real subprocess, with a wide terminal so tables do not fold.
    `memory_mb` caps its address space: an input that would eat memory ends it with a MemoryError
    instead of taking the machine down."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))  # type: ignore[operator]

    return subprocess.run(
        [sys.executable, "-m", "mjpod", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **env},
        preexec_fn=cap if memory_mb is not None else None,  # only then: it is unsafe beside threads
    )
