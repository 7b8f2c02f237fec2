"""A hostile or broken mjstream server on a real socket, and what a client process costs meanwhile."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mjpod import models
from mjpod.stream.model_transfer import model_message
from mjpod.stream.protocol import HEADER, MAGIC, META_LEN, VERSION, Kind, read_message

BOX = models.load("box_drop")


class HostileServer:
    """Accepts clients one after another, reads each HELLO, calls `on_hello`, sends `replies`, then
    holds the connection open (saying nothing more) until the client leaves or the test ends."""

    def __init__(self, *replies: bytes, on_hello: Callable[[], None] | None = None) -> None:
        self.replies, self.on_hello = replies, on_hello
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.hellos: list[dict] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.settimeout(None)
                self.hellos.append(read_message(conn, 4096).meta)
                if self.on_hello:
                    self.on_hello()
                for reply in self.replies:
                    conn.sendall(reply)
                conn.settimeout(0.2)
                while not self._done.is_set():  # hold: silent until the client closes
                    try:
                        if not conn.recv(1):
                            break
                    except TimeoutError:
                        continue

    def close(self) -> None:
        self._done.set()
        self.listener.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def box_model(arrays: dict[str, bytes] | None = None, **meta: object) -> bytes:
    """box_drop's real MODEL message with `meta` fields replaced and `arrays` (uint8 bytes) replaced
    or added: the way to build a bomb that is otherwise well formed."""
    message, _ = model_message(BOX.model, BOX.name, BOX.path)
    payload = message[HEADER.size :]
    (meta_len,) = META_LEN.unpack_from(payload)
    fields = json.loads(payload[META_LEN.size : META_LEN.size + meta_len])
    blobs, offset = {}, META_LEN.size + meta_len
    for spec in fields.pop("arrays"):
        blobs[spec["name"]], offset = payload[offset : offset + spec["shape"][0]], offset + spec["shape"][0]
    blobs |= arrays or {}
    fields |= meta
    fields["arrays"] = [{"name": n, "dtype": "|u1", "shape": [len(b)]} for n, b in blobs.items()]
    return raw_message(Kind.MODEL, json.dumps(fields), b"".join(blobs.values()))


def raw_message(kind: Kind, meta_json: str, blobs: bytes = b"") -> bytes:
    """A message with metadata written by hand (NaN, Infinity, ...), which `encode` refuses to write."""
    body = meta_json.encode()
    payload = META_LEN.pack(len(body)) + body + blobs
    return HEADER.pack(MAGIC, VERSION, int(kind), 0, len(payload)) + payload


def state_json(time: str, seq: int = 0) -> tuple[str, bytes]:
    """A box_drop STATE's metadata (time written as given) and its array bytes."""
    m = BOX.model
    shapes = {"qpos": [m.nq], "qvel": [m.nv], "act": [m.na], "ctrl": [m.nu], "xfrc_applied": [m.nbody, 6]}
    arrays = [{"name": n, "dtype": "<f8", "shape": s} for n, s in shapes.items()]
    values = [m.qpos0, *(np.zeros(s) for n, s in shapes.items() if n != "qpos")]
    blobs = b"".join(np.asarray(v, np.float64).tobytes() for v in values)
    return f'{{"seq":{seq},"time":{time},"world":0,"arrays":{json.dumps(arrays)}}}', blobs


def state(time: str, seq: int = 0) -> bytes:
    return raw_message(Kind.STATE, *state_json(time, seq))


def zeros_zlib(size: int) -> bytes:
    """`size` zero bytes, deflated (about 1000:1)."""
    deflate, chunk = zlib.compressobj(9), bytes(min(size, 16 << 20))
    parts = [deflate.compress(chunk[: min(len(chunk), size - done)]) for done in range(0, size, len(chunk))]
    return b"".join(parts) + deflate.flush()


def memory_kib(pid: int, field: str = "VmHWM") -> int:
    """A process's peak (VmHWM) or current (VmRSS) resident memory, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def header_only(kind: Kind, length: int) -> bytes:
    return HEADER.pack(MAGIC, VERSION, int(kind), 0, length)
