"""The browser view's front door: every connection to the web port passes here before MuJoCo Studio sees
a byte of it.

Studio's server has no bind address, token or limits of its own (see stream/studio.py), so it listens
on a Unix socket in a private folder and this gate, bound where mjpod was told (127.0.0.1 unless
--host), reads each request's head and either answers it itself or passes the connection through:

- only GET, with no body; `/drop` (Studio's model upload) never passes: a browser never loads a model;
- with a token, every request needs it: the page is opened once as `/?token=...`, which answers with a
  redirect that sets a cookie (HttpOnly, SameSite=Strict) the page's files and WebSockets then carry;
  compared in constant time; 403 otherwise, for the page, static files and WebSockets alike;
- without a token (loopback only), a request must name the server by an IP address or `localhost`
  (no DNS rebinding) and may not come from another site's page (its Origin must be this server, and
  Sec-Fetch-Site not cross-site), so a web page the user visits cannot read or drive the view;
- bounded: a request head is at most HEAD_LIMIT bytes and must arrive within HEAD_TIMEOUT; at most
  MAX_PENDING connections may be sending theirs (a new one pushes out the oldest, so idle connections
  cannot lock a browser out), at most MAX_OPEN are passed on (503 beyond), a passed connection that
  carries no byte either way for IDLE_TIMEOUT is cut, and a WebSocket message from a browser over
  MAX_MESSAGE ends its connection.

One asyncio loop in one thread serves every connection; the simulation never waits on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import socket
import threading
import time
import urllib.parse

from mjpod.stream.net import named_by_address, token_matches

log = logging.getLogger("mjpod.stream.web")

HEAD_LIMIT = 16 * 1024  # bytes of request line and headers
HEAD_TIMEOUT = 10.0  # seconds for the whole head, however it trickles
MAX_PENDING = 64  # connections still sending their head
MAX_OPEN = 64  # connections passed on to Studio (a page opens about 8 while it loads, 2 after)
IDLE_TIMEOUT = 120.0  # a live page sends input or acks every frame and a heartbeat every 30 s
MAX_MESSAGE = 1 << 20  # a browser sends camera, input and acks: a few hundred bytes each
REFUSED_PATHS = frozenset({"/drop"})  # Studio's model upload


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; a repeated header is refused at parse time

    @property
    def websocket(self) -> bool:
        return self.headers.get("upgrade", "").lower() == "websocket"


class BadRequest(ValueError):
    """A request head this gate will not pass on (the message says why)."""


def parse_head(head: bytes) -> Request:
    """The request line and headers of `head` (up to and including the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise BadRequest("not an HTTP/1.x request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep or not name or name != name.strip() or " " in name:
            raise BadRequest("malformed header line")
        if name in headers and name != "cookie":
            raise BadRequest(f"repeated header {name!r}")
        value = value.strip()
        headers[name] = f"{headers[name]}; {value}" if name in headers else value
    url = urllib.parse.urlsplit(parts[1])
    return Request(parts[0], url.path, urllib.parse.parse_qs(url.query), headers)


def same_origin(origin: str, host_header: str | None) -> bool:
    """Whether an Origin header names the host and port the request was sent to."""
    return bool(host_header) and urllib.parse.urlsplit(origin).netloc.lower() == host_header.lower()  # type: ignore[union-attr]


def cookies(header: str) -> dict[str, str]:
    jar = {}
    for item in header.split(";"):
        name, sep, value = item.strip().partition("=")
        if sep:
            jar.setdefault(name, value)
    return jar


class FrameLimit:
    """Follows the frames a browser sends after a WebSocket upgrade (RFC 6455 headers only: payloads
    are skipped) and tells when a message, over all its fragments, grows past `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = b""
        self._skip = 0  # payload bytes of the current frame still to come
        self._message = 0  # bytes of the data message being assembled

    def feed(self, data: bytes) -> bool:
        """False once a message is too large (or a control frame is malformed)."""
        i, n = 0, len(data)
        while i < n:
            if self._skip:
                take = min(self._skip, n - i)
                self._skip -= take
                i += take
                continue
            before = len(self._head)
            self._head += data[i : i + 14 - before]  # a frame header is at most 14 bytes
            parsed = self._frame_size()
            if parsed is None:  # the rest of the header comes with the next data
                i = n
                continue
            header_len, length, fin, opcode = parsed
            i += header_len - before
            self._head = b""
            if opcode >= 8:  # ping, pong, close: never fragmented, at most 125 bytes
                if length > 125:
                    return False
            else:
                self._message += length
                if self._message > self.limit:
                    return False
                if fin:
                    self._message = 0
            self._skip = length
        return True

    def _frame_size(self) -> tuple[int, int, bool, int] | None:
        head = self._head
        if len(head) < 2:
            return None
        fin, opcode, masked, short = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
        extra = {126: 2, 127: 8}.get(short, 0)
        header_len = 2 + extra + (4 if masked else 0)
        if len(head) < header_len:
            return None
        length = int.from_bytes(head[2 : 2 + extra], "big") if extra else short
        return header_len, length, bool(fin), opcode


def response(status: int, reason: str, body: str, headers: dict[str, str] | None = None) -> bytes:
    data = body.encode()
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain; charset=utf-8"]
    lines += [f"Content-Length: {len(data)}", "Cache-Control: no-store", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def closing(head: bytes) -> bytes:
    """An HTTP answer's head that says its connection ends with it. Studio's server answers one request
    per connection without saying so: a browser that sent its next request down the same connection
    waited for the idle cut, and the page stayed half loaded (blank)."""
    lines = [line for line in head[:-4].split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


class WebGate:
    """The web port: checks each request and passes the good ones to Studio's Unix socket."""

    def __init__(self, host: str, port: int, upstream: str, token: str | None) -> None:
        self.upstream, self.token = upstream, token
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host.strip("[]"), port), family=family, backlog=128)
        self._listener.setblocking(False)
        self.cookie = f"mjpod_token_{self.address[1]}"
        self._pending: collections.OrderedDict[asyncio.StreamWriter, None] = collections.OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self._open = 0
        self._websockets = 0
        # bytes passed from Studio to browsers: the page's files, the model bundle, the WebSockets
        self.bytes_out = {"files": 0, "model": 0, "streams": 0}
        self._refusals: collections.Counter[str] = collections.Counter()
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mjpod-web-gate", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    @property
    def watchers(self) -> int:
        """Open WebSocket connections: while there are none, no browser is watching."""
        return self._websockets

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=30)

    def close(self) -> None:
        if self._stopped is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout=10)
        self._listener.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._handle, sock=self._listener, limit=HEAD_LIMIT)
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            await self._gate(reader, writer)
        except asyncio.CancelledError:
            pass  # the gate is closing
        except Exception:  # a bug, not a hostile peer (their requests end in answers): keep serving
            log.exception("browser view: a connection failed")
        finally:
            writer.transport.abort()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _gate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._pending[writer] = None
        if len(self._pending) > MAX_PENDING:  # the oldest one still silent makes room
            oldest = next(iter(self._pending))
            self._pending.pop(oldest)
            oldest.transport.abort()
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                return
            finally:
                self._pending.pop(writer, None)
            try:
                request = parse_head(head)
            except BadRequest as err:
                await self._answer(writer, 400, "Bad Request", f"{err}\n", "malformed request")
                return
            refusal = self._refusal(request)
            if refusal:
                await self._answer(writer, *refusal)
                return
            if self.token is not None and "token" in request.query and not request.websocket:
                await self._set_cookie(writer, request)
                return
            if self._open >= MAX_OPEN:
                body = "too many connections to this view; close another tab and reload\n"
                await self._answer(writer, 503, "Service Unavailable", body, "connection cap")
                return
            await self._pass_on(head, reader, writer, request)
        finally:
            self._pending.pop(writer, None)

    def _refusal(self, request: Request) -> tuple[int, str, str, str] | None:
        """(status, reason, body, log reason) when the request must not reach Studio, else None."""
        if request.method != "GET":
            return (
                405,
                "Method Not Allowed",
                "this view answers GET only\n",
                f"method {request.method[:10]!r}",
            )
        if "content-length" in request.headers or "transfer-encoding" in request.headers:
            return 400, "Bad Request", "requests to this view carry no body\n", "request body"
        if request.path in REFUSED_PATHS:
            body = "mjpod's browser view never loads a model from a browser\n"
            return 403, "Forbidden", body, "model upload"
        host = request.headers.get("host")
        if self.token is None:
            if not named_by_address(host):
                body = (
                    "this view answers only to its IP address or localhost (e.g. http://127.0.0.1:PORT/),"
                    " so that no web page can reach it through DNS rebinding; set MJSTREAM_TOKEN"
                    " (or --token) to open it under a host name\n"
                )
                return 403, "Forbidden", body, "host name without a token"
            origin = request.headers.get("origin")
            if (origin and not same_origin(origin, host)) or request.headers.get(
                "sec-fetch-site"
            ) == "cross-site":
                return 403, "Forbidden", "another site's page may not use this view\n", "cross-site request"
            return None
        given = (
            request.query.get("token") or [cookies(request.headers.get("cookie", "")).get(self.cookie, "")]
        )[0]
        if not token_matches(given, self.token):
            body = "wrong or missing token: open http://HOST:PORT/?token=YOUR_TOKEN (MJSTREAM_TOKEN)\n"
            return 403, "Forbidden", body, "wrong or missing token"
        return None

    async def _set_cookie(self, writer: asyncio.StreamWriter, request: Request) -> None:
        """The token arrived in the URL: keep it in a cookie for the page's requests, and take it out of
        the address bar (and so out of the browser's history) with a redirect."""
        rest = {k: v for k, v in request.query.items() if k != "token"}
        location = request.path + ("?" + urllib.parse.urlencode(rest, doseq=True) if rest else "")
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        headers = {"Location": location, "Set-Cookie": cookie}
        writer.write(response(303, "See Other", "token accepted\n", headers))
        with contextlib.suppress(OSError):
            await writer.drain()

    async def _answer(
        self, writer: asyncio.StreamWriter, status: int, reason: str, body: str, why: str
    ) -> None:
        self._refusals[why] += 1
        count = self._refusals[why]
        if count <= 3 or count % 100 == 0:  # a flood of refusals is a few log lines, not thousands
            peer = writer.get_extra_info("peername")
            log.info("browser view refused %s (%s; %d so far)", peer[0] if peer else "?", why, count)
        writer.write(response(status, reason, body))
        with contextlib.suppress(OSError):
            await asyncio.wait_for(writer.drain(), HEAD_TIMEOUT)

    async def _pass_on(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        except OSError as err:
            await self._answer(writer, 503, "Service Unavailable", "the viewer is not running\n", str(err))
            return
        self._open += 1
        self._websockets += request.websocket
        last = [time.monotonic()]
        limit = FrameLimit(MAX_MESSAGE) if request.websocket else None
        try:
            up_writer.write(head)
            inbound = asyncio.ensure_future(self._browser_to_studio(reader, up_writer, limit, last))
            kind = "streams" if request.websocket else "model" if request.path == "/model" else "files"
            outbound = asyncio.ensure_future(self._studio_to_browser(up_reader, writer, last, kind))
            await asyncio.wait([inbound, outbound], return_when=asyncio.FIRST_COMPLETED)
            if inbound.done() and not inbound.exception() and not outbound.done():
                await asyncio.wait([outbound])  # the browser finished sending: let the answer finish
            for task in (inbound, outbound):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        finally:
            self._open -= 1
            self._websockets -= request.websocket
            up_writer.transport.abort()

    async def _browser_to_studio(
        self,
        reader: asyncio.StreamReader,
        up: asyncio.StreamWriter,
        limit: FrameLimit | None,
        last: list[float],
    ) -> None:
        while True:
            try:
                data = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT)
            except TimeoutError:
                if time.monotonic() - last[0] < IDLE_TIMEOUT:
                    continue  # the answer is still flowing (a long download)
                raise ConnectionError(f"no traffic for {IDLE_TIMEOUT:g} s") from None
            if not data:
                if up.can_write_eof():
                    up.write_eof()
                return
            if limit is not None and not limit.feed(data):
                log.info("browser view: a WebSocket message over %d bytes; connection closed", limit.limit)
                raise ConnectionError("message too large")
            last[0] = time.monotonic()
            up.write(data)
            await up.drain()

    async def _studio_to_browser(
        self, up: asyncio.StreamReader, writer: asyncio.StreamWriter, last: list[float], kind: str
    ) -> None:
        if kind != "streams":  # a file: its answer's head says the connection ends with it
            try:
                head = closing(await up.readuntil(b"\r\n\r\n"))
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            self.bytes_out[kind] += len(head)
            writer.write(head)
        while data := await up.read(65536):
            last[0] = time.monotonic()
            self.bytes_out[kind] += len(data)
            writer.write(data)
            await writer.drain()
