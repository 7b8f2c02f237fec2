"""StreamServer: the model, then the newest states, to every client that says hello correctly.

One thread per client does the sending, so a slow or stalled client only ever holds up itself;
`send_state` copies the state into the shared feed and returns. A client that breaks the protocol,
gives a wrong token or stalls past `stall_timeout` is dropped with a log line; the rest goes on.
"""

from __future__ import annotations

import hmac
import logging
import os
import select
import socket
import threading
from pathlib import Path

import mujoco

from mjpod import models
from mjpod.stream.feed import StateFeed
from mjpod.stream.model_transfer import ModelInfo, model_message
from mjpod.stream.protocol import MAX_HELLO, Kind, ProtocolError, encode, read_message

log = logging.getLogger("mjpod.stream")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7000
SEND_BUFFER = 64 * 1024


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
        stall_timeout: float = 30.0,
        handshake_timeout: float = 5.0,
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
        self._model = model
        self._name = name
        self._model_message: bytes | None = None
        self._files_message: bytes | None = None  # the MODEL with the MJCF's files, built when asked
        self._model_args: tuple = ()
        self._files_lock = threading.Lock()
        self.info: ModelInfo | None = None
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._clients = 0
        self._receiving_model = 0  # clients the MODEL is still being sent to
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
        self._model_message, self.info = model_message(mjm, name, path)
        self._model_args = (mjm, name, path)
        self._listener = socket.create_server((self.host, self.port), reuse_port=False, backlog=16)
        self._listener.settimeout(0.5)
        self._spawn(self._accept_loop, "mjstream-accept")
        log.info("streaming %s on %s:%d", name, *self.address)

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
        """Tell every client the stream ends, then close everything."""
        if self._stopping.is_set():
            return
        if self._unsent is not None:  # the last state offered was skipped by the rate cap
            self.feed.publish(self._unsent, force=True)
            self._unsent = None
        self._stopping.set()
        with self._joined:
            self._joined.notify_all()
        if self._listener is not None:
            self._listener.close()
        # A model with its meshes can take seconds to send on a loaded machine: let it arrive (a
        # stalled client is cut by its stall_timeout), then give each client the last state and CLOSE.
        with self._joined:
            self._joined.wait_for(lambda: self._receiving_model == 0, self.stall_timeout)
        for t in self._threads:
            t.join(timeout=2.0)

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
        while not self._stopping.is_set():
            try:
                conn, addr = self._listener.accept()  # type: ignore[union-attr]
            except TimeoutError:
                continue
            except OSError:
                break  # listener closed
            self._spawn(self._serve_client, f"mjstream-client-{addr[1]}", conn, f"{addr[0]}:{addr[1]}")

    def _serve_client(self, conn: socket.socket, peer: str) -> None:
        registered = False
        try:
            conn.settimeout(self.handshake_timeout)
            hello = read_message(conn, MAX_HELLO)
            if hello.kind != Kind.HELLO:
                raise ProtocolError(f"expected HELLO first, got {hello.kind.name}")
            if hello.arrays:
                raise ProtocolError(f"HELLO carries arrays ({', '.join(hello.arrays)}); it may carry none")
            if not isinstance(hello.meta.get("files", False), bool):
                raise ProtocolError(f"HELLO 'files' must be true or false, got {hello.meta['files']!r}")
            refusal = self._refusal(hello.meta)
            if refusal:
                log.warning("client %s refused: %s", peer, refusal)
                conn.sendall(encode(Kind.ERROR, {"message": refusal}))
                return
            with self._joined:
                self._clients += 1
                self._receiving_model += 1  # from the moment start() sees this client
                registered = True
                self._joined.notify_all()
            log.info(
                "client %s connected (%s); %d watching", peer, hello.meta.get("client", "?"), self._clients
            )
            try:
                conn.settimeout(self.stall_timeout)
                conn.sendall(self._model_for(hello.meta.get("files", False)))
            finally:
                with self._joined:
                    self._receiving_model -= 1
                    self._joined.notify_all()
            # A small send buffer keeps what waits in the kernel for a slow client to a few states.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            self._stream_states(conn, peer)
        except TimeoutError:
            log.warning(
                "client %s dropped: no progress for %.0f s (stalled or silent)", peer, self.stall_timeout
            )
        except ProtocolError as err:
            log.warning("client %s dropped: %s", peer, err)
        except OSError as err:
            log.info("client %s left: %s", peer, err)
        finally:
            if registered:
                with self._joined:
                    self._clients -= 1
            conn.close()

    def _model_for(self, files: bool) -> bytes:
        """The MODEL message; with the MJCF's files for clients that compile it themselves (seed code)."""
        if not files:
            return self._model_message  # type: ignore[return-value]
        with self._files_lock:
            if self._files_message is None:
                try:
                    message, info = model_message(*self._model_args, files=True)
                    problem = None if info.xml is not None else "MuJoCo cannot write it back"
                except ValueError as err:  # over the size limit with its files
                    message, problem = self._model_message, str(err)
                if problem:
                    log.warning(
                        "the model's MJCF cannot travel with its files (%s); clients get the MJB", problem
                    )
                self._files_message = message
        return self._files_message  # type: ignore[return-value]

    def _refusal(self, meta: dict) -> str | None:
        if self.token is not None:
            given = meta.get("token")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.token.encode()):
                return "wrong or missing token: set MJSTREAM_TOKEN (or --token) to the server's token"
        if self._clients >= self.max_clients:
            return f"too many clients ({self.max_clients}); close another viewer first"
        return None

    def _stream_states(self, conn: socket.socket, peer: str) -> None:
        seq = -1
        while True:
            snap = self.feed.wait_newer(seq, timeout=0.5)
            if select.select([conn], [], [], 0)[0]:
                if not conn.recv(4096):
                    log.info("client %s left", peer)
                    return
                raise ProtocolError("sent data after the handshake (clients only listen)")
            if snap is not None:
                conn.sendall(snap.message)
                seq = snap.seq
            if self._stopping.is_set() or self.feed.closed:
                last = self.feed.latest()
                if last is not None and last.seq > seq:  # the newest state before the close
                    conn.sendall(last.message)
                conn.sendall(encode(Kind.CLOSE, {"reason": "server stopped"}))
                log.info("client %s: stream closed", peer)
                return
