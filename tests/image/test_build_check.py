"""The host check before a build: a docker CLI from 23 on without buildx would fall back to the legacy
builder and fail only at the first RUN --mount; `make image` must stop first and say so."""

from __future__ import annotations

import shutil

import pytest

from tests.docker.docker_engine import lacks_buildx
from tests.image.conftest import make

pytestmark = pytest.mark.image


def _cli_without_buildx() -> str | None:
    candidates = filter(None, [shutil.which("docker"), "/usr/local/bin/docker", "/usr/bin/docker"])
    return next((cli for cli in dict.fromkeys(candidates) if lacks_buildx(cli)), None)


def test_a_cli_without_buildx_is_named_before_building(docker_env):
    cli = _cli_without_buildx()
    if cli is None:
        pytest.skip("every docker CLI here has buildx or is older than 23")
    result = make("image", "BASE=debian", f"DOCKER={cli}", "IMAGE=mjpod-never", env=docker_env, timeout=600)
    assert result.returncode != 0
    assert "has no buildx plugin" in result.stderr and "docker-buildx-plugin" in result.stderr
    assert " build -t mjpod-never" not in result.stdout, result.stdout  # stopped before the build
