"""The wire format as docs/streaming-protocol.md specifies it, byte by byte.

Nothing here borrows the implementation's constants (header layout, message type numbers, dtype
strings): messages are built and taken apart with `struct` from the specification's tables, so a
change of byte order, field order, field size or type number fails here even where the round-trip
tests in test_protocol.py (which use the implementation on both ends) would still pass.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import zlib

import mujoco
import numpy as np
import pytest

import mjpod.stream as mjstream
from mjpod import models
from mjpod.stream.protocol import Kind, encode
from tests.stream.helpers import free_port, wait_for

# The specification's numbers, written out here on purpose (docs/streaming-protocol.md, "Framing").
HELLO, MODEL, STATE, CLOSE, ERROR = 1, 2, 3, 4, 5


def frame(kind: int, meta: dict, arrays: list[tuple[str, str, list[int], bytes]] = ()) -> bytes:
    """One message as the spec lays it out: 12-byte little-endian header, then
    uint32 meta_length | UTF-8 JSON meta (with its `arrays` list) | the array bytes in listed order."""
    specs = [{"name": name, "dtype": dtype, "shape": shape} for name, dtype, shape, _ in arrays]
    body = json.dumps({**meta, "arrays": specs}).encode()
    payload = struct.pack("<I", len(body)) + body + b"".join(raw for *_, raw in arrays)
    return b"MJST" + struct.pack("<BBHI", 1, kind, 0, len(payload)) + payload


def read_frame(sock: socket.socket) -> tuple[int, dict, dict[str, bytes]]:
    """One message read by the spec alone: (type, meta, raw bytes of each array)."""
    head = recv(sock, 12)
    assert head[:4] == b"MJST", head
    version, kind, flags, length = struct.unpack("<BBHI", head[4:])
    assert (version, flags) == (1, 0), head
    payload = recv(sock, length)
    (meta_len,) = struct.unpack_from("<I", payload)
    meta = json.loads(payload[4 : 4 + meta_len].decode("utf-8"))
    arrays, offset = {}, 4 + meta_len
    for spec in meta.pop("arrays"):
        size = {"<f8": 8, "<f4": 4, "<i4": 4, "<i8": 8, "|u1": 1}[spec["dtype"]]
        nbytes = size * int(np.prod(spec["shape"], dtype=np.int64))
        arrays[spec["name"]] = payload[offset : offset + nbytes]
        offset += nbytes
    assert offset == len(payload), "bytes beyond the arrays"
    return kind, meta, arrays


def recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, f"connection closed after {len(data)} of {n} bytes"
        data += chunk
    return data


def f8(values) -> bytes:
    """float64 little-endian, packed by struct (not numpy)."""
    flat = list(np.asarray(values, dtype=float).ravel())
    return struct.pack(f"<{len(flat)}d", *flat)


@pytest.fixture(scope="module")
def box():
    """box_drop: nq 7, nv 6, na 0, nu 0, nbody 2."""
    return models.load("box_drop")


def state_arrays(mjm: mujoco.MjModel, shift: float = 0.0) -> list[tuple[str, str, list[int], bytes]]:
    """Distinct values in every field, listed in an order of the spec's choosing (not the encoder's)."""
    qpos = np.arange(mjm.nq) + 0.25 + shift
    qvel = -np.arange(mjm.nv) - 0.5
    xfrc = np.arange(mjm.nbody * 6).reshape(mjm.nbody, 6) * 1.5
    return [
        ("xfrc_applied", "<f8", [mjm.nbody, 6], f8(xfrc)),
        ("ctrl", "<f8", [mjm.nu], b""),
        ("qvel", "<f8", [mjm.nv], f8(qvel)),
        ("act", "<f8", [mjm.na], b""),
        ("qpos", "<f8", [mjm.nq], f8(qpos)),
    ]


def test_a_client_takes_model_and_state_built_from_the_spec(box):
    """The test is the server: it reads the client's HELLO by the spec and answers with a MODEL and a
    STATE built by hand; the client must hand back exactly the values packed."""
    mjm = box.model
    raw = np.empty(mujoco.mj_sizeModel(mjm), np.uint8)
    mujoco.mj_saveModel(mjm, None, raw)
    raw = raw.tobytes()
    model_meta = {
        "name": "hand-built",
        "path": "",
        "digest": hashlib.sha256(raw).hexdigest(),
        "encoding": "zlib",
        "raw_size": len(raw),
        "sizes": {"nq": mjm.nq, "nv": mjm.nv, "na": mjm.na, "nu": mjm.nu, "nbody": mjm.nbody},
        "timestep": mjm.opt.timestep,
    }
    mjb = zlib.compress(raw)
    server, client_sock = socket.socketpair()
    with server, client_sock:
        server.sendall(frame(MODEL, model_meta, [("mjb", "|u1", [len(mjb)], mjb)]))
        server.sendall(frame(STATE, {"seq": 4, "time": 1.25, "world": 3}, state_arrays(mjm)))
        server.sendall(frame(CLOSE, {"reason": "done"}))
        client = mjstream.StreamClient(client_sock)  # says HELLO, then reads the MODEL
        kind, hello, arrays = read_frame(server)
        assert kind == HELLO and not arrays and hello["client"].startswith("mjpod/")
        assert client.info.name == "hand-built" and client.model.nq == mjm.nq
        state = client.next_state(newest=False)
        assert state["seq"] == 4 and state["time"] == 1.25
        np.testing.assert_array_equal(state["qpos"], np.arange(mjm.nq) + 0.25)
        np.testing.assert_array_equal(state["qvel"], -np.arange(mjm.nv) - 0.5)
        np.testing.assert_array_equal(state["xfrc_applied"], np.arange(12).reshape(2, 6) * 1.5)
        assert client.next_state() is None and client.close_reason == "done"


def test_a_server_answers_a_hand_built_hello_with_spec_conformant_bytes(box):
    """A raw socket greets a real StreamServer by the spec and takes its MODEL and STATE apart by the spec."""
    srv = mjstream.StreamServer(model_path="box_drop", port=free_port(), hz=0)
    srv.start(wait=False)
    mjm, mjd = box.model, mujoco.MjData(box.model)
    mjd.qpos[:] = np.arange(mjm.nq) / 8
    mjd.qvel[:] = -np.arange(mjm.nv) / 4
    mjd.xfrc_applied[1] = [1, 2, 3, 4, 5, 6]
    mjd.time = 0.75
    try:
        with socket.create_connection(srv.address, timeout=30) as sock:
            sock.sendall(frame(HELLO, {"client": "hand-built"}))
            kind, meta, arrays = read_frame(sock)
            assert kind == MODEL and meta["encoding"] == "zlib"
            raw = zlib.decompress(arrays["mjb"])
            assert len(raw) == meta["raw_size"] and hashlib.sha256(raw).hexdigest() == meta["digest"]
            assert meta["sizes"] == {"nq": 7, "nv": 6, "na": 0, "nu": 0, "nbody": 2}
            wait_for(lambda: srv.connected, 10, "the server to count the client")
            srv.send_state(mjd)
            kind, meta, arrays = read_frame(sock)
            while kind == STATE and meta["time"] != 0.75:  # a state published before ours
                kind, meta, arrays = read_frame(sock)
            assert kind == STATE and isinstance(meta["seq"], int) and meta["world"] == 0
            assert struct.unpack("<7d", arrays["qpos"]) == tuple(np.arange(7) / 8)
            assert struct.unpack("<6d", arrays["qvel"]) == tuple(-np.arange(6) / 4)
            assert struct.unpack("<12d", arrays["xfrc_applied"])[6:] == (1, 2, 3, 4, 5, 6)
            assert arrays["act"] == arrays["ctrl"] == b""
            srv.stop_connection()
            kind, meta, _ = read_frame(sock)
            while kind == STATE:
                kind, meta, _ = read_frame(sock)
            assert kind == CLOSE and meta["reason"]
    finally:
        srv.stop_connection()


def test_the_encoder_output_is_pinned_for_known_messages():
    """Exact bytes, written out: a change to framing, type numbers, field order or the JSON layout shows."""
    assert encode(Kind.CLOSE, {"reason": "bye"}) == (
        b"MJST\x01\x04\x00\x00\x20\x00\x00\x00"  # magic, version 1, type 4 (CLOSE), flags 0, 32 bytes
        b"\x1c\x00\x00\x00"  # 28 bytes of JSON
        b'{"reason":"bye","arrays":[]}'
    )
    state = encode(
        Kind.STATE,
        {"seq": 2, "time": 0.5, "world": 1},
        {"qpos": np.array([1.0, -2.0]), "ctrl": np.array([0.5], dtype=">f8")},  # big-endian in, < out
    )
    meta = (
        b'{"seq":2,"time":0.5,"world":1,"arrays":[{"name":"qpos","dtype":"<f8","shape":[2]},'
        b'{"name":"ctrl","dtype":"<f8","shape":[1]}]}'
    )
    arrays = bytes.fromhex("000000000000f03f00000000000000c0000000000000e03f")  # 1.0, -2.0, 0.5
    payload = len(meta).to_bytes(4, "little") + meta + arrays
    assert state == b"MJST\x01\x03\x00\x00" + len(payload).to_bytes(4, "little") + payload
