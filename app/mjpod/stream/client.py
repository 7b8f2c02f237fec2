"""The client side: seed-compatible `recv_packet` / `apply_mjdata`, and `StreamClient` for new code.

`recv_packet(sock)` keeps the seed's packets (dicts with `kind` = model_path | xml | state | close)
but reads the safe protocol underneath: it says hello (with MJSTREAM_TOKEN) on first use, loads the
model the server sends, and checks every state against that model's sizes. A model whose MJCF
loads meshes or textures arrives with them and is written to a private temporary folder, so the
seed's `MjSpec.from_file(packet["path"])` works on a machine with none of the server's files.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import threading
import weakref
from pathlib import Path

import mujoco
import numpy as np

from mjpod import __version__
from mjpod.errors import MjpodError
from mjpod.stream.model_transfer import MODEL_XML, ModelInfo, read_model
from mjpod.stream.protocol import (
    MAX_MODEL,
    Kind,
    ProtocolError,
    Sizes,
    check_state,
    encode,
    plain_text,
    read_message,
    readable,
)


class StreamRefused(MjpodError, ConnectionError):
    """The server refused this client (wrong token, too many clients); retrying will not help."""

    exit_code = 1  # the command ran and the server said no


@dataclasses.dataclass
class _Session:
    token: str | None
    files: bool  # ask for the MJCF's files (seed code compiles the model itself)
    hello_sent: bool = False
    sizes: Sizes | None = None


_sessions: weakref.WeakKeyDictionary[socket.socket, _Session] = weakref.WeakKeyDictionary()


def recv_packet(
    sock: socket.socket,
    token: str | None = None,
    *,
    files: bool = True,
    stop: threading.Event | None = None,
) -> dict:
    """The next packet from a StreamServer, as the seed's dict; ConnectionError when the stream breaks.

    The first call on a socket sends the hello (`token`, else MJSTREAM_TOKEN). Packets: the model,
    `{"kind": "model_path" | "xml" | "mjb", "model": MjModel, "path", "xml", "name", "digest", "info"}`
    (`model_path`: a local MJCF beside its files, `xml`: a self-contained MJCF, `mjb`: the server
    could send no MJCF; `model` is always there), then
    `{"kind": "state", "state": {time, qpos, qvel, act, ctrl, xfrc_applied}, "seq", "world"}`, and
    `{"kind": "close", "reason"}` at the end. `files=False` (StreamClient) skips the MJCF's files,
    even when a server sends them. With `stop`, waiting ends in `Stopped` as soon as it is set. Text
    from the server (names, reasons, errors) comes with control characters escaped.
    """
    session = _sessions.get(sock)
    if session is None:
        env_token = os.environ.get("MJSTREAM_TOKEN")
        session = _sessions[sock] = _Session(token if token is not None else env_token, files)
    if not session.hello_sent:
        hello: dict = {"client": f"mjpod/{__version__}", "files": session.files}
        if session.token:
            hello["token"] = session.token
        sock.sendall(encode(Kind.HELLO, hello))
        session.hello_sent = True
    limit = MAX_MODEL if session.sizes is None else session.sizes.state_limit()
    msg = read_message(sock, limit, stop=stop)
    if msg.kind == Kind.MODEL:
        if session.sizes is not None:
            raise ProtocolError("a second MODEL on one connection")
        mjm, info = read_model(msg, files=session.files)
        session.sizes = info.sizes
        packet = {"kind": "mjb", "model": mjm, "xml": info.xml, "path": None}
        if info.xml is not None and info.assets:
            packet.update(kind="model_path", path=_write_model(session, info))
        elif info.xml is not None:
            packet["kind"] = "xml"
        return {**packet, "name": info.name, "digest": info.digest, "info": info}
    if msg.kind == Kind.STATE:
        if session.sizes is None:
            raise ProtocolError("STATE before MODEL")
        state = check_state(msg, session.sizes)
        return {"kind": "state", "state": state, "seq": msg.meta.get("seq"), "world": msg.meta.get("world")}
    if msg.kind == Kind.CLOSE:
        return {"kind": "close", "reason": plain_text(msg.meta.get("reason", ""))}
    if msg.kind == Kind.ERROR:
        reason = plain_text(msg.meta.get("message", "no reason given"), 500)
        raise StreamRefused(f"server refused the connection: {reason}")
    raise ProtocolError(f"unexpected {msg.kind.name} from the server")


def _write_model(session: _Session, info: ModelInfo) -> str:
    """The MJCF and its files in a fresh private folder, removed when the socket is gone or at exit.

    read_model has already refused any file name that is not a plain name, so nothing lands outside.
    """
    folder = Path(tempfile.mkdtemp(prefix="mjstream-model-"))
    weakref.finalize(session, shutil.rmtree, folder, ignore_errors=True)
    for name, data in info.assets.items():
        (folder / name).write_bytes(data)
    (folder / MODEL_XML).write_text(info.xml or "", encoding="utf-8")
    return str(folder / MODEL_XML)


def load_model(packet: dict) -> mujoco.MjModel:
    """The model of a model packet (exact MJB; no files needed on this machine)."""
    if packet.get("kind") not in ("model_path", "xml", "mjb"):
        raise ValueError(f"not a model packet: kind {packet.get('kind')!r}")
    return packet["model"]


def apply_mjdata(mjd: mujoco.MjData, state: dict) -> None:
    """Copy a received state into `mjd` (call mj_forward before drawing), checking every size."""
    if "time" in state:
        mjd.time = float(state["time"])
    for name in ("qpos", "qvel", "act", "ctrl", "xfrc_applied"):
        if name in state:
            target, value = getattr(mjd, name), np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"state {name} has shape {value.shape}; this model's MjData needs {target.shape}"
                )
            np.copyto(target, value)


class StreamClient:
    """A connected, greeted client: `model`/`info` after connect, then `states()` until the stream ends.

    With `stop`, every wait on the server ends (in `protocol.Stopped`) as soon as the event is set, so
    a silent or trickling server cannot keep a viewer from stopping.
    """

    def __init__(
        self, sock: socket.socket, token: str | None = None, stop: threading.Event | None = None
    ) -> None:
        self.sock = sock
        self.token = token
        self.stop = stop
        packet = recv_packet(sock, token, files=False, stop=stop)  # the MJB is the model: no files to write
        if packet["kind"] == "close":
            raise ConnectionError(f"server closed before sending a model: {packet['reason']}")
        if packet["kind"] not in ("model_path", "xml", "mjb"):
            raise ProtocolError(f"expected the model first, got {packet['kind']}")
        self.model: mujoco.MjModel = packet["model"]
        self.info: ModelInfo = packet["info"]
        self.close_reason: str | None = None
        self._held: dict | Exception | None = None  # read ahead while skipping to the newest state

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        token: str | None = None,
        timeout: float = 10.0,
        stop: threading.Event | None = None,
    ) -> StreamClient:
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            client = cls(sock, token, stop)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)  # states may pause (sim paused); a dead peer shows as a reset
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return client

    def next_state(self, newest: bool = True) -> dict | None:
        """The next state dict (with "seq"), or None when the server closed the stream.

        With `newest`, states already waiting in the socket are read and skipped so a consumer slower
        than the stream shows the present, not a backlog. What ends the stream (CLOSE, a broken
        message, a lost connection) found that way still comes after the last state, never instead.
        """
        packet = self._next_packet()
        while newest and packet["kind"] == "state" and readable(self.sock):
            try:
                ahead = self._read()
            except ConnectionError as err:
                self._held = err
                break
            if ahead["kind"] != "state":
                self._held = ahead
                break
            packet = ahead
        if packet["kind"] == "close":
            self.close_reason = packet["reason"]
            return None
        return {**packet["state"], "seq": packet["seq"]}

    def _next_packet(self) -> dict:
        held, self._held = self._held, None
        if isinstance(held, Exception):
            raise held
        return held or self._read()

    def _read(self) -> dict:
        return recv_packet(self.sock, stop=self.stop)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> StreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
