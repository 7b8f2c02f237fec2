"""The stream server: one model, then the newest states, to every client that says hello correctly.

One thread per client does the sending, so a slow or stalled client only ever holds up itself;
`publish` copies the state into the shared feed and returns. A client that breaks the protocol,
gives a wrong token or stalls past `stall_timeout` is dropped with a log line; the rest goes on.

Every wait is bounded: a hello must be complete within `handshake_timeout` however it trickles, at
most `max_pending` hellos are read at once (so threads stay under max_pending + max_clients + 2), an
accept error (out of descriptors) is logged once and retried with a back-off, and `close` gives every
client one shared deadline to take the rest of its model, the last state and CLOSE.

This is the core that `mjpod serve` and the benchmark run; the seed scripts' `StreamServer` (a model
path, MJSTREAM_HOST/PORT, `send_state`, a `start()` that waits for a viewer) is `compat`, over it.
"""

from __future__ import annotations

import dataclasses
import logging
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import mujoco

from mjpod.stream.feed import StateFeed
from mjpod.stream.model_transfer import model_message
from mjpod.stream.net import AcceptBackoff, require_token, token_matches
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


@dataclasses.dataclass(frozen=True)
class Limits:
    """How many clients, and how long each may take, before the server drops it."""

    max_clients: int = 16  # streaming at once; the next is refused
    max_pending: int = 32  # hellos being read at once; the rest wait in the backlog
    stall_timeout: float = 30.0  # seconds a client may take no byte before it is dropped
    handshake_timeout: float = 5.0  # seconds for a whole hello
    close_timeout: float = 10.0  # seconds every client has, together, to take the end of the stream


class ModelMessages:
    """The MODEL message, built once at start, and the one with the MJCF's files for clients that ask.

    The second is built when the first client asks (seed clients do; mjpod's own never do), not at
    start: the build takes seconds of CPU on a mesh model (Panda: ~2 s), which a server started for a
    benchmark or a one-off `serve` would otherwise spend beside the simulation it streams.
    """

    def __init__(self, mjm: mujoco.MjModel, name: str, path: str | None) -> None:
        self._model = (mjm, name, path)
        self.plain, self.info = model_message(mjm, name, path)
        self._with_files: bytes | None = None
        self._lock = threading.Lock()

    def for_client(self, files: bool) -> bytes:
        """The MODEL for a client, with the MJCF's files when it asks (it compiles the model itself)."""
        if not files:
            return self.plain
        with self._lock:
            if self._with_files is None:
                try:
                    message, info = model_message(*self._model, files=True)
                    problem = None if info.xml is not None else "MuJoCo cannot write it back"
                except ValueError as err:  # over the size limit with its files
                    message, problem = self.plain, str(err)
                if problem:
                    log.warning(
                        "the model's MJCF cannot travel with its files (%s); clients get the MJB", problem
                    )
                self._with_files = message
            return self._with_files


class Server:
    """Streams one model and its states over TCP to every client that says hello correctly; `port <= 0`
    disables it (every call then does nothing)."""

    def __init__(
        self,
        model: mujoco.MjModel,
        name: str,
        path: str | None,
        feed: StateFeed,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        token: str | None = None,
        limits: Limits = Limits(),
    ) -> None:
        self.model, self.name, self.path = model, name, path
        self.feed, self.host, self.port, self.token, self.limits = feed, host, int(port), token, limits
        self.messages: ModelMessages | None = None  # built at start
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._pending = threading.BoundedSemaphore(limits.max_pending)  # hellos being read now
        self._clients = 0
        self._joined = threading.Condition()  # guards _clients; notified when a client joins or at stop
        self._stopping = threading.Event()
        self._close_deadline = float("inf")  # set by close (time.monotonic)
        self._unsent: mujoco.MjData | None = None  # the last state offered, when the rate cap skipped it

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
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._stopping.is_set()

    @property
    def address(self) -> tuple[str, int]:
        """Where the server listens."""
        return self.host, self.port

    def start(self) -> None:
        """Bind and accept in the background; clients get the model and the current state whenever
        they join."""
        if not self.enabled or self._listener is not None:
            return
        require_token("the stream", self.host, self.token)
        self.messages = ModelMessages(self.model, self.name, self.path)
        self._listener = socket.create_server((self.host, self.port), reuse_port=False, backlog=16)
        self._listener.settimeout(POLL_STEP)
        self._spawn(self._accept_loop, "mjstream-accept")
        log.info("streaming %s on %s:%d", plain_text(self.name), *self.address)

    def wait_for_client(self, timeout: float | None = None) -> bool:
        """Block until a client is streaming; False on timeout or when the server stops."""
        with self._joined:
            return self._joined.wait_for(lambda: self._clients > 0 or self._stopping.is_set(), timeout) and (
                self._clients > 0
            )

    def publish(self, mjd: mujoco.MjData, *, force: bool = False) -> int | None:
        """Offer the newest state to every client; never blocks on them. None: skipped by the rate cap."""
        if not self.enabled:
            return None
        seq = self.feed.publish(mjd, force=force)
        self._unsent = mjd if seq is None else None  # close sends it, so viewers end on it
        return seq

    def close(self) -> None:
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
        self._close_deadline = time.monotonic() + self.limits.close_timeout
        self._stopping.set()
        with self._joined:
            self._joined.notify_all()
        if self._listener is not None:
            self._listener.close()
        for t in self._threads:
            t.join(timeout=max(0.0, self._close_deadline + 2 * POLL_STEP - time.monotonic()))

    def __enter__(self) -> Server:
        """`with` streams at once and closes at the end."""
        Server.start(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            except OSError as err:  # no connection: the slot goes back (a taken one, _serve_client's)
                self._pending.release()
                if self._stopping.is_set():
                    break  # the listener was closed
                if not isinstance(err, TimeoutError):
                    self._stopping.wait(backoff.failed(err))
                continue
            backoff.succeeded()
            self._spawn(self._serve_client, f"mjstream-client-{addr[1]}", conn, f"{addr[0]}:{addr[1]}")

    def _serve_client(self, conn: socket.socket, peer: str) -> None:
        """Greet the client (holding one of the max_pending slots the accept loop took), then stream."""
        try:
            with conn:
                try:
                    hello = self._greet(conn, peer)
                finally:
                    self._pending.release()
                if hello is not None:
                    # Built before the client counts as watching, so a seed script's start() returns (and
                    # its simulation, maybe soon over, begins) only once the client's model is ready.
                    model = self.messages.for_client(hello.get("files", False))  # type: ignore[union-attr]
                    with self._registered(peer, plain_text(hello.get("client", "?"), 80)):
                        # A small send buffer keeps what waits in the kernel for a slow client to a few states.
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
                        self._stream_states(conn, peer, model)
        except Stopped:
            pass  # the server stopped while this client was still saying hello
        except ProtocolError as err:
            log.warning("client %s dropped: %s", peer, err)
        except OSError as err:
            log.info("client %s left: %s", peer, err)

    def _greet(self, conn: socket.socket, peer: str) -> dict | None:
        """Read and check the hello: its fields, or None when the client was refused or too slow."""
        try:
            hello = read_message(
                conn,
                MAX_HELLO,
                deadline=time.monotonic() + self.limits.handshake_timeout,
                stop=self._stopping,
            )
        except TimeoutError:
            log.warning(
                "client %s dropped: no complete hello within %g s", peer, self.limits.handshake_timeout
            )
            return None
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
            return None
        return hello.meta

    @contextmanager
    def _registered(self, peer: str, client: str) -> Iterator[None]:
        """Count the client as watching while it streams; say why it stopped when that was a stall."""
        with self._joined:
            self._clients += 1
            self._joined.notify_all()
        log.info("client %s connected (%s); %d watching", peer, client, self._clients)
        try:
            yield
        except TimeoutError:
            if self._stopping.is_set():
                log.info(  # expected of a stalled client when the stream ends: no warning
                    "client %s cut at shutdown: it took nothing more for the last %g s", peer, CLOSE_STALL
                )
            else:
                log.warning(
                    "client %s dropped: no progress for %g s (stalled or silent)",
                    peer,
                    self.limits.stall_timeout,
                )
        finally:
            with self._joined:
                self._clients -= 1

    def _refusal(self, meta: dict) -> str | None:
        if self.token is not None and not token_matches(meta.get("token"), self.token):
            return "wrong or missing token: set MJSTREAM_TOKEN (or --token) to the server's token"
        if self._clients >= self.limits.max_clients:
            return f"too many clients ({self.limits.max_clients}); close another viewer first"
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
        return (
            min(self.limits.stall_timeout, CLOSE_STALL)
            if self._stopping.is_set()
            else self.limits.stall_timeout
        )

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
