"""The browser view: frames rendered in the server process (EGL) and pushed to a page as MJPEG.

MJPEG over plain HTTP (`multipart/x-mixed-replace`) needs nothing on the laptop but a browser and
passes through `ssh -L` and VS Code's port forwarding unchanged; the page uses relative URLs so it
also works behind a path prefix. One thread owns the GL context and renders the newest state, only
while someone is watching, at most `fps` times a second; each browser connection has its own thread,
so a slow browser skips frames instead of holding anything up.
"""

from __future__ import annotations

import copy
import hmac
import io
import json
import logging
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import mujoco

from mjpod.errors import MjpodError
from mjpod.stream.client import apply_mjdata
from mjpod.stream.feed import StateFeed


class WebViewError(MjpodError, RuntimeError):
    """The browser view cannot render here (no EGL, no GPU driver); the message points at the fix."""


log = logging.getLogger("mjpod.stream.web")

BOUNDARY = "mjpodframe"
IDLE_AFTER = 3.0  # seconds without a viewer before rendering pauses


class _LatestFrame:
    """The newest JPEG and the figures the page shows."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seq = -1
        self.jpeg = b""
        self.sim_time = 0.0
        self.fps = 0.0


class WebView:
    """Serve the page, the MJPEG stream, a single frame and a status JSON for one streamed model."""

    def __init__(
        self,
        feed: StateFeed,
        mjm: mujoco.MjModel,
        name: str,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        token: str | None = None,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        camera: int | str = -1,
        quality: int = 80,
    ) -> None:
        self.feed, self.name, self.token = feed, name, token
        self.width, self.height, self.fps, self.camera, self.quality = width, height, fps, camera, quality
        self._mjm = copy.deepcopy(mjm)  # the renderer enlarges the offscreen buffer of its model
        self._frames = _LatestFrame()
        self._stop = threading.Event()
        self._last_viewer = -float("inf")
        self._watchers = 0
        self._watch_lock = threading.Lock()
        self.renderer_name = ""
        self.error: str | None = None
        self._ready = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, name="mjpod-web-http", daemon=True),
            threading.Thread(target=self._render_loop, name="mjpod-web-render", daemon=True),
        ]

    @property
    def address(self) -> tuple[str, int]:
        return self._httpd.server_address[:2]  # type: ignore[return-value]

    def start(self) -> None:
        for t in self._threads:
            t.start()
        self._ready.wait(timeout=60)
        if self.error:
            self.close()
            raise WebViewError(self.error)
        log.info("browser view on http://%s:%d/ (GL: %s)", *self.address, self.renderer_name)

    def close(self) -> None:
        self._stop.set()
        with self._frames.cond:
            self._frames.cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        for t in self._threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join(timeout=5)

    def status(self) -> dict:
        f = self._frames
        return {
            "model": self.name,
            "time": f.sim_time,
            "fps": round(f.fps, 1),
            "frames": f.seq + 1,
            "width": self.width,
            "height": self.height,
            "renderer": self.renderer_name,
            "viewers": self._watchers,
        }

    # -- rendering (one thread owns the GL context) --

    def _watched(self) -> bool:
        return self._watchers > 0 or time.monotonic() - self._last_viewer < IDLE_AFTER

    def _render_loop(self) -> None:
        from PIL import Image

        from mjpod.render.gl import GLRenderer

        try:
            renderer = GLRenderer(self._mjm, self.height, self.width)
        except Exception as err:  # no EGL, no GPU driver: say so once, clearly
            self.error = f"browser view cannot render ({err}); run `mjpod doctor` for the fix"
            self._ready.set()
            return
        self.renderer_name = renderer.info.renderer
        self._ready.set()
        mjd = mujoco.MjData(self._mjm)
        seq, stamps = -1, []
        with renderer:
            while not self._stop.is_set():
                if not self._watched():
                    self._stop.wait(0.1)
                    continue
                snap = self.feed.wait_newer(seq, timeout=0.25)
                if snap is None:
                    if seq >= 0 or self.feed.latest() is None:
                        continue
                    snap = self.feed.latest()  # nothing new yet: still draw what there is
                seq = snap.seq
                started = time.monotonic()
                apply_mjdata(mjd, snap.as_state())
                mujoco.mj_forward(self._mjm, mjd)
                rgb = renderer.render(mjd, self.camera)
                out = io.BytesIO()
                Image.fromarray(rgb).save(out, format="JPEG", quality=self.quality)
                stamps = [s for s in stamps if started - s < 1.0] + [started]
                with self._frames.cond:
                    f = self._frames
                    f.seq, f.jpeg, f.sim_time = f.seq + 1, out.getvalue(), snap.time
                    f.fps = (len(stamps) - 1) / (started - stamps[0]) if len(stamps) > 1 else 0.0
                    f.cond.notify_all()
                self._stop.wait(max(0.0, 1.0 / self.fps - (time.monotonic() - started)))

    def _next_frame(self, after: int, timeout: float) -> tuple[int, bytes] | None:
        f = self._frames
        with f.cond:
            f.cond.wait_for(lambda: f.seq > after or self._stop.is_set(), timeout)
            return (f.seq, f.jpeg) if f.seq > after and not self._stop.is_set() else None

    # -- HTTP --

    def _authorized(self, query: dict[str, list[str]]) -> bool:
        if self.token is None:
            return True
        given = (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        view = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "mjpod-web"
            timeout = 30  # a browser that stops reading for this long is dropped

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if not view._authorized(urllib.parse.parse_qs(url.query)):
                    self._send(
                        HTTPStatus.FORBIDDEN,
                        b"wrong or missing token: open /?token=YOUR_TOKEN\n",
                        "text/plain",
                    )
                    return
                route = {
                    "/": self._page,
                    "/index.html": self._page,
                    "/stream.mjpg": self._mjpeg,
                    "/frame.jpg": self._frame,
                    "/status.json": self._status,
                }.get(url.path)
                if route is None:
                    self._send(HTTPStatus.NOT_FOUND, b"not found: try /\n", "text/plain")
                    return
                route()

            def _send(self, status: HTTPStatus, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _page(self) -> None:
                page = resources.files("mjpod.stream").joinpath("web_page.html").read_text()
                self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")

            def _status(self) -> None:
                view._last_viewer = time.monotonic()
                self._send(HTTPStatus.OK, json.dumps(view.status()).encode(), "application/json")

            def _frame(self) -> None:
                view._last_viewer = time.monotonic()
                got = view._next_frame(-1, timeout=10)
                if got is None:
                    self._send(
                        HTTPStatus.SERVICE_UNAVAILABLE,
                        b"no frame yet: is the simulation running?\n",
                        "text/plain",
                    )
                    return
                self._send(HTTPStatus.OK, got[1], "image/jpeg")

            def _mjpeg(self) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                with view._watch_lock:
                    view._watchers += 1
                seq = -1
                try:
                    while not view._stop.is_set():
                        got = view._next_frame(seq, timeout=1.0)
                        if got is None:
                            continue
                        seq, jpeg = got
                        head = (
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        )
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        self.wfile.flush()
                except OSError:
                    pass  # the browser went away
                finally:
                    with view._watch_lock:
                        view._watchers -= 1
                    view._last_viewer = time.monotonic()

        return Handler
