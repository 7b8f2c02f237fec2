"""Run the real `mjpod` command in a subprocess, as a user would."""

import os
import subprocess
import sys


def run_mjpod(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`python -m mjpod ARGS` in a real subprocess, with a wide terminal so tables do not fold."""
    return subprocess.run(
        [sys.executable, "-m", "mjpod", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **env},
    )
