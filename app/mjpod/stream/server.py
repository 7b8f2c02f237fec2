"""StreamServer: the model, then the newest states, to every client that says hello correctly.

One thread per client does the sending, so a slow or stalled client only ever holds up itself;
`send_state` copies the state into the shared feed and returns. A client that breaks the protocol,
gives a wrong token or stalls past `stall_timeout` is dropped with a log line; the rest goes on.

Every wait is bounded: a hello must be complete within `handshake_timeout` however it trickles, at
most `max_pending` hellos are read at once (so threads stay under max_pending + max_clients + 2), an
accept error (out of descriptors) is logged once and retried with a back-off, and `stop_connection`
gives every client one shared deadline to take the rest of its model, the last state and CLOSE.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import selectors
import socket
import threading
import time
from pathlib import Path

import mujoco

from mjpod import models
from mjpod.errors import MjpodError
from mjpod.stream.feed import StateFeed
from mjpod.stream.model_transfer import ModelInfo, model_message
from mjpod.stream.protocol import (
    MAX_HELLO,
    POLL_STEP,
    Kind,
    ProtocolError,
    Stopped,
    encode,
    plain_text,
    read_message,
    readable,
    wait_for,
)

log = logging.getLogger("mjpod.stream")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7000
SEND_BUFFER = 64 * 1024
CLOSE_STALL = 2.0  # at shutdown, a client that takes no byte for this long is cut at once
MAX_BACKOFF = 1.0  # seconds between accept attempts while the process is out of descriptors


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


class TokenRequired(MjpodError):
    """A server would listen beyond loopback with no token; the message says how to set one."""


def require_token(what: str, host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token: anyone who reaches the address could use it."""
    if not token and not is_loopback(host):
        raise TokenRequired(
            f"{what} would listen on {host} with no token, so anyone who can reach that address could"
            " use it. Set one (export MJSTREAM_TOKEN=$(head -c 18 /dev/urandom | base64 | tr +/ -_),"
            " or --token) and give viewers the same; or keep the default 127.0.0.1 and reach it"
            " through ssh -L PORT:127.0.0.1:PORT"
        )


class AcceptBackoff:
    """The pause between failed accepts (out of descriptors), doubling up to MAX_BACKOFF; the failure
    is logged once when it starts and once when accepting works again, not at every retry."""

    def __init__(self, logger: logging.Logger, failing: str, recovered: str) -> None:
        self.logger, self.failing, self.recovered = logger, failing, recovered
        self.pause = 0.0

    def failed(self, err: OSError) -> float:
        """Seconds to wait before the next accept."""
        if not self.pause:
            self.logger.warning(self.failing, err)
        self.pause = min(max(2 * self.pause, 0.05), MAX_BACKOFF)
        return self.pause

    def succeeded(self) -> None:
        if self.pause:
            self.logger.info(self.recovered)
            self.pause = 0.0


def env_host() -> str:
    return os.environ.get("MJSTREAM_HOST", DEFAULT_HOST)


def env_port() -> int:
    try:
        return int(os.environ.get("MJSTREAM_PORT", DEFAULT_PORT))
    except ValueError:
        raise ValueError(
            f"MJSTREAM_PORT must be a port number, got {os.environ['MJSTREAM_PORT']!r}"
        ) from None


class StreamServer:
    """Streams one model and its states over TCP; `port <= 0` disables it, as in the seed."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        host: str | None = None,
        port: int | None = None,
        *,
        model: mujoco.MjModel | None = None,
        name: str | None = None,
        token: str | None = None,
        hz: float = 60.0,
        world: int = 0,
        feed: StateFeed | None = None,
        max_clients: int = 16,
        max_pending: int = 32,
        stall_timeout: float = 30.0,
        handshake_timeout: float = 5.0,
        close_timeout: float = 10.0,
    ) -> None:
        if model is None and model_path is None:
            raise ValueError("StreamServer needs model_path or model")
        self.model_path = str(model_path) if model_path is not None else None
        self.host = host if host is not None else env_host()
        self.port = int(port) if port is not None else env_port()
        self.token = token if token is not None else os.environ.get("MJSTREAM_TOKEN") or None
        self.feed = feed or StateFeed(hz=hz, world=world)
        self.max_clients = max_clients
        self.stall_timeout = stall_timeout
        self.handshake_timeout = handshake_timeout
        self.close_timeout = close_timeout
        self._pending = threading.BoundedSemaphore(max_pending)  # hellos being read now
        self._close_deadline = float("inf")  # set by stop_connection (time.monotonic)
        self._model = model
        self._name = name
        self._model_message: bytes | None = None
        self._files_message: tuple[bytes, str | None] | None = None  # see _files_model
        self._files_warned = False
        self._model_args: tuple = ()
        self._files_lock = threading.Lock()
        self.info: ModelInfo | None = None
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._clients = 0
        self._joined = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._unsent: mujoco.MjData | None = None

    @property
    def enabled(self) -> bool:
        return self.port > 0

    @property
    def clients(self) -> int:
        """Clients past the handshake, being streamed to now."""
        return self._clients

    @property
    def connected(self) -> bool:
        return self._clients > 0

    @property
    def address(self) -> tuple[str, int]:
        """Where the server listens."""
        return self.host, self.port

    def start(self, wait: bool = True) -> None:
        """Bind and accept in the background; then, as the seed did, hold until a viewer connects.

        A seed script's `start()` therefore still waits for its viewer before simulating. Code that
        streams to whoever comes (`mjpod serve`, the benchmark) calls `start(wait=False)`; clients that
        join later get the model and the current state either way.
        """
        if not self.enabled:
            return
        if self._listener is None:
            self._listen()
        if wait:
            log.info("waiting for a viewer on %s:%d", *self.address)
            while not self.wait_for_client(timeout=0.5):  # short waits keep Ctrl-C responsive
                if self._stopping.is_set():
                    return

    def _listen(self) -> None:
        mjm, name, path = self._model, self._name, self.model_path
        if mjm is None:  # as in the seed: the server compiles model_path itself
            loaded = models.load(str(self.model_path))
            mjm, name, path = loaded.model, name or loaded.name, str(loaded.path)
            self._model = mjm
        name = name or (Path(path).stem if path else "model")
        require_token("the stream", self.host, self.token)
        self._model_message, self.info = model_message(mjm, name, path)
        self._model_args = (mjm, name, path)
        self._listener = socket.create_server((self.host, self.port), reuse_port=False, backlog=16)
        self._listener.settimeout(POLL_STEP)
        self._spawn(self._accept_loop, "mjstream-accept")
        log.info("streaming %s on %s:%d", plain_text(name), *self.address)

    def wait_for_client(self, timeout: float | None = None) -> bool:
        """Block until a client is streaming; False on timeout or when the server stops."""
        with self._joined:
            return self._joined.wait_for(lambda: self._clients > 0 or self._stopping.is_set(), timeout) and (
                self._clients > 0
            )

    def send_state(
        self,
        mjd: mujoco.MjData,
        target_pos: object = None,
        target_quat: object = None,
        target_body_id: object = None,
        *,
        force: bool = False,
    ) -> int | None:
        """Offer the newest state to every client; never blocks on them. None: skipped by the rate cap.

        `target_*` are the seed's optional arguments, accepted so seed calls keep working; the seed's
        client overwrote them with `mj_forward` before drawing, so they are not sent.
        """
        if not self.enabled:
            return None
        seq = self.feed.publish(mjd, force=force)
        self._unsent = mjd if seq is None else None  # stop_connection sends it, so viewers end on it
        return seq

    def stop_connection(self) -> None:
        """Tell every client the stream ends, then close everything, all within one deadline.

        Clients get until `close_timeout` from now to take what is left (the rest of the model, the
        newest state, CLOSE); one that takes nothing for CLOSE_STALL seconds is cut at once, and hellos
        still being read are dropped. Then every thread is joined against the same deadline.
        """
        if self._stopping.is_set():
            return
        if self._unsent is not None:  # the last state offered was skipped by the rate cap
            self.feed.publish(self._unsent, force=True)
            self._unsent = None
        self._close_deadline = time.monotonic() + self.close_timeout
        self._stopping.set()
        with self._joined:
            self._joined.notify_all()
        if self._listener is not None:
            self._listener.close()
        for t in self._threads:
            t.join(timeout=max(0.0, self._close_deadline + 2 * POLL_STEP - time.monotonic()))

    close = stop_connection

    def __enter__(self) -> StreamServer:
        """`with StreamServer(...)` streams at once: waiting for a viewer is the seed's start() only."""
        self.start(wait=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_connection()

    def _spawn(self, target, name: str, *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _accept_loop(self) -> None:
        """Accept while running; at most max_pending hellos at once (the rest wait in the backlog).

        An accept that fails (out of descriptors, a connection reset before it was taken) is logged
        once and retried with a growing pause: the server recovers as soon as descriptors free up.
        """
        backoff = AcceptBackoff(
            log,
            "cannot accept viewers (%s); retrying until it passes, streaming goes on",
            "accepting viewers again",
        )
        while not self._stopping.is_set():
            if not self._pending.acquire(timeout=POLL_STEP):
                continue
            try:
                conn, addr = self._listener.accept()  # type: ignore[union-attr]
            except TimeoutError:
                self._pending.release()
                continue
            except OSError as err:
                self._pending.release()
                if self._stopping.is_set():
                    break  # the listener was closed
                self._stopping.wait(backoff.failed(err))
                continue
            backoff.succeeded()
            self._spawn(self._serve_client, f"mjstream-client-{addr[1]}", conn, f"{addr[0]}:{addr[1]}")

    def _serve_client(self, conn: socket.socket, peer: str) -> None:
        registered = False
        handshaking = True
        try:
            hello = read_message(
                conn, MAX_HELLO, deadline=time.monotonic() + self.handshake_timeout, stop=self._stopping
            )
            if hello.kind != Kind.HELLO:
                raise ProtocolError(f"expected HELLO first, got {hello.kind.name}")
            if hello.arrays:
                raise ProtocolError(f"HELLO carries arrays ({', '.join(hello.arrays)}); it may carry none")
            files = hello.meta.get("files", False)
            if not isinstance(files, bool):
                raise ProtocolError(f"HELLO 'files' must be true or false, got {plain_text(repr(files), 40)}")
            refusal = self._refusal(hello.meta)
            if refusal:
                log.warning("client %s refused: %s", peer, refusal)
                conn.settimeout(POLL_STEP)  # a few bytes into an empty buffer: this never waits long
                conn.sendall(encode(Kind.ERROR, {"message": refusal}))
                return
            with self._joined:
                self._clients += 1
                registered = True
                self._joined.notify_all()
            handshaking = False
            self._pending.release()
            log.info(
                "client %s connected (%s); %d watching",
                peer,
                plain_text(hello.meta.get("client", "?"), 80),
                self._clients,
            )
            # A small send buffer keeps what waits in the kernel for a slow client to a few states.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            self._stream_states(conn, peer, self._model_for(files))
        except Stopped:
            pass  # the server stopped while this client was still saying hello
        except TimeoutError:
            if handshaking:
                log.warning("client %s dropped: no complete hello within %g s", peer, self.handshake_timeout)
            elif self._stopping.is_set():
                log.info(  # expected of a stalled client when the stream ends: no warning
                    "client %s cut at shutdown: it took nothing more for the last %g s", peer, CLOSE_STALL
                )
            else:
                log.warning(
                    "client %s dropped: no progress for %g s (stalled or silent)", peer, self.stall_timeout
                )
        except ProtocolError as err:
            log.warning("client %s dropped: %s", peer, err)
        except OSError as err:
            log.info("client %s left: %s", peer, err)
        finally:
            if handshaking:
                self._pending.release()
            if registered:
                with self._joined:
                    self._clients -= 1
            conn.close()

    def _model_for(self, files: bool) -> bytes:
        """The MODEL message; with the MJCF's files for clients that compile it themselves (seed code)."""
        if not files:
            return self._model_message  # type: ignore[return-value]
        message, problem = self._files_model()
        if problem and not self._files_warned:
            self._files_warned = True
            log.warning("the model's MJCF cannot travel with its files (%s); clients get the MJB", problem)
        return message

    def _files_model(self) -> tuple[bytes, str | None]:
        """The MODEL with the MJCF's files, and why not when it cannot have them.

        Built once, when the first client asks (seed clients do; mjpod's own never do), not at start:
        the build takes seconds of CPU on a mesh model (Panda: ~2 s), which a server started for a
        benchmark or a one-off `serve` would otherwise spend beside the simulation it streams.
        """
        with self._files_lock:
            if self._files_message is None:
                try:
                    message, info = model_message(*self._model_args, files=True)
                    problem = None if info.xml is not None else "MuJoCo cannot write it back"
                except ValueError as err:  # over the size limit with its files
                    message, problem = self._model_message, str(err)
                self._files_message = (message, problem)
            return self._files_message

    def _refusal(self, meta: dict) -> str | None:
        if self.token is not None:
            given = meta.get("token")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.token.encode()):
                return "wrong or missing token: set MJSTREAM_TOKEN (or --token) to the server's token"
        if self._clients >= self.max_clients:
            return f"too many clients ({self.max_clients}); close another viewer first"
        return None

    def _stream_states(self, conn: socket.socket, peer: str, model: bytes) -> None:
        """Send the model, then the newest states, then (at the end) the last state and CLOSE.

        The socket is non-blocking and every wait lasts at most POLL_STEP, so this thread notices a
        stop, a client that left or spoke, and a client that takes nothing for `_stall_limit()`.
        """
        conn.setblocking(False)
        out, seq, ending = memoryview(model), -1, False
        progress = time.monotonic()
        while True:
            if not out:
                if ending:
                    log.info("client %s: stream closed", peer)
                    return
                if self._stopping.is_set() or self.feed.closed:
                    last = self.feed.latest()
                    newest = last.message if last is not None and last.seq > seq else b""
                    out, ending = memoryview(newest + encode(Kind.CLOSE, {"reason": "server stopped"})), True
                    progress = time.monotonic()
                    continue
                snap = self.feed.wait_newer(seq, timeout=POLL_STEP)
                if snap is not None:
                    out, seq, progress = memoryview(snap.message), snap.seq, time.monotonic()
                elif readable(conn):
                    self._client_spoke(conn)
                continue
            ready = wait_for(conn, selectors.EVENT_READ | selectors.EVENT_WRITE, POLL_STEP)
            if ready & selectors.EVENT_READ:
                self._client_spoke(conn)
            if ready & selectors.EVENT_WRITE:
                try:
                    sent = conn.send(out)
                except BlockingIOError:
                    sent = 0
                if sent:
                    out, progress = out[sent:], time.monotonic()
            now = time.monotonic()
            if now - progress > self._stall_limit() or (
                self._stopping.is_set() and now > self._close_deadline
            ):
                raise TimeoutError

    def _stall_limit(self) -> float:
        """Seconds a client may take nothing before it is dropped: shorter once the server stops."""
        return min(self.stall_timeout, CLOSE_STALL) if self._stopping.is_set() else self.stall_timeout

    @staticmethod
    def _client_spoke(conn: socket.socket) -> None:
        """The client closed (ConnectionError) or sent bytes, which clients never may (ProtocolError)."""
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        if not data:
            raise ConnectionError("closed the connection")
        raise ProtocolError("sent data after the handshake (clients only listen)")
