"""What the Runpod API answers is checked before it reaches a terminal or ~/.ssh/config, and a broken
answer (or a bad base URL) is a RunpodError, never a traceback. Against a local server speaking the API."""

from __future__ import annotations

import subprocess

import pytest

from mjpod.cloud.runpod import Runpod, RunpodError
from tests.cli.test_runpod import env_for
from tests.cli_runner import run_mjpod
from tests.cloud.runpod_api import FakeRunpod

INJECTED = "\n    ProxyCommand touch /tmp/mjpod-pwned"


def runpod_ssh(api: FakeRunpod, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return run_mjpod("runpod", "ssh", *args, **env_for(api, tmp_path))


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("ssh_ip", "203.0.113.7" + INJECTED, "neither an IP address nor a host name"),
        ("ssh_port", "40022" + INJECTED, "SSH port that is no number"),
        ("name", "mjpod" + INJECTED, "cannot be an ~/.ssh/config Host alias"),
    ],
)
def test_an_api_answer_cannot_write_into_the_ssh_config_entry(api, tmp_path, field, value, reason):
    """Item 12: the API's `ip` (and port, and pod name) went unchecked into the entry the user pastes
    into ~/.ssh/config, so a line break and `ProxyCommand …` would run a command on the laptop."""
    if field == "name":
        pod_id = api.add_pod(value)
    else:
        setattr(api, field, value)
        pod_id = api.add_pod("mjpod")
    shown = runpod_ssh(api, tmp_path, "--id", pod_id)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert reason in shown.stderr.replace("\n", " "), shown.stderr
    assert "ProxyCommand" not in shown.stdout and "Traceback" not in shown.stderr


def test_a_base_url_that_is_no_url_is_a_runpod_error(api, monkeypatch):
    """Item 12: requests' errors other than connection and timeout escaped as tracebacks."""
    monkeypatch.setenv("RUNPOD_API_BASE_URL", "api.runpod.io")  # no scheme
    with pytest.raises(
        RunpodError, match=r"request to the Runpod API at api\.runpod\.io failed.*MissingSchema"
    ):
        Runpod().pods()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 12\r\nConnection: close\r\n\r\nnot gzip !!!",
            "ContentDecodingError",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\nzz\r\n{}\r\n",
            "ChunkedEncodingError",
        ),
    ],
)
def test_a_broken_body_is_a_runpod_error(api, reply, error):
    api.raw_reply = reply
    with pytest.raises(RunpodError, match=f"failed while trying to list your pods \\({error}"):
        Runpod().pods()
