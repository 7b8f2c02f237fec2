"""A local stand-in for the Docker Engine, which this machine does not run: the real docker CLI talks
to it over a Unix socket (DOCKER_HOST=unix://...) with the Engine API's HTTP requests (/_ping for the
version, /vX.Y/info for `docker info`). It answers with the runtimes a host has registered, so the
tests can show a host with and without the NVIDIA Container Toolkit. Requests it does not know get a
404 and are recorded, so a test can assert that nothing past the check was attempted."""

from __future__ import annotations

import json
import re
import shutil
import socketserver
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

API_VERSION = "1.43"


def cli_major(cli: str) -> int:
    """A docker CLI's major version; 0 when it is not installed or does not say."""
    if not shutil.which(cli):
        return 0
    out = subprocess.run(
        [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True, timeout=30
    )
    version = out.stdout.strip().split(".")[0]
    return int(version) if version.isdigit() else 0


def lacks_buildx(cli: str) -> bool:
    """A CLI from 23 on without the buildx plugin: `docker build` falls back to the legacy builder."""
    return (
        cli_major(cli) >= 23
        and subprocess.run([cli, "buildx", "version"], capture_output=True, timeout=30).returncode != 0
    )


RUNC = {"runc": {"path": "runc"}}
NVIDIA = {**RUNC, "nvidia": {"path": "nvidia-container-runtime"}}


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeDockerEngine:
    def __init__(self, runtimes: dict) -> None:
        self.runtimes = runtimes
        self.requests: list[str] = []
        self._dir = tempfile.TemporaryDirectory(prefix="mjpod-docker-")
        self.socket = Path(self._dir.name) / "docker.sock"
        self.host = f"unix://{self.socket}"
        self._server = _UnixHTTPServer(str(self.socket), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeDockerEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    def _info(self) -> dict:
        return {
            "ID": "fake",
            "Name": "fake-engine",
            "ServerVersion": "28.2.2",
            "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
            "OSType": "linux",
            "Architecture": "x86_64",
            "Runtimes": self.runtimes,
            "DefaultRuntime": "runc",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # no client address on a Unix socket
                pass

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Ostype", "linux")
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _route(self) -> None:
                path = self.path.split("?", 1)[0]
                engine.requests.append(f"{self.command} {path}")
                if path == "/_ping":
                    return self._send(200, b"OK", "text/plain")
                if re.fullmatch(r"(/v[0-9.]+)?/info", path):
                    return self._send(200, json.dumps(engine._info()).encode())
                self._send(404, json.dumps({"message": f"the fake engine has no {path}"}).encode())

            do_GET = do_HEAD = do_POST = _route

        return Handler
