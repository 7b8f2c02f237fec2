"""Test set-up: headless GL (Mesa EGL here), offline Menagerie models from ../shared/models, and a
private X server for the tests marked `display`."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import xserver

ROOT = Path(__file__).resolve().parents[1]
SHARED_MODELS = ROOT.parent / "shared" / "models"

os.environ.setdefault("MUJOCO_GL", "egl")
if SHARED_MODELS.is_dir():
    os.environ.setdefault("MENAGERIE_ROOT", str(SHARED_MODELS))


def cuda_available() -> bool:
    from mjpod.engines import warp_setup

    warp_setup.init()
    import warp as wp

    return wp.is_cuda_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(item.get_closest_marker("gpu") for item in items) and not cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA device (run `make test-gpu` on a GPU machine)")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)
    videos = [item for item in items if item.get_closest_marker("ffmpeg")]
    if videos:  # the GPU check's staging has no imageio-ffmpeg: what needs it is skipped, saying why
        from mjpod import video

        if missing := video.ffmpeg_missing():
            for item in videos:
                item.add_marker(pytest.mark.skip(reason=f"needs ffmpeg: {missing}"))
    windows = [item for item in items if item.get_closest_marker("display")]
    if windows and (why := xserver.missing()):  # make test installs Xvfb: only where apt cannot
        for item in windows:
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def panda_available() -> bool:
    return (Path(os.environ.get("MENAGERIE_ROOT", "/nonexistent")) / "franka_emika_panda").is_dir()


@pytest.fixture(scope="session")
def has_cuda() -> bool:
    return cuda_available()


@pytest.fixture
def x_display() -> Iterator[xserver.XServer]:
    """A private Xvfb for one test (its own display number and cookie), stopped afterwards."""
    server = xserver.XServer()
    try:
        yield server
    finally:
        server.stop()
