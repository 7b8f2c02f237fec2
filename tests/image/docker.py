"""The docker CLI as the tests drive it: one engine's environment, containers removed afterwards."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.image.engine import docker_cli


class Docker:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [docker_cli(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def image_size(self, ref: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", ref).stdout)

    def inspect(self, container: str) -> dict:
        return json.loads(self.run("inspect", container).stdout)[0]

    def logs(self, container: str) -> str:
        result = self.run("logs", container, check=False)
        return result.stdout + result.stderr

    @contextlib.contextmanager
    def container(self, *run_args: str) -> Iterator[str]:
        """`docker run -d RUN_ARGS`: the container's name, removed with its anonymous volumes at the end."""
        name = f"mjpod-test-{uuid.uuid4().hex[:8]}"
        self.run("run", "-d", "--name", name, *run_args)
        try:
            yield name
        finally:
            self.run("rm", "-f", "-v", name, check=False)

    @contextlib.contextmanager
    def volume(self) -> Iterator[str]:
        name = f"mjpod-test-{uuid.uuid4().hex[:8]}"
        self.run("volume", "create", name)
        try:
            yield name
        finally:
            self.run("volume", "rm", "-f", name, check=False)

    def published(self, container: str, port: int) -> int:
        """The host port (on 127.0.0.1) a container's port is published on."""
        line = self.run("port", container, f"{port}/tcp").stdout.split()[0]
        return int(line.rsplit(":", 1)[1])

    def health(self, container: str) -> str:
        return self.inspect(container)["State"].get("Health", {}).get("Status", "none")

    def wait_for(self, container: str, what: str, check, timeout: float = 120) -> None:
        """Polls `check()` until it is true; fails with the container's log."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{container}: {what} did not happen in {timeout} s\n{self.logs(container)}"
                )
            time.sleep(0.3)

    def exists(self, container: str, path: str) -> bool:
        """Whether `path` (a shell glob may stand for one file) is there and not empty."""
        return self.run("exec", container, "sh", "-c", f"test -s {path}", check=False).returncode == 0

    def copy_out(self, container: str, path: str, dest: Path) -> Path:
        """`docker cp CONTAINER:PATH DEST` (works on a stopped container too)."""
        self.run("cp", f"{container}:{path}", str(dest))
        return dest
