"""The fake Runpod API every test here talks to, with the SDK pointed at it."""

import pytest

from tests.cloud.runpod_api import FakeRunpod


@pytest.fixture
def api(monkeypatch):
    with FakeRunpod() as fake:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", fake.url)
        monkeypatch.setenv("RUNPOD_API_KEY", fake.api_key)
        yield fake
