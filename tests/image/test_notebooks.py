"""Notebooks in the appliance: the quick-start notebook runs on the image's Jupyter kernel, the kernel is
registered where VS Code and Jupyter find it, and JupyterLab starts when asked, behind its token."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.image

# Jupyter's REST status, asked from inside the container (its loopback): the HTTP status code
STATUS = """
import sys, urllib.error, urllib.request
url = "http://127.0.0.1:8888/api/status" + (f"?token={sys.argv[1]}" if len(sys.argv) > 1 else "")
try:
    print(urllib.request.urlopen(url, timeout=5).status)
except urllib.error.HTTPError as err:
    print(err.code)
except OSError as err:
    print("down", err)
"""


def status(docker, container: str, *token: str) -> str:
    return docker.run("exec", container, "python", "-c", STATUS, *token, check=False).stdout.strip()


def listening(docker, container: str, port: int) -> set[str]:
    """The addresses `port` listens on in the container (from /proc/net/tcp: state 0A is LISTEN)."""
    lines = docker.run("exec", container, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout.splitlines()
    found = set()
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            found.add(fields[1].rsplit(":", 1)[0])
    return found


def test_the_quickstart_notebook_runs_on_the_images_kernel(docker, image):
    """The same headless run as in the venv (nbclient, a real kernel), in the container: its clips decoded
    with the image's mediapy and ffmpeg."""
    result = docker.run(
        "run", "--rm", image, "pytest", "-q", "-p", "no:cacheprovider", "tests/examples/test_quickstart.py",
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0 and "1 passed" in result.stdout, (
        result.stdout[-4000:] + result.stderr[-4000:]
    )


def test_the_mjpod_kernel_is_registered_with_the_venvs_python(docker, image):
    result = docker.run("run", "--rm", image, "jupyter", "kernelspec", "list", "--json")
    spec = json.loads(result.stdout)["kernelspecs"]["mjpod"]["spec"]
    assert spec["argv"][0] == "/opt/mjpod/.venv/bin/python" and "ipykernel_launcher" in spec["argv"]


def test_jupyterlab_starts_on_loopback_behind_its_token_only_when_asked(docker, image):
    token = secrets.token_hex(16)
    with docker.container(image) as quiet:  # no token: no JupyterLab
        docker.wait_for(quiet, "the entrypoint", lambda: "sshd NOT started" in docker.logs(quiet))
        assert status(docker, quiet).startswith("down")
    with docker.container("-e", f"JUPYTER_TOKEN={token}", image) as c:
        docker.wait_for(c, "JupyterLab", lambda: status(docker, c, token) == "200", timeout=180)
        assert status(docker, c) == "403"  # without the token: refused
        assert status(docker, c, "wrong") == "403"
        assert listening(docker, c, 8888) == {"0100007F"}  # 127.0.0.1 only
        logs = docker.logs(c)
        assert "JupyterLab started on 127.0.0.1:8888" in logs and token not in logs
        ps = docker.run("exec", c, "ps", "-eo", "args").stdout
        assert token not in ps  # never on a command line
        assert (
            docker.run(
                "exec", c, "test", "-f", "/workspace/examples/quickstart.ipynb", check=False
            ).returncode
            == 0
        )


def test_jupyterlab_as_compose_publishes_it_with_a_runpod_style_password(docker, image):
    """JUPYTER_IP=0.0.0.0 (what compose sets) and a port published on the host's loopback; JUPYTER_PASSWORD
    is the token, as Runpod's templates use it."""
    password = secrets.token_hex(16)
    args = ("-e", f"JUPYTER_PASSWORD={password}", "-e", "JUPYTER_IP=0.0.0.0", "-p", "127.0.0.1::8888")
    with docker.container(*args, image) as c:
        port = docker.published(c, 8888)
        url = f"http://127.0.0.1:{port}/api/status"

        def answers() -> bool:
            try:
                return urllib.request.urlopen(f"{url}?token={password}", timeout=5).status == 200
            except OSError:
                return False

        docker.wait_for(c, "JupyterLab on the published port", answers, timeout=180)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 403
