"""Real processes and free ports for the streaming tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable


def free_port() -> int:
    """A port the OS just handed out (bound to 0, then released) so parallel runs never collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `predicate` until truthy; fail the test naming `what` when it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Mjpod:
    """`python -m mjpod ARGS` (or another `module`) in the background, its output collected line by line."""

    def __init__(self, *args: str, module: str = "mjpod", **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200", **env},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_line(self, text: str, timeout: float = 90, n: int = 1) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and self.count(text) < n:
                self._reader.join(timeout=2)
                if self.count(text) < n:
                    raise AssertionError(
                        f"mjpod exited ({self.proc.returncode}) before {text!r}:\n{self.output}"
                    )
            return self.count(text) >= n

        try:
            wait_for(seen, timeout, f"{text!r} x{n}")
        except AssertionError as err:
            raise AssertionError(f"{err}\noutput so far:\n{self.output}") from None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (a clean stop), then the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout=5)
        return code

    def __enter__(self) -> Mjpod:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
