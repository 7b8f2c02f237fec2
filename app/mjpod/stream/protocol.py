"""The mjstream wire format: framed, versioned messages whose arrays travel as typed raw bytes.

Nothing received is unpickled or evaluated: a message is a fixed header, a JSON object of plain
fields, and raw array bytes decoded with `numpy.frombuffer` against a dtype whitelist. Every length is
checked against a limit before it is read. docs/streaming-protocol.md is the specification.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import socket
import struct
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


def decode(kind: Kind, payload: bytes) -> Message:
    """Parse a payload: JSON fields plus typed arrays whose byte counts must add up exactly."""
    if len(payload) < META_LEN.size:
        raise ProtocolError(f"{kind.name} payload of {len(payload)} bytes is too short")
    (meta_len,) = META_LEN.unpack_from(payload)
    if meta_len > MAX_META or META_LEN.size + meta_len > len(payload):
        raise ProtocolError(f"{kind.name} metadata length {meta_len} does not fit the message")
    try:
        meta = json.loads(payload[META_LEN.size : META_LEN.size + meta_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"{kind.name} metadata is not JSON: {err}") from None
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


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Exactly n bytes, or ConnectionError when the peer closes first."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionError(f"connection closed by peer ({got} of {n} bytes received)")
        got += k
    return bytes(buf)


def read_message(sock: socket.socket, limit: int) -> Message:
    """Read one message, refusing (before reading it) any payload larger than `limit`."""
    kind, length = parse_header(recv_exact(sock, HEADER.size), limit)
    return decode(kind, recv_exact(sock, length))


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
        raise ProtocolError(f"STATE time must be a number, got {t!r}")
    state = {"time": float(t), **{k: msg.arrays[k] for k in STATE_FIELDS}}
    return state
