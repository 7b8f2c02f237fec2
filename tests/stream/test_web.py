"""The browser view in real headless Chromium: the page loads, shows the model, and its image is live."""

import io
import json
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

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
            "headless Chromium is missing: install chromium and chromium-driver (docker/provision.sh)"
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
