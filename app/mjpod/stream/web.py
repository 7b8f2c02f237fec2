"""The browser view: frames rendered in the server process (EGL) and pushed to a page as MJPEG.

MJPEG over plain HTTP (`multipart/x-mixed-replace`) needs nothing on the laptop but a browser and
passes through `ssh -L` and VS Code's port forwarding unchanged; the page uses relative URLs so it
also works behind a path prefix. One thread owns the GL context and renders the newest state, only
while someone is watching, at most `fps` times a second; each browser connection has its own thread,
so a slow browser skips frames instead of holding anything up.

Connections are bounded: at most `max_connections` at once (the next one gets a 503), a request must
arrive whole within REQUEST_TIMEOUT however it trickles, and without a token only requests naming the
server by an IP address or `localhost` are answered (a web page cannot reach it by DNS rebinding).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import socket
import sys
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
from mjpod.stream.net import AcceptBackoff, named_by_address, token_matches, warn_if_public


class WebViewError(MjpodError, RuntimeError):
    """The browser view cannot render here (no EGL, no GPU driver); the message points at the fix."""


log = logging.getLogger("mjpod.stream.web")

BOUNDARY = "mjpodframe"
IDLE_AFTER = 3.0  # seconds without a viewer before rendering pauses
REQUEST_TIMEOUT = 10.0  # seconds for a connection to send its whole request
BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    b"too many connections to this view; close another tab and reload\n"
)


class BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, but at most `max_connections` of them, each with REQUEST_TIMEOUT to
    send its request (the serving loop shuts overdue ones); an accept error backs off, not spins."""

    daemon_threads = True
    request_queue_size = 64  # a page opening several connections at once is not turned away by the kernel

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int):
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._reading: dict[socket.socket, float] = {}  # connections still sending their request: deadline
        self._reading_lock = threading.Lock()
        self._backoff = AcceptBackoff(
            log,
            "browser view cannot accept connections (%s); retrying until it passes",
            "browser view accepting connections again",
        )

    def get_request(self) -> tuple[socket.socket, tuple]:
        try:
            request = super().get_request()
        except OSError as err:  # out of descriptors: socketserver would retry at once, forever
            time.sleep(self._backoff.failed(err))
            raise
        self._backoff.succeeded()
        return request

    def process_request(self, request: socket.socket, client_address: tuple) -> None:  # type: ignore[override]
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(BUSY)  # a fresh socket's buffer takes it: this never waits
            self.shutdown_request(request)
            return
        with self._reading_lock:
            self._reading[request] = time.monotonic() + REQUEST_TIMEOUT
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: give the slot back
            self.request_read(request)
            self._slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: tuple) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.request_read(request)
            self._slots.release()

    def request_read(self, request: socket.socket) -> bool:
        """The request has arrived (or the connection ended): its deadline no longer applies. False
        when the deadline had passed already (the request was cut short: it must get no answer)."""
        with self._reading_lock:
            return self._reading.pop(request, None) is not None

    def handle_error(self, request: socket.socket, client_address: tuple) -> None:  # type: ignore[override]
        """A browser that went away mid-answer is no error worth a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("browser %s went away: %s", client_address, sys.exc_info()[1])
            return
        super().handle_error(request, client_address)

    def service_actions(self) -> None:
        """Called by serve_forever at least every poll interval: end connections past their deadline."""
        now = time.monotonic()
        with self._reading_lock:
            late = [r for r, deadline in self._reading.items() if deadline < now]
            for r in late:
                del self._reading[r]
        for r in late:
            with contextlib.suppress(OSError):
                r.shutdown(socket.SHUT_RDWR)  # the handler's read returns: its thread ends


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
        max_connections: int = 32,
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
        self._httpd = BoundedHTTPServer((host, port), self._handler_class(), max_connections)
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
        warn_if_public("the browser view", *self.address, self.token)

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
        return token_matches((query.get("token") or [""])[0], self.token)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        view = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "mjpod-web"
            timeout = 30  # a browser that stops reading for this long is dropped

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def do_GET(self) -> None:
                if not self.server.request_read(self.connection):  # type: ignore[attr-defined]
                    self.close_connection = True  # cut at its deadline: what arrived is not a request
                    return
                url = urllib.parse.urlsplit(self.path)
                if view.token is None and not named_by_address(self.headers.get("Host")):
                    self._send(
                        HTTPStatus.FORBIDDEN,
                        b"this view answers only to its IP address or localhost (e.g. http://127.0.0.1:PORT/),"
                        b" so that no web page can reach it through DNS rebinding; set MJSTREAM_TOKEN"
                        b" (or --token) to open it under a host name\n",
                        "text/plain",
                    )
                    return
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
