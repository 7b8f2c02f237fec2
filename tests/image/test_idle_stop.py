"""A pod that stops itself when idle, in the real image: the container gets what Runpod puts in a pod
(RUNPOD_POD_ID and a key scoped to that pod) and MJPOD_IDLE_STOP in seconds' worth of minutes, and
talks to the local server speaking Runpod's API on the Docker bridge. Asserted on events: the watcher's
logged decisions and the stop mutations the server received, never on how long anything took."""

from __future__ import annotations

import fcntl
import json
import shutil
import socket
import struct
import subprocess

import pytest

from tests.cloud.runpod_api import FakeRunpod
from tests.docker.appliance import keygen, ssh_argv
from tests.image.docker import Docker

pytestmark = pytest.mark.image

POD_KEY = "rp_pod_scoped_secret_4f9a"  # what Runpod injects as RUNPOD_API_KEY: it may act on its pod only
MINUTES = "0.05"  # 3 s without use
NOT_STOPPING = "in use for another 0.05 min"
# a recording that outlasts any test: the container's removal ends it
ENDLESS_RECORD = [
    "--model",
    "pendulum",
    "--duration",
    "100000",
    "--fps",
    "5",
    "--width",
    "64",
    "--height",
    "48",
]


def bridge_address(docker: Docker) -> str:
    """This host's address on the default bridge network (where containers reach the host): the
    network's gateway, else the address of its interface (docker0)."""
    network = json.loads(docker.run("network", "inspect", "bridge").stdout)[0]
    for config in network["IPAM"]["Config"] or ():
        if config.get("Gateway"):
            return config["Gateway"]
    name = network["Options"].get("com.docker.network.bridge.name", "docker0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("256s", name.encode()[:15])
        return socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, request)[20:24])  # SIOCGIFADDR


@pytest.fixture(scope="module")
def api(docker):
    """The fake API where containers reach the host, and only there: this host's bridge address."""
    with FakeRunpod(host=bridge_address(docker)) as fake:
        yield fake


def pod_env(api: FakeRunpod) -> tuple[str, list[str]]:
    """A new pod of the fake API, and the `docker run` options that make a container that pod."""
    pod = api.add_pod("mjpod")
    api.pod_keys[POD_KEY] = pod
    env = {
        "RUNPOD_POD_ID": pod,
        "RUNPOD_API_KEY": POD_KEY,
        "RUNPOD_API_BASE_URL": api.url,
        "MJPOD_IDLE_STOP": MINUTES,
        "MJPOD_IDLE_POLL": "0.5",
    }
    return pod, [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]


def stops(api: FakeRunpod, pod: str) -> list:
    return [c for c in api.fields("podStop") if c.args["input"]["podId"] == pod]


def test_a_container_nobody_uses_stops_its_pod_and_never_shows_the_key(docker, image, api):
    pod, env = pod_env(api)
    with docker.container(*env, image) as c:
        docker.wait_for(c, "the stop request", lambda: bool(stops(api, pod)), timeout=180)
        docker.wait_for(c, "Runpod's answer logged", lambda: "Runpod took the request" in docker.logs(c))
        logs = docker.logs(c)
        assert f"mjpod-idle: watching pod {pod}: it will stop itself after 0.05 min" in logs
        assert f"asking Runpod to stop pod {pod}" in logs
        assert stops(api, pod)[0].headers["Authorization"] == f"Bearer {POD_KEY}"
        assert not api.fields("podTerminate")  # stop, not terminate, unless asked
        # the key: in no log, no command line, no process but those Runpod gave it to
        assert POD_KEY not in logs
        processes = docker.run("exec", c, "ps", "-eo", "args").stdout
        assert "mjpod runpod idle-watch" in processes and POD_KEY not in processes
        inspected = docker.inspect(c)
        assert json.dumps(inspected).count(POD_KEY) == 1  # Config.Env, as Runpod sets it
        assert f"RUNPOD_API_KEY={POD_KEY}" in inspected["Config"]["Env"]


# The command lines of the container's processes whose environment holds MJPOD_IDLE_STOP_KEY's value
# (this probe's own, which docker exec gives the container's environment, left out), in pid order.
HOLDING_THE_KEY = """
import os
key = os.environ["MJPOD_IDLE_STOP_KEY"].encode()
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    try:
        environ = open(f"/proc/{pid}/environ", "rb").read()
        argv = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode()
    except OSError:
        continue
    if key in environ:
        print(argv)
"""


def open_session(docker: Docker, c: str, key) -> subprocess.Popen:
    return subprocess.Popen(
        [*ssh_argv(docker.published(c, 22), key), "sleep 600"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kept_up(docker: Docker, c: str, api: FakeRunpod, pod: str, active: str) -> None:
    """Once the watcher logs `active`, it must pass a whole idle period in use without asking Runpod
    anything (whatever it asked before the session or job began, while it was idle)."""
    docker.wait_for(c, active, lambda: f"mjpod-idle: active: {active}" in docker.logs(c), timeout=180)
    api.calls.clear()
    note = f"{NOT_STOPPING} ({active}): not stopping"
    docker.wait_for(c, "the watcher's decision", lambda: note in docker.logs(c), timeout=180)
    assert not stops(api, pod), docker.logs(c)


def test_an_open_ssh_session_keeps_the_pod_up(docker, image, api, tmp_path):
    if not shutil.which("ssh"):
        pytest.skip("needs the OpenSSH client (docker/provision.sh test)")
    pod, env = pod_env(api)
    pub = keygen(tmp_path / "key")
    # the idle-stop key given as from a Runpod secret: no session, no sshd, no JupyterLab may hold it
    secret = (
        "-e",
        "MJPOD_IDLE_STOP_KEY=" + POD_KEY,
        "-e",
        "RUNPOD_API_KEY=rp_other",
        "-e",
        "JUPYTER_TOKEN=jt",
    )
    with docker.container("-p", "127.0.0.1::22", "-e", f"PUBLIC_KEY={pub}", *env, *secret, image) as c:
        docker.wait_for(c, "sshd and JupyterLab", lambda: "JupyterLab started" in docker.logs(c))
        session = open_session(docker, c, tmp_path / "key")
        try:
            kept_up(docker, c, api, pod, "1 SSH session(s)")
            holding = docker.run("exec", c, "python3", "-c", HOLDING_THE_KEY).stdout.splitlines()
            assert len(holding) == 3, holding  # given by Docker (Runpod): tini, the entrypoint; the watcher
            assert "tini" in holding[0] and "entrypoint.sh" in holding[1] and "idle-watch" in holding[2]
        finally:
            session.kill()
            session.wait()
        docker.wait_for(c, "the stop once the session ended", lambda: bool(stops(api, pod)), timeout=180)


def test_a_running_mjpod_record_keeps_the_pod_up(docker, image, api):
    pod, env = pod_env(api)
    with docker.container(*env, image) as c:
        docker.wait_for(c, "the watcher", lambda: "mjpod-idle: watching pod" in docker.logs(c))
        docker.run("exec", "-d", c, "mjpod", "record", *ENDLESS_RECORD, "-o", "/workspace/videos/long.mp4")
        kept_up(docker, c, api, pod, "1 job(s): mjpod record")
