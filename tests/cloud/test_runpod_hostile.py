"""What the Runpod API answers is checked before it reaches a terminal or ~/.ssh/config, and a broken
answer (or a bad base URL) is a RunpodError, never a traceback. Against a local server speaking the API."""

from __future__ import annotations

import re
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


def body(text: str) -> bytes:
    data = text.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return (head + "Connection: close\r\n\r\n").encode() + data


POD = {"id": "pod0001", "name": "mjpod", "desiredStatus": "RUNNING"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"myself": {"pods": ["mjpod", 7]}}, "described a pod without an id of letters and digits: 'mjpod'"),
        ({"myself": {"pods": {"id": "pod0001"}}}, "listed your pods as something else than a list"),
        ({"myself": {"pods": [{"name": "mjpod"}]}}, "described a pod without an id"),
        ({"myself": {"pods": [POD | {"id": "x\ny"}]}}, "without an id of letters and digits"),
        ({"myself": {"pods": [POD | {"runtime": {"ports": {"22": 40022}}}]}}, "ports that are not a list"),
        ({"myself": {"pods": [POD | {"runtime": {"ports": ["22/tcp"]}}]}}, "ports that are not a list"),
        ({"myself": {"pods": [POD | {"name": ["mjpod"]}]}}, "a name that is not text"),
        ({"myself": None}, "unexpected answer while trying to list your pods"),
    ],
)
def test_an_answer_of_another_shape_is_a_runpod_error(api, data, message):
    """Medium: non-object entries, ports as a dict, a missing id gave AttributeError, KeyError or
    TypeError tracebacks where the tests promised a RunpodError."""
    api.data_for["myself"] = data
    with pytest.raises(RunpodError, match=re.escape(message)):
        Runpod().pods()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ('{"data": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply to read"),
        ('{"errors": []}', "unexpected answer"),
        ('{"errors": "boom"}', "unexpected answer"),
    ],
)
def test_a_deep_or_odd_json_answer_is_a_runpod_error(api, reply, message):
    """Medium: JSON nested 100,000 deep raised RecursionError, an empty error list IndexError."""
    api.raw_reply = body(reply)
    with pytest.raises(RunpodError, match=message):
        Runpod().pods()


def test_the_commands_print_hostile_answers_as_messages(api, tmp_path):
    """The same through the command: a message and exit status 1, never a traceback; and text the API
    sends reaches the terminal with its control characters escaped."""
    api.data_for["myself"] = {"myself": {"pods": [POD | {"runtime": {"ports": {"a": 1}}}]}}
    listed = runpod_ssh(api, tmp_path)
    assert listed.returncode == 1 and "ports that are not a list" in listed.stderr
    assert "Traceback" not in listed.stderr
    api.data_for["gpuTypes"] = {
        "gpuTypes": [{"id": "H100", "displayName": "\x1b]8;;http://x\x07evil", "memoryInGb": {"x": 1}}]
    }
    gpus = run_mjpod("runpod", "gpus", **env_for(api, tmp_path))
    assert gpus.returncode == 0, gpus.stderr
    assert "\x1b" not in gpus.stdout and "\\x1b]8;;http://x\\x07evil" in gpus.stdout
    del api.data_for["myself"]
    pod_id = api.add_pod("evil\x1b[2J")
    down = run_mjpod("runpod", "down", "--id", pod_id, **env_for(api, tmp_path))
    assert down.returncode == 0 and f"pod {pod_id} (evil\\x1b[2J) terminated" in down.stdout, down.stderr


def test_a_port_beyond_65535_is_refused(api, tmp_path):
    """Low: `--port 99999/tcp` went to Runpod as it was."""
    (tmp_path / ".ssh").mkdir()
    pub = tmp_path / ".ssh" / "id_ed25519.pub"
    pub.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHn1 me@host\n")
    up = run_mjpod(
        "runpod", "up", "--image", "docker.io/me/mjpod:0.1", "--port", "22/tcp", "--port", "99999/tcp",
        **env_for(api, tmp_path),
    )  # fmt: skip
    assert (
        up.returncode == 2 and "port '99999/tcp' is not PORT/tcp or PORT/http with PORT 1..65535" in up.stderr
    )
    assert not api.fields("podFindAndDeployOnDemand")
