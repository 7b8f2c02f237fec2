"""Where `mjpod serve --web` listens, read with `ss -ltn`: on 127.0.0.1 by default, every socket of the
process (MuJoCo Studio's own included); beyond loopback only with a token, for the web port and the TCP
stream alike, and inside the appliance container with one generated and printed."""

import re
import subprocess
import urllib.error
import urllib.request

import pytest

import mjpod.stream as mjstream
from tests.cli_runner import run_mjpod
from tests.stream.helpers import Mjpod, free_port


def listening(pid: int) -> list[str]:
    """The local address:port of every TCP socket process `pid` listens on."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


def test_by_default_every_listening_socket_is_on_loopback():
    port, web = free_port(), free_port()
    with Mjpod("serve", "--model", "box_drop", "--port", str(port), "--web", str(web)) as proc:
        proc.wait_line("browser view on", timeout=180)
        addresses = listening(proc.proc.pid)
    assert {f"127.0.0.1:{port}", f"127.0.0.1:{web}"} <= set(addresses), addresses
    assert len(addresses) >= 3, f"Studio's own listener is missing from {addresses}"  # its UI bridge
    assert all(a.startswith("127.0.0.1:") for a in addresses), addresses


def test_beyond_loopback_without_a_token_serve_refuses_and_says_how():
    for flags in (["--port", str(free_port())], ["--port", "0", "--web", str(free_port())]):
        proc = run_mjpod("serve", "--model", "box_drop", "--host", "0.0.0.0", *flags, MJSTREAM_TOKEN="")
        assert proc.returncode == 2, proc.stderr
        assert "would listen on 0.0.0.0 with no token" in proc.stderr and "MJSTREAM_TOKEN" in proc.stderr


def get(url: str) -> int:
    """The status a client that keeps cookies, as a browser does, ends on."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    try:
        with opener.open(url, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_in_the_container_a_token_is_generated_and_the_ready_url_printed():
    """As scripts/stream.sh runs it in the appliance: --host 0.0.0.0 and no token of the user's."""
    port, web = free_port(), free_port()
    # fmt: off
    with Mjpod("serve", "--model", "box_drop", "--host", "0.0.0.0", "--port", str(port), "--web", str(web),
               MJPOD_IN_CONTAINER="1", MJSTREAM_TOKEN="") as proc:
        # fmt: on
        proc.wait_line("browser view on", timeout=180)
        url = re.search(rf"http://127\.0\.0\.1:{web}/\?token=([\w-]+)", proc.output)
        assert url, proc.output
        token = url.group(1)
        assert f"MJSTREAM_TOKEN={token} mjpod view --port {port}" in proc.output
        addresses = listening(proc.proc.pid)
        assert {f"0.0.0.0:{port}", f"0.0.0.0:{web}"} <= set(addresses), addresses
        assert all(a.startswith("127.0.0.1:") for a in addresses if not a.endswith((f":{port}", f":{web}")))
        assert get(f"http://127.0.0.1:{web}/") == 403
        assert get(url.group(0)) == 200  # the printed link: a redirect that sets the cookie, then the page
        with pytest.raises(mjstream.StreamRefused, match="token"):
            mjstream.StreamClient.connect("127.0.0.1", port)
        with mjstream.StreamClient.connect("127.0.0.1", port, token=token) as client:
            assert client.next_state() is not None
