"""`mjpod serve --web` with the Warp engines: the page is served, and a browser's state stream carries
the running simulation, copied off the device (the browser itself: test_web.py, on MuJoCo C)."""

import urllib.request

import pytest
from websockets.sync.client import connect

from tests.stream.helpers import Mjpod, free_port


@pytest.mark.parametrize("engine", ["mjwarp", "comfree"])
def test_a_warp_engine_feeds_the_browser_view(engine):
    web = free_port()
    # fmt: off
    with Mjpod("serve", "--model", "box_drop", "--engine", engine, "--device", "cpu", "--nworld", "2",
               "--world", "1", "--port", "0", "--web", str(web)) as proc:
        # fmt: on
        proc.wait_line("browser view on", timeout=300)
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/", timeout=30) as page:
            assert b"MuJoCo Web Viewer" in page.read()
        url = f"ws://127.0.0.1:{web}/state?sid=test"
        with connect(url, open_timeout=60, compression=None, max_size=None) as state:
            payloads = [m for m in (state.recv(timeout=120) for _ in range(20)) if isinstance(m, bytes)]
        assert len(set(payloads)) >= 2, "the browser's stream does not follow the simulation (the box falls)"
    assert proc.proc.returncode == 0, proc.output
