"""The browser view's gate on real sockets, in front of a real HTTP and WebSocket server on a Unix socket
(as Studio's is): the token for every kind of request, the checks without one, and every bound."""

import asyncio
import contextlib
import hmac
import http.client
import os
import socket
import tempfile
import threading
import time

import pytest
from websockets.asyncio.server import unix_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response
from websockets.sync.client import connect

from mjpod.stream import net, web_gate
from mjpod.stream.web_gate import WebGate
from tests.stream.helpers import wait_for

TOKEN = "gate-token"


class Upstream:
    """What Studio's server does at its public socket: static files over HTTP, an echoing WebSocket."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp()
        self.path = os.path.join(self.folder, "up.sock")
        self.requests: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stopped: asyncio.Event | None = None
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._serve(),), daemon=True
        )
        self.thread.start()
        self.ready.wait(10)

    async def _serve(self) -> None:
        self.stopped = asyncio.Event()

        def process_request(connection, request):
            self.requests.append(request.path)
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return None
            body = b"file " + request.path.encode()
            return Response(200, "OK", Headers({"Content-Length": str(len(body))}), body)

        async def echo(ws) -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    await ws.send(message)

        # no compression, as Studio: frames keep their size
        async with unix_serve(
            echo, self.path, process_request=process_request, max_size=None, compression=None
        ):
            self.ready.set()
            await self.stopped.wait()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stopped.set)  # type: ignore[union-attr]
        self.thread.join(10)


@pytest.fixture
def upstream():
    up = Upstream()
    yield up
    up.close()


@contextlib.contextmanager
def gate(upstream: Upstream, token: str | None = TOKEN):
    g = WebGate("127.0.0.1", 0, upstream.path, token)
    g.start()
    try:
        yield g
    finally:
        g.close()


def get(g: WebGate, path: str, **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(*g.address, timeout=30)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def websocket(g: WebGate, path: str = "/state", **headers: str):
    url = f"ws://{g.address[0]}:{g.address[1]}{path}"
    return connect(url, additional_headers=headers, open_timeout=30, compression=None)


def test_with_a_token_every_request_needs_it(upstream, monkeypatch):
    compared: list[bytes] = []

    real = hmac.compare_digest

    def spy(a, b):
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(net.hmac, "compare_digest", spy)
    with gate(upstream) as g:
        for path in ("/", "/web_client.wasm", "/model?total_bytes"):
            answer = get(g, path)
            assert answer.status == 403 and b"?token=" in answer.body, path
        assert get(g, "/?token=nope").status == 403
        with pytest.raises(InvalidStatus, match="403"):
            websocket(g)
        assert upstream.requests == [], "a request without the token reached Studio"
        assert compared and set(compared) == {TOKEN.encode()}, "the token was not compared in constant time"

        opened = get(g, "/?token=" + TOKEN)  # the link the banner prints
        assert opened.status == 303 and opened.getheader("Location") == "/"
        cookie = opened.getheader("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = cookie.split(";")[0]
        assert get(g, "/web_client.wasm", Cookie=jar).body == b"file /web_client.wasm"
        assert get(g, "/web_client.wasm", Cookie=jar.replace(TOKEN, "x" * len(TOKEN))).status == 403
        with websocket(g, Cookie=f"other=1; {jar}") as ws:
            ws.send(b"hello")
            assert ws.recv(timeout=30) == b"hello"


def test_a_files_answer_ends_its_connection_so_no_browser_sends_another_request_down_it(upstream):
    """Studio's server answers one request per connection without saying so: a page whose browser sent
    its next file request down a used connection got no answer until the idle cut, and stayed blank."""
    with gate(upstream, token=None) as g:
        conn = http.client.HTTPConnection(*g.address, timeout=60)
        try:
            for path in ("/web_client.js", "/assets/pbr.filamat"):
                conn.request("GET", path)
                response = conn.getresponse()
                assert response.getheader("Connection") == "close", response.getheaders()
                assert response.read() == b"file " + path.encode()
        finally:
            conn.close()
    assert upstream.requests == ["/web_client.js", "/assets/pbr.filamat"]


def test_model_uploads_posts_and_bodies_never_pass(upstream):
    with gate(upstream) as g:
        jar = get(g, "/?token=" + TOKEN).getheader("Set-Cookie").split(";")[0]
        drop = get(g, "/drop?sid=x", Cookie=jar)
        assert drop.status == 403 and b"never loads a model" in drop.body
        with pytest.raises(InvalidStatus, match="403"):
            websocket(g, "/drop", Cookie=jar)
        conn = http.client.HTTPConnection(*g.address, timeout=30)
        conn.request("POST", "/", body=b"x" * 10, headers={"Cookie": jar})
        assert conn.getresponse().status == 405
        conn.close()
        with socket.create_connection(g.address, timeout=30) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nCookie: " + jar.encode())
            s.sendall(b"\r\n\r\nhello")
            assert s.recv(100).startswith(b"HTTP/1.1 400")
        assert upstream.requests == []


def test_without_a_token_only_this_machines_own_pages_get_in(upstream):
    with gate(upstream, token=None) as g:
        port = g.address[1]
        assert get(g, "/", Host=f"rebind.example:{port}").status == 403  # DNS rebinding
        assert get(g, "/model", Origin="https://evil.example").status == 403  # another site's fetch
        assert get(g, "/model", **{"Sec-Fetch-Site": "cross-site"}).status == 403
        with pytest.raises(InvalidStatus, match="403"):
            websocket(g, Origin="https://evil.example")
        assert upstream.requests == []
        assert get(g, "/", Host=f"localhost:{port}").status == 200
        assert (
            get(g, "/model", Origin=f"http://127.0.0.1:{port}", **{"Sec-Fetch-Site": "same-origin"}).status
            == 200
        )
        with websocket(g, Origin=f"http://127.0.0.1:{port}") as ws:
            ws.send("hi")
            assert ws.recv(timeout=30) == "hi"
            assert g.watchers == 1
        wait_for(lambda: g.watchers == 0, 30, "the closed WebSocket to be counted out")


def seconds_until_closed(address, data: bytes, every: float, give_up: float) -> float:
    """Send `data` a byte every `every` seconds, over and over, until the gate closes the connection."""
    start = time.monotonic()  # before the connect: the gate's clock starts when it accepts
    with socket.create_connection(address) as s:
        while time.monotonic() - start < give_up:
            for byte in data:
                try:
                    s.sendall(bytes([byte]))
                    s.settimeout(every)
                    if s.recv(4096) == b"":
                        return time.monotonic() - start
                except TimeoutError:
                    continue
                except OSError:
                    return time.monotonic() - start
    return float("inf")


def test_a_trickled_or_endless_head_is_cut(upstream, monkeypatch):
    monkeypatch.setattr(web_gate, "HEAD_TIMEOUT", 1.0)
    with gate(upstream) as g:
        took = seconds_until_closed(g.address, b"GET / HTTP/1.1\r\n" + b"X-Slow: 1\r\n" * 50, 0.1, 30)
        assert 1.0 <= took < 30, took
        with socket.create_connection(g.address, timeout=30) as s:
            with contextlib.suppress(OSError):
                s.sendall(b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * (web_gate.HEAD_LIMIT + 10))
            assert s.recv(100) == b""
    assert upstream.requests == []


def test_idle_connections_cannot_crowd_out_a_browser(upstream):
    """Many more silent connections than the gate holds: the oldest make room, a browser gets in."""
    with gate(upstream) as g:
        idle = [socket.create_connection(g.address, timeout=30) for _ in range(web_gate.MAX_PENDING + 40)]
        try:
            jar = get(g, "/?token=" + TOKEN).getheader("Set-Cookie").split(";")[0]
            assert get(g, "/index.html", Cookie=jar).status == 200
            closed = 0
            for s in idle[:40]:
                s.settimeout(5)
                with contextlib.suppress(OSError):
                    closed += s.recv(1) == b""
            assert closed == 40, "the oldest silent connections were not the ones let go"
        finally:
            for s in idle:
                s.close()


def test_connections_passed_on_are_capped(upstream, monkeypatch):
    monkeypatch.setattr(web_gate, "MAX_OPEN", 3)
    with gate(upstream) as g:
        jar = get(g, "/?token=" + TOKEN).getheader("Set-Cookie").split(";")[0]
        with contextlib.ExitStack() as held:
            for _ in range(3):
                held.enter_context(websocket(g, Cookie=jar))
            wait_for(lambda: g.watchers == 3, 30, "three WebSockets")
            busy = get(g, "/", Cookie=jar)
            assert busy.status == 503 and b"too many connections" in busy.body
        wait_for(lambda: get(g, "/", Cookie=jar).status == 200, 30, "room again")


def test_a_huge_websocket_message_ends_its_connection(upstream, monkeypatch):
    monkeypatch.setattr(web_gate, "MAX_MESSAGE", 4096)
    with gate(upstream) as g:
        jar = get(g, "/?token=" + TOKEN).getheader("Set-Cookie").split(";")[0]
        with websocket(g, Cookie=jar) as ws:
            ws.send(b"x" * 4000)
            assert ws.recv(timeout=30) == b"x" * 4000
            ws.send(b"x" * 5000)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=30)


def test_a_silent_connection_is_cut_and_a_talking_one_is_not(upstream, monkeypatch):
    # (3 s: ten times the beat, so a stalled test thread does not look like a silent peer)
    monkeypatch.setattr(web_gate, "IDLE_TIMEOUT", 3.0)
    with gate(upstream) as g:
        jar = get(g, "/?token=" + TOKEN).getheader("Set-Cookie").split(";")[0]
        with websocket(g, Cookie=jar) as talking, websocket(g, Cookie=jar) as silent:
            start = time.monotonic()
            for _ in range(17):  # 5 s of a message every 0.3 s
                talking.send("beat")
                assert talking.recv(timeout=30) == "beat"
                time.sleep(0.3)
            with pytest.raises(ConnectionClosed):
                silent.recv(timeout=30)
            assert time.monotonic() - start >= web_gate.IDLE_TIMEOUT
