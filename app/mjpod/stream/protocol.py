"""The mjstream wire format: framed, versioned messages whose arrays travel as typed raw bytes.

Nothing received is unpickled or evaluated: a message is a fixed header, a JSON object of plain
fields, and raw array bytes decoded with `numpy.frombuffer` against a dtype whitelist. Every length is
checked against a limit before it is read, and buffers grow with the bytes that really arrive.
Waiting on a peer goes through `selectors` (poll: no descriptor-number limit) with a deadline and a
stop event, so no peer can hold a reader longer than its caller allows. docs/streaming-protocol.md
is the specification.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import selectors
import socket
import struct
import threading
import time
from collections.abc import Mapping

import numpy as np

MAGIC = b"MJST"
VERSION = 1
HEADER = struct.Struct("<4sBBHI")  # magic, version, type, flags (0), payload length
META_LEN = struct.Struct("<I")
MAX_META = 64 * 1024  # bytes of JSON in any one message
MAX_HELLO = 4 * 1024  # what a server reads from a client, ever
MAX_MODEL = 512 * 1024 * 1024  # a compressed model (the Panda mjx_scene is about 15 MB)
MAX_NDIM = 4
DTYPES = frozenset({"<f8", "<f4", "<i4", "<i8", "|u1"})
STATE_FIELDS = ("qpos", "qvel", "act", "ctrl", "xfrc_applied")
MAX_TIME = 1e9  # simulated seconds (about 32 years): beyond it a state's time is refused as absurd
RECV_CHUNK = 1024 * 1024  # a receive buffer grows by at most this much per read
POLL_STEP = 0.25  # seconds between checks of a stop event while waiting on a peer
# poll(2) where it exists: no limit on descriptor numbers (select's 1024) and no descriptor of its own
_Selector = getattr(selectors, "PollSelector", selectors.DefaultSelector)


class Kind(enum.IntEnum):
    HELLO = 1  # client -> server, first and only message a client sends: version, token
    MODEL = 2  # server -> client: the whole model (MJB, zlib) and its sizes
    STATE = 3  # server -> client: one state of the watched world
    CLOSE = 4  # server -> client: the stream ends
    ERROR = 5  # server -> client: why this connection is refused; then it closes


class ProtocolError(ConnectionError):
    """A peer sent something this protocol does not allow; the connection must be dropped.

    A ConnectionError so that seed-style clients, which treat ConnectionError as "connection lost",
    reconnect instead of crashing.
    """


class Stopped(ConnectionError):
    """This side was asked to stop (Ctrl-C, server shutdown) while waiting on its peer."""


@dataclasses.dataclass(frozen=True)
class Message:
    kind: Kind
    meta: dict
    arrays: dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The model dimensions every state is checked against."""

    nq: int
    nv: int
    na: int
    nu: int
    nbody: int

    @classmethod
    def of(cls, mjm: object) -> Sizes:
        return cls(mjm.nq, mjm.nv, mjm.na, mjm.nu, mjm.nbody)  # type: ignore[attr-defined]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {
            "qpos": (self.nq,),
            "qvel": (self.nv,),
            "act": (self.na,),
            "ctrl": (self.nu,),
            "xfrc_applied": (self.nbody, 6),
        }

    def state_limit(self) -> int:
        """The largest STATE payload a client accepts for this model."""
        values = self.nq + self.nv + self.na + self.nu + 6 * self.nbody
        return MAX_META + 8 * values


def encode(kind: Kind, meta: Mapping | None = None, arrays: Mapping[str, np.ndarray] | None = None) -> bytes:
    """One framed message, ready for `sendall`."""
    arrays = arrays or {}
    blobs, specs = [], []
    for name, value in arrays.items():
        a = np.ascontiguousarray(value)
        dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dtype, copy=False)
        if dtype.str not in DTYPES:
            raise ValueError(f"array {name!r} has dtype {dtype.str}; allowed: {sorted(DTYPES)}")
        specs.append({"name": name, "dtype": dtype.str, "shape": list(a.shape)})
        blobs.append(a.tobytes())
    body = json.dumps({**(meta or {}), "arrays": specs}, separators=(",", ":"), allow_nan=False).encode()
    if len(body) > MAX_META:
        raise ValueError(f"message metadata is {len(body)} bytes; the limit is {MAX_META}")
    payload = b"".join([META_LEN.pack(len(body)), body, *blobs])
    return HEADER.pack(MAGIC, VERSION, int(kind), 0, len(payload)) + payload


def parse_header(header: bytes, limit: int) -> tuple[Kind, int]:
    """Kind and payload length from a 12-byte header, or ProtocolError naming what is wrong."""
    magic, version, kind, flags, length = HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"not an mjstream message (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise ProtocolError(f"protocol version {version}, this side speaks {VERSION}: upgrade the older side")
    if flags != 0:
        raise ProtocolError(f"unknown header flags {flags:#x}")
    try:
        kind = Kind(kind)
    except ValueError:
        raise ProtocolError(f"unknown message type {kind}") from None
    if length > limit:
        raise ProtocolError(f"{kind.name} message of {length} bytes exceeds the limit of {limit} bytes")
    return kind, length


def decode(kind: Kind, payload: bytes | bytearray) -> Message:
    """Parse a payload: JSON fields plus typed arrays whose byte counts must add up exactly."""
    if len(payload) < META_LEN.size:
        raise ProtocolError(f"{kind.name} payload of {len(payload)} bytes is too short")
    (meta_len,) = META_LEN.unpack_from(payload)
    if meta_len > MAX_META or META_LEN.size + meta_len > len(payload):
        raise ProtocolError(f"{kind.name} metadata length {meta_len} does not fit the message")
    try:
        text = bytes(payload[META_LEN.size : META_LEN.size + meta_len]).decode("utf-8")
        meta = json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"{kind.name} metadata is not JSON: {err}") from None
    except RecursionError:
        raise ProtocolError(f"{kind.name} metadata is nested too deeply") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("arrays", []), list):
        raise ProtocolError(f"{kind.name} metadata must be a JSON object with an 'arrays' list")
    arrays: dict[str, np.ndarray] = {}
    offset = META_LEN.size + meta_len
    for spec in meta.pop("arrays", []):
        name, dtype, shape = _array_spec(kind, spec)
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if offset + nbytes > len(payload):
            raise ProtocolError(
                f"{kind.name} array {name!r} {shape} needs {nbytes} bytes; the message is short"
            )
        arrays[name] = np.frombuffer(payload, dtype=dtype, count=math.prod(shape), offset=offset).reshape(
            shape
        )
        offset += nbytes
    if offset != len(payload):
        raise ProtocolError(f"{kind.name} message has {len(payload) - offset} bytes beyond its arrays")
    return Message(kind, meta, arrays)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _array_spec(kind: Kind, spec: object) -> tuple[str, str, tuple[int, ...]]:
    if not isinstance(spec, dict):
        raise ProtocolError(f"{kind.name} array description must be an object, got {type(spec).__name__}")
    name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
    if not isinstance(name, str) or dtype not in DTYPES:
        raise ProtocolError(f"{kind.name} array {name!r}: dtype {dtype!r} is not one of {sorted(DTYPES)}")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise ProtocolError(f"{kind.name} array {name!r}: shape {shape!r} is not a list of sizes")
    return name, dtype, tuple(shape)


def wait_for(
    sock: socket.socket,
    events: int = selectors.EVENT_READ,
    timeout: float | None = 0.0,
) -> int:
    """The `selectors` events ready on `sock` within `timeout` seconds (None: wait for one); 0 if none.

    A closed or reset peer shows as readable (and writable), so the next recv or send says why.
    """
    with _Selector() as selector:
        selector.register(sock, events)
        ready = selector.select(timeout)
    return ready[0][1] if ready else 0


def wait_readable(sock: socket.socket, deadline: float | None, stop: threading.Event | None) -> None:
    """Return once `sock` has bytes (or the peer closed); TimeoutError at `deadline` (a monotonic
    time), Stopped as soon as `stop` is set."""
    while True:
        if stop is not None and stop.is_set():
            raise Stopped("stopped while waiting for the peer")
        wait = POLL_STEP if stop is not None else None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the peer did not send in time")
            wait = left if wait is None else min(wait, left)
        if wait_for(sock, selectors.EVENT_READ, wait):
            return


def recv_exact(
    sock: socket.socket, n: int, *, deadline: float | None = None, stop: threading.Event | None = None
) -> bytearray:
    """Exactly n bytes, or ConnectionError when the peer closes first.

    The buffer grows with what arrives, so an announced length costs nothing until its bytes come.
    `deadline` (monotonic) bounds the whole read, however the peer trickles; `stop` ends it early.
    """
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None or stop is not None:
            wait_readable(sock, deadline, stop)
        chunk = sock.recv(min(n - len(buf), RECV_CHUNK))
        if not chunk:
            raise ConnectionError(f"connection closed by peer ({len(buf)} of {n} bytes received)")
        buf += chunk
    return buf


def read_message(
    sock: socket.socket,
    limit: int,
    *,
    deadline: float | None = None,
    stop: threading.Event | None = None,
) -> Message:
    """Read one message, refusing (before reading it) any payload larger than `limit`.

    `deadline` and `stop` as in `recv_exact`, for the header and payload together.
    """
    kind, length = parse_header(bytes(recv_exact(sock, HEADER.size, deadline=deadline, stop=stop)), limit)
    return decode(kind, recv_exact(sock, length, deadline=deadline, stop=stop))


def readable(sock: socket.socket) -> bool:
    """Whether bytes (or the peer's close) already wait on `sock`."""
    return bool(wait_for(sock, selectors.EVENT_READ, 0.0))


def plain_text(value: object, limit: int = 200) -> str:
    """Text a peer sent, safe for a log line or a terminal: control characters (newlines, ANSI
    escapes) written as escapes, and at most `limit` characters."""
    text = str(value)
    cut = len(text) > limit
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit])
    return text + ("…" if cut else "")


def check_state(msg: Message, sizes: Sizes) -> dict:
    """A STATE message as the seed's state dict, after checking every array against the model."""
    for name, shape in sizes.shapes().items():
        a = msg.arrays.get(name)
        if a is None:
            raise ProtocolError(f"STATE is missing array {name!r}")
        if a.shape != shape or a.dtype != np.float64:
            raise ProtocolError(
                f"STATE array {name!r} is {a.dtype}{list(a.shape)}; the model needs float64{list(shape)}"
            )
    extra = set(msg.arrays) - set(STATE_FIELDS)
    if extra:
        raise ProtocolError(f"STATE has unknown arrays: {', '.join(sorted(extra))}")
    t = msg.meta.get("time")
    if not isinstance(t, int | float) or isinstance(t, bool):
        raise ProtocolError(f"STATE time must be a number, got {plain_text(repr(t), 40)}")
    if not abs(t) <= MAX_TIME:  # also NaN and infinity (and integers too large for a float)
        raise ProtocolError(f"STATE time {t!r} is not a finite number of seconds up to {MAX_TIME:g}")
    state = {"time": float(t), **{k: msg.arrays[k] for k in STATE_FIELDS}}
    return state
