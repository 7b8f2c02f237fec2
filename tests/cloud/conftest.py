"""The fake Runpod API every test here talks to, with the SDK pointed at it; an SSH key to send."""

import subprocess

import pytest

from tests.cloud.runpod_api import FakeRunpod


@pytest.fixture
def api(monkeypatch):
    with FakeRunpod() as fake:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", fake.url)
        monkeypatch.setenv("RUNPOD_REST_BASE_URL", fake.rest_url)
        monkeypatch.setenv("RUNPOD_API_KEY", fake.api_key)
        yield fake


@pytest.fixture(scope="session")
def public_key(tmp_path_factory) -> str:
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", str(key)], check=True
    )
    return key.with_suffix(".pub").read_text().strip()
