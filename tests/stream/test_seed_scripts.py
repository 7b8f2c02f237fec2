"""Seed scripts port by changing one import: a seed-style server and client, each a real process."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mjpod import models
from tests.stream.helpers import free_port, wait_for

SCRIPTS = Path(__file__).parent / "seed_style"


def start(script: str, *args: str, cwd: Path | None = None, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
    )


def finish(proc: subprocess.Popen) -> list[str]:
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    return out.splitlines()


def line(lines: list[str], word: str) -> str:
    found = [x for x in lines if x.startswith(word + " ")]
    assert found, f"no {word!r} line in:\n" + "\n".join(lines)
    return found[-1]


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()  # no hello: not a viewer
        return True
    except OSError:
        return False


def run_pair(model_path: Path, steps: int, client_cwd: Path, **client_env: str) -> tuple[list, list]:
    port = free_port()
    server = start("server.py", str(model_path), str(steps), MJSTREAM_PORT=str(port))
    try:
        wait_for(lambda: listening(port), 60, "the seed-style server to listen")
        time.sleep(1.0)
        assert server.poll() is None, server.stdout.read()  # type: ignore[union-attr]
        client = start("client.py", str(port), cwd=client_cwd, **client_env)
        client_lines = finish(client)
        server_lines = finish(server)
    finally:
        server.kill()
    return server_lines, client_lines


def test_seed_scripts_stream_a_self_contained_model(tmp_path):
    """start() holds the simulation for the viewer, as the seed's did; the viewer ends on the final state."""
    server, client = run_pair(models.load("box_drop").path, 3000, tmp_path)
    assert server[0] == "started True", server  # start() returned only once the viewer was there
    assert line(client, "model").split()[1] == "xml"
    assert int(line(client, "states").split()[1]) > 0
    assert line(client, "final") == line(server, "final")  # time and qpos, bit for bit


def test_seed_scripts_stream_a_mesh_model_to_a_client_without_its_files(panda_available, tmp_path):
    """The seed's `model_path` packet now points at a private copy the client received, not the server's files."""
    if not panda_available:
        pytest.skip("the Panda meshes are not in MENAGERIE_ROOT")
    source = models.load("franka_emika_panda/mjx_scene").path
    server, client = run_pair(source, 300, tmp_path, MENAGERIE_ROOT="/nonexistent")
    kind, path = line(client, "model").split()[1:]
    assert kind == "model_path"
    assert Path(path).name == "model.xml" and Path(source).parent not in Path(path).parents
    assert not Path(path).exists(), "the received model's temporary folder outlived the client"
    assert line(client, "final") == line(server, "final")
