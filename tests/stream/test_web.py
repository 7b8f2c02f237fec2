"""The browser view in real headless Chromium: the page loads, shows the model, and its image is live."""

import contextlib
import io
import json
import shutil
import socket
import threading
import urllib.error
import urllib.request

import mujoco
import numpy as np
import pytest
from PIL import Image

from mjpod import models
from mjpod.render.gl import gl_info
from mjpod.stream import web as web_view
from mjpod.stream.feed import StateFeed
from tests.stream.helpers import Mjpod, free_port, wait_for

TOKEN = "web-token"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def web():
    port = free_port()
    # fmt: off
    proc = Mjpod("serve", "--model", "pendulum", "--camera", "front", "--port", "0", "--web", str(port), "--web-size", "320x240",
                 "--hz", "20", MJSTREAM_TOKEN=TOKEN)
    # fmt: on
    proc.wait_line("browser view on")
    yield f"http://127.0.0.1:{port}", proc
    assert proc.stop() == 0, proc.output


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def test_token_is_required_and_a_frame_is_a_real_jpeg(web):
    base, _ = web
    with pytest.raises(urllib.error.HTTPError) as err:
        get(f"{base}/")
    assert err.value.code == 403 and b"token" in err.value.read()
    frame = Image.open(io.BytesIO(get(f"{base}/frame.jpg?token={TOKEN}")))
    assert frame.format == "JPEG" and frame.size == (320, 240)
    assert np.asarray(frame).std() > 5
    status = json.loads(get(f"{base}/status.json?token={TOKEN}"))
    assert status["model"] == "pendulum" and status["renderer"]


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "headless Chromium is missing: on Debian docker/provision.sh installs chromium and"
            " chromium-driver; on Ubuntu (no deb, only a snap) install Google Chrome and a matching"
            " chromedriver, or run the browser test on Debian"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=800,600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def image_pixels(driver) -> np.ndarray:
    """What the page's image element really shows, from a screenshot of the element."""
    png = driver.find_element("id", "view").screenshot_as_png
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def test_page_shows_a_live_simulation_in_headless_chromium(web, browser):
    base, _ = web
    browser.get(f"{base}/?token={TOKEN}")
    wait_for(
        lambda: browser.execute_script("const i = document.getElementById('view'); return i.naturalWidth"),
        60,
        "the first frame",
    )
    wait_for(lambda: browser.find_element("id", "model").text == "pendulum", 30, "the model name")
    first_time = float(
        wait_for(lambda: browser.find_element("id", "time").text.replace("–", ""), 30, "sim time")
    )
    first = image_pixels(browser)
    assert first.shape[0] >= 200 and first.shape[1] >= 300
    assert first.std() > 5, "the image is blank"

    def changed() -> bool:
        return np.abs(image_pixels(browser) - first).mean() > 0.5

    wait_for(changed, 60, "the image to change as the pendulum swings")
    wait_for(lambda: float(browser.find_element("id", "time").text) > first_time, 30, "sim time to advance")
    fps = wait_for(
        lambda: float(browser.find_element("id", "fps").text.replace("–", "0") or 0), 30, "an fps figure"
    )
    assert fps > 0


class PrefixProxy:
    """A port forward that also moves the server under a path prefix, as code-server's /proxy/PORT/ does.

    Requests outside the prefix get a 404, so a page that used absolute URLs would show nothing.
    """

    def __init__(self, target: int, prefix: str) -> None:
        self.target, self.prefix = target, prefix
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                threading.Thread(target=self._forward, args=(conn,), daemon=True).start()

    def _forward(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            head = b""
            while b"\r\n" not in head and (chunk := conn.recv(4096)):
                head += chunk
            method, path, rest = head.split(b" ", 2)
            if not path.startswith(self.prefix.encode()):
                conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            path = b"/" + path[len(self.prefix) :]
            with socket.create_connection(("127.0.0.1", self.target)) as up:
                up.sendall(b" ".join([method, path, rest]))
                threading.Thread(target=self._pump, args=(conn, up), daemon=True).start()
                self._pump(up, conn)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


def test_page_works_through_a_forwarded_port_under_a_path_prefix(web, browser):
    """Relative URLs: through another port and under /proxy/PORT/, the page still loads its stream."""
    base, _ = web
    port = int(base.rsplit(":", 1)[1])
    proxy = PrefixProxy(port, f"/proxy/{port}/")
    try:
        browser.get(f"http://127.0.0.1:{proxy.port}/proxy/{port}/?token={TOKEN}")
        wait_for(
            lambda: browser.execute_script("return document.getElementById('view').naturalWidth"),
            60,
            "the first frame through the proxy",
        )
        wait_for(lambda: browser.find_element("id", "model").text == "pendulum", 30, "the model name")
        assert image_pixels(browser).std() > 5, "the image is blank"
    finally:
        proxy.close()


def test_page_names_the_gl_renderer_that_draws_it(web, browser):
    """The README: the page shows the GL renderer; here the server draws with Mesa, as this test does."""
    base, _ = web
    renderer = gl_info().renderer
    assert json.loads(get(f"{base}/status.json?token={TOKEN}"))["renderer"] == renderer
    browser.get(f"{base}/?token={TOKEN}")
    wait_for(lambda: browser.find_element("id", "renderer").text == renderer, 30, f"{renderer!r} on the page")


def test_frames_are_rendered_only_while_someone_watches(monkeypatch):
    """No browser, no GL work: the render thread idles until a viewer asks, and again once it has gone."""
    monkeypatch.setattr(web_view, "IDLE_AFTER", 1.0)  # seconds without a viewer before rendering pauses
    lm = models.load("pendulum")
    feed, mjd, stop = StateFeed(hz=0), mujoco.MjData(lm.model), threading.Event()

    def simulate() -> None:
        while not stop.wait(0.01):
            mujoco.mj_step(lm.model, mjd)
            feed.publish(mjd)

    view = web_view.WebView(feed, lm.model, "pendulum", port=free_port(), width=64, height=48)
    simulation = threading.Thread(target=simulate, daemon=True)
    view.start()
    simulation.start()

    def states_pass(n: int) -> None:  # the simulation's clock, not the wall's: a slow box only takes longer
        start = feed.latest().seq if feed.latest() else -1
        wait_for(lambda: feed.latest() and feed.latest().seq >= start + n, 60, f"{n} more states")

    try:
        states_pass(100)  # states arrive all along
        assert view.status()["frames"] == 0, "rendered with nobody watching"
        with urllib.request.urlopen("http://{}:{}/stream.mjpg".format(*view.address), timeout=30) as stream:
            seen = b""
            while seen.count(b"Content-Type: image/jpeg") < 3:  # three frames to this viewer
                seen += stream.read1(65536)
            assert view.status()["viewers"] == 1 and view.status()["frames"] >= 3
        wait_for(lambda: view.status()["viewers"] == 0, 30, "the server to notice the viewer left")
        # rendering pauses IDLE_AFTER after the last viewer; a frame begun just before may still end
        wait_for(lambda: not view._watched(), 30, "IDLE_AFTER to pass")
        paused = view.status()["frames"]
        states_pass(100)
        assert view.status()["frames"] <= paused + 1, "still rendering after the viewer left"
    finally:
        stop.set()
        simulation.join()
        view.close()
