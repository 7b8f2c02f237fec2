"""The container tests (`make test-image`): the appliance image built with `make image` on a real Docker
engine, then run. Skipped only when no engine answers and none can be started, with the reason.

MJPOD_TEST_BASE (debian) is the BASE the image is built from: debian needs no image registry."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image import engine as engines
from tests.image.docker import Docker

ROOT = Path(__file__).resolve().parents[2]
IMAGE, TAG = "mjpod", "test"
BASE = os.environ.get("MJPOD_TEST_BASE", "debian")

_report: list[str] = []


@pytest.fixture(scope="session")
def docker_env() -> Iterator[dict[str, str]]:
    try:
        with engines.engine() as (env, where):
            _report.append(f"engine: {where}")
            yield env
    except engines.NoEngine as err:
        pytest.skip(f"no Docker engine: {err}")


def run(argv: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """A command in this checkout, as a user types it, with the environment that reaches the engine."""
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def make(*args: str, env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess:
    """A Make target of this checkout, with the docker CLI of this run."""
    return run(["make", "--no-print-directory", f"DOCKER={engines.docker_cli()}", *args], env, timeout)


def _base_image(env: dict[str, str]) -> str:
    """The base the build used: its --build-arg, else the Dockerfile's default."""
    dry = make("-n", "image", f"BASE={BASE}", env=env).stdout
    for word in dry.split():
        if word.startswith("BASE_IMAGE="):
            return word.split("=", 1)[1]
    dockerfile = (ROOT / "Dockerfile").read_text()
    return next(
        line.split("=", 1)[1] for line in dockerfile.splitlines() if line.startswith("ARG BASE_IMAGE=")
    )


@pytest.fixture(scope="session")
def image(docker_env) -> str:
    """mjpod:test, built as a user would: `make image` (BASE=debian: no registry needed here)."""
    started = time.monotonic()
    result = make("image", f"BASE={BASE}", f"IMAGE={IMAGE}", f"TAG={TAG}", env=docker_env)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        pytest.fail(
            f"make image failed after {seconds:.0f} s:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    docker = Docker(docker_env)
    size = docker.image_size(f"{IMAGE}:{TAG}")
    base = _base_image(docker_env)
    base_size = docker.image_size(base)
    _report.append(
        f"image {IMAGE}:{TAG} (BASE={BASE}): {size / 1e9:.2f} GB, {(size - base_size) / 1e9:.2f} GB above "
        f"its base {base} ({base_size / 1e9:.2f} GB); make image took {seconds:.0f} s"
    )
    return f"{IMAGE}:{TAG}"


@pytest.fixture(scope="session")
def docker(docker_env) -> Docker:
    return Docker(docker_env)


def pytest_terminal_summary(terminalreporter) -> None:
    if _report:
        terminalreporter.section("appliance image")
        for line in _report:
            terminalreporter.write_line(line)
