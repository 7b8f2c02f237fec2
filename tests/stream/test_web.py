"""The browser view in real headless Chromium (SwiftShader WebGL2): MuJoCo Studio's web client draws the
served scene, the camera moves, the world picker switches worlds, a spectator changes nothing in the
simulation and --web-control does, and the token keeps the page and its WebSockets shut.

The scene (two_worlds.xml) holds a magenta box at x = -0.4 in world 0 and +0.4 in world 1; what the
simulation does is read from the TCP stream of the same server, never from the page.
"""

import contextlib
import io
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.keys import Keys

import mjpod.stream as mjstream
from tests.stream.helpers import Mjpod, free_port, wait_for
from tests.stream.served_worlds import POSES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
SIZE = (900, 600)  # the browser window
VIEW_CENTER = (
    -30,
    -80,
)  # a point of the 3D view, from the canvas center: clear of Studio's panes and mjpod's


class Served:
    """tests/stream/served_worlds.py in its own process, with its TCP stream read in the background."""

    def __init__(self, *flags: str) -> None:
        self.port, self.web = free_port(), free_port()
        self.proc = Mjpod(str(self.port), str(self.web), *flags, module="tests.stream.served_worlds")
        self.proc.wait_line("browser view on", timeout=180)
        self.states: list[tuple[float, float, float]] = []  # (arrival, sim time, box x of world 0)
        self._client = mjstream.StreamClient.connect("127.0.0.1", self.port, token=self._token(flags))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @staticmethod
    def _token(flags: tuple[str, ...]) -> str | None:
        return flags[flags.index("--token") + 1] if "--token" in flags else None

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            while (state := self._client.next_state()) is not None:
                self.states.append((time.monotonic(), state["time"], float(state["qpos"][0])))

    def no_browser(self) -> bool:
        """Whether Studio's server has no browser now (by its log), so the next page gets to drive the
        view: a page that opens while another still holds Studio's controller slot only watches."""
        said = [line for line in self.proc.lines if "[StateWS] Browser" in line]
        return not said or "(0 total)" in said[-1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web}/"

    def since(self, start: float) -> list[tuple[float, float, float]]:
        return [s for s in self.states if s[0] >= start]

    def close(self) -> None:
        code = self.proc.stop()
        self._client.close()
        assert code == 0, self.proc.output


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
        "--disable-dev-shm-usage",
        f"--window-size={SIZE[0]},{SIZE[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def spectated():
    served = Served()
    yield served
    served.close()


@pytest.fixture(scope="module")
def controlled():
    served = Served("--control")
    yield served
    served.close()


def screenshot(driver) -> np.ndarray:
    """The page as the user sees it. SwiftShader on a busy box may keep the renderer from answering
    for a while: ask again rather than fail."""
    for _ in range(8):
        with contextlib.suppress(TimeoutException):
            png = driver.get_screenshot_as_png()
            return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
    raise AssertionError("the browser gave no screenshot in 8 tries")


def magenta(rgb: np.ndarray) -> np.ndarray:
    """Where the box is: magenta, shaded (nothing on Studio's page is that colour)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 90) & (b > 90) & (g < 0.5 * np.minimum(r, b))


def until(get, timeout: float, what: str):
    """The first value of `get()` that is not None; fail naming `what` when none comes in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = get()
        if value is not None:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def box(driver, at_least: int = 400) -> np.ndarray:
    """The box's pixels once the page shows it."""

    def shown() -> np.ndarray | None:
        mask = magenta(screenshot(driver))
        return mask if mask.sum() >= at_least else None

    return until(shown, 240, "the box on the page")


def settled(driver) -> np.ndarray:
    """The box's pixels once two screenshots in a row agree (the box is at rest, the camera still)."""
    last = box(driver)

    def same() -> np.ndarray | None:
        nonlocal last
        now = box(driver)
        agree = np.logical_xor(now, last).sum() < 0.02 * max(now.sum(), 1)
        last = now
        return now if agree else None

    return until(same, 120, "the scene to settle")


def centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


@contextlib.contextmanager
def held(driver, key: str):
    """A key held down on the canvas (focused by a click in the 3D view) until the block has seen what
    it does: Studio's UI reads the keyboard's state once per page frame, and a slow page draws one
    seldom, so a press of a set length can fall between two frames. None of these keys repeats."""
    canvas = driver.find_element("id", "canvas")
    focus = ActionChains(driver).move_to_element_with_offset(canvas, *VIEW_CENTER).click().pause(1.0)
    focus.key_down(key).perform()
    try:
        yield
    finally:
        ActionChains(driver).key_up(key).pause(1.0).perform()


def open_page(driver, served: "Served", query: str = "") -> np.ndarray:
    """The served page, once the last one has left, with the scene settled."""
    driver.get("about:blank")
    wait_for(served.no_browser, 60, "the last page to leave")
    time.sleep(1.0)  # its UI connection closes with it
    driver.get(served.url + query)
    return settled(driver)


def test_the_page_draws_the_scene_and_the_world_picker_switches_worlds(browser, spectated):
    """The model's own colour on the page (not a blank or an error page); PageDown shows world 1,
    whose box rests on the other side (+x, right on the screen), PageUp world 0 again."""
    world0 = open_page(browser, spectated)
    with held(browser, Keys.PAGE_DOWN):
        world1 = until(
            lambda: m if centroid_x(m := settled(browser)) > centroid_x(world0) + 40 else None,
            120,
            "world 1's box, to the right of world 0's",
        )
    with held(browser, Keys.PAGE_UP):
        wait_for(lambda: abs(centroid_x(settled(browser)) - centroid_x(world0)) < 10, 120, "world 0 again")
    assert world1.sum() > 400


def test_a_drag_on_the_canvas_moves_the_camera(browser, spectated):
    before = open_page(browser, spectated)
    for _ in range(3):  # a drag that starts before the UI has seen the pointer is the page's, not the view's
        drag(browser, 140, 60)
        moved = np.logical_xor(before, settled(browser)).sum()
        if moved > 0.1 * before.sum():
            return
    raise AssertionError(f"the box looks the same after three drags ({moved} pixels changed)")


def drag(driver, dx: int, dy: int, start: tuple[int, int] = VIEW_CENTER, hold: float = 0.0) -> None:
    """A left-button drag as a hand makes it: hover, press, move in steps, (hold,) release. The hover
    comes first and lasts: the page moves the camera itself only once Studio's UI has seen the pointer
    over the 3D view rather than over a panel."""
    canvas = driver.find_element("id", "canvas")
    actions = ActionBuilder(driver)
    actions.pointer_action.move_to(canvas, *start).pause(2.0).pointer_down()
    for step in range(1, 11):
        actions.pointer_action.move_to(canvas, start[0] + dx * step // 10, start[1] + dy * step // 10).pause(
            0.1
        )
    actions.pointer_action.pause(hold).pointer_up()
    actions.perform()


def drop_a_model(driver) -> str:
    """What the page's own drag-and-drop does: open /drop and send a file; how that socket ended."""
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/drop?sid=x");
        ws.onopen = () => { ws.send(new TextEncoder().encode("evil.xml")); ws.send(new Uint8Array(0)); done("opened"); };
        ws.onclose = (e) => done("closed " + e.code);
        """
    )


def test_a_spectator_changes_nothing_in_the_simulation(browser):
    """Pause (Space), reset (Backspace) and a dropped model: each reaches mjpod (its log says so) and
    the engine's time and the box go on as before. (A pull on a body: test_web_requests.py.) A server
    of its own: the first page of a Studio session is the one that surely drives its UI."""
    spectated = Served()
    try:
        _spectator_attempts(browser, spectated)
    finally:
        spectated.close()


def _spectator_attempts(browser, spectated: Served) -> None:
    open_page(browser, spectated)
    browser.set_script_timeout(60)
    start = time.monotonic()
    with held(browser, " "):
        spectated.proc.wait_line("Pause froze this view", timeout=120)
    with held(browser, Keys.BACKSPACE):
        spectated.proc.wait_line("refused: reset", timeout=120)
    assert drop_a_model(browser).startswith("closed")
    spectated.proc.wait_line("model upload", timeout=60)
    seen = spectated.since(start)
    times = [t for _, t, _ in seen]
    assert times == sorted(times) and times[-1] - times[0] > 1.0, "the simulation paused or reset"
    assert max(abs(x - POSES[0]) for _, _, x in seen) < 1e-3, "the box moved"


def test_with_web_control_pause_stops_the_engine_and_reset_resets_it(browser, controlled):
    open_page(browser, controlled)
    wait_for(lambda: controlled.states and controlled.states[-1][1] > 2.0, 120, "two simulated seconds")

    def paused() -> bool:  # the engine's time stood still over the last wall second of states
        recent = controlled.since(time.monotonic() - 1.0)
        return len(recent) > 5 and recent[0][1] == recent[-1][1]

    with held(browser, " "):
        wait_for(paused, 120, "the engine to pause")
    stood = controlled.states[-1][1]
    time.sleep(1.0)  # a wall second in which a running engine steps (a lower bound: never too short)
    assert controlled.states[-1][1] == stood, "the engine's time went on while paused"
    with held(browser, " "):
        wait_for(lambda: controlled.states[-1][1] > stood + 0.5, 60, "time to run again after Run")
    before = controlled.states[-1][1]
    start = time.monotonic()
    with held(browser, Keys.BACKSPACE):
        wait_for(lambda: any(t < before - 0.5 for _, t, _ in controlled.since(start)), 60, "the reset")


def test_without_the_token_the_page_and_its_websockets_are_refused(browser):
    token = "browser-token"
    served = Served("--host", "0.0.0.0", "--token", token)
    try:
        url = served.url
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=30)
        assert refused.value.code == 403
        browser.get(url)
        assert "wrong or missing token" in browser.find_element("tag name", "body").text
        browser.set_script_timeout(60)
        for path in ("/state?sid=x", "/ui?sid=x"):
            ended = browser.execute_async_script(
                """
                const done = arguments[arguments.length - 1];
                const ws = new WebSocket("ws://" + location.host + arguments[0]);
                ws.onopen = () => done("opened");
                ws.onclose = (e) => done("closed " + e.code);
                """,
                path,
            )
            assert ended.startswith("closed"), f"{path}: {ended}"
        assert open_page(browser, served, f"?token={token}").sum() > 400  # with it, the scene
        assert "token" not in browser.current_url, "the token stayed in the address bar"
    finally:
        served.close()


def test_hundreds_of_idle_and_hostile_connections_stop_nothing(browser, spectated):
    """300 connections to the web port that say nothing, trickle, or send garbage: the simulation goes
    on, the TCP stream goes on, and a browser still opens the view."""
    hostile = []
    try:
        for k in range(300):
            s = socket.create_connection(("127.0.0.1", spectated.web), timeout=30)
            if k % 3 == 1:
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            elif k % 3 == 2:
                with contextlib.suppress(OSError):
                    s.sendall(b"\x16\x03\x01garbage\r\n\r\n" * 3)
            hostile.append(s)
        start = time.monotonic()
        assert open_page(browser, spectated).sum() > 400
        seen = spectated.since(start)
        assert len(seen) > 10 and seen[-1][1] > seen[0][1], "the TCP stream stopped"
    finally:
        for s in hostile:
            with contextlib.suppress(OSError):
                s.close()
