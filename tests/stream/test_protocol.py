"""The wire format alone: exact round trips, and every malformed input refused with a named reason."""

import os
import pickle
import socket
import struct
import zlib

import mujoco
import numpy as np
import pytest

from mjpod import models
from mjpod.stream.feed import snapshot_arrays
from mjpod.stream.model_transfer import model_message, read_model
from mjpod.stream.protocol import (
    HEADER,
    MAGIC,
    VERSION,
    Kind,
    ProtocolError,
    Sizes,
    check_state,
    decode,
    encode,
    parse_header,
    read_message,
)


def split(message: bytes) -> tuple[Kind, bytes]:
    kind, length = parse_header(message[: HEADER.size], limit=1 << 30)
    assert length == len(message) - HEADER.size
    return kind, message[HEADER.size :]


@pytest.fixture(scope="module")
def box():
    lm = models.load("box_drop")
    mjd = mujoco.MjData(lm.model)
    mjd.qvel[:] = np.linspace(-1, 1, lm.model.nv)
    for _ in range(50):
        mujoco.mj_step(lm.model, mjd)
    return lm, mjd


def test_state_round_trip_is_bit_exact(box):
    lm, mjd = box
    arrays = snapshot_arrays(mjd)
    msg = decode(*split(encode(Kind.STATE, {"seq": 3, "time": mjd.time}, arrays)))
    state = check_state(msg, Sizes.of(lm.model))
    assert state["time"] == mjd.time and msg.meta["seq"] == 3
    for name, value in arrays.items():
        assert state[name].tobytes() == value.tobytes()


def test_model_travels_whole_and_checks_its_digest(box):
    lm, _ = box
    message, info = model_message(lm.model, lm.name, lm.path)
    mjm, got = read_model(decode(*split(message)))
    assert got == info and got.xml and "<mujoco" in got.xml
    assert (mjm.nq, mjm.nbody, mjm.ngeom) == (lm.model.nq, lm.model.nbody, lm.model.ngeom)
    tampered = decode(*split(message))
    tampered.arrays["mjb"] = tampered.arrays["mjb"].copy()
    tampered.arrays["mjb"][-8] ^= 0xFF  # inside the zlib stream: bad data or a wrong digest, never a model
    with pytest.raises(ProtocolError):
        read_model(tampered)


def test_mesh_model_arrives_without_its_files(panda_available, tmp_path, monkeypatch):
    if not panda_available:
        pytest.skip("the Panda meshes are not in MENAGERIE_ROOT")
    lm = models.load("franka_emika_panda/mjx_scene")
    message, info = model_message(lm.model, lm.name, lm.path)
    assert info.xml is None  # meshes live in files: only the MJB can carry them
    monkeypatch.chdir(tmp_path)
    mjm, _ = read_model(decode(*split(message)))
    assert mjm.nmesh == lm.model.nmesh > 0
    assert np.array_equal(mjm.mesh_vert, lm.model.mesh_vert)


def test_mesh_model_travels_as_mjcf_with_its_files_when_asked(panda_available, tmp_path, monkeypatch):
    """For seed clients: the MJCF and its meshes under flat names, compiling to the same model."""
    if not panda_available:
        pytest.skip("the Panda meshes are not in MENAGERIE_ROOT")
    lm = models.load("franka_emika_panda/mjx_scene")
    message, sent = model_message(lm.model, lm.name, lm.path, files=True)
    monkeypatch.chdir(tmp_path)
    _, got = read_model(decode(*split(message)))
    assert got.assets == sent.assets and all("/" not in name for name in got.assets)
    assert 'meshdir="' not in got.xml
    again = mujoco.MjSpec.from_string(got.xml, assets=got.assets).compile()
    assert np.array_equal(again.mesh_vert, lm.model.mesh_vert)
    assert np.array_equal(again.geom_dataid, lm.model.geom_dataid)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ([{"name": "../escape.stl", "size": 3}], "not a plain, unique file name"),
        ([{"name": "/etc/x.stl", "size": 3}], "not a plain, unique file name"),
        ([{"name": "model.xml", "size": 3}], "not a plain, unique file name"),
        ([{"name": "a.stl", "size": 1}, {"name": "a.stl", "size": 2}], "not a plain, unique file name"),
        ([{"name": "a.stl", "size": -3}], "invalid size"),
        ([{"name": "a.stl", "size": 0}], "add up to 0 bytes"),
        ([{"name": "a.stl", "size": 2}], "more or less than the announced 2 bytes"),
    ],
)
def test_model_files_with_unsafe_names_or_sizes_are_refused(box, files, reason):
    lm, _ = box
    msg = decode(*split(model_message(lm.model, lm.name, lm.path)[0]))
    arrays = {**msg.arrays, "files": np.frombuffer(zlib.compress(b"abc"), np.uint8)}
    bad = decode(*split(encode(Kind.MODEL, {**msg.meta, "files": files}, arrays)))
    with pytest.raises(ProtocolError, match=reason):
        read_model(bad)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"GET / HTTP/1.1\r\n"[:12], "not an mjstream message"),
        (HEADER.pack(MAGIC, VERSION + 1, 3, 0, 10), "protocol version"),
        (HEADER.pack(MAGIC, VERSION, 99, 0, 10), "unknown message type"),
        (HEADER.pack(MAGIC, VERSION, 3, 0, 0xFFFFFFF0), "exceeds the limit"),
    ],
)
def test_bad_headers_are_refused_before_any_payload_is_read(header, reason):
    with pytest.raises(ProtocolError, match=reason):
        parse_header(header, limit=1 << 20)


def test_arrays_must_match_the_model(box):
    lm, mjd = box
    arrays = snapshot_arrays(mjd) | {"qpos": np.zeros(lm.model.nq + 1)}
    msg = decode(*split(encode(Kind.STATE, {"time": 0.0}, arrays)))
    with pytest.raises(ProtocolError, match=r"'qpos' is float64\[8\]; the model needs float64\[7\]"):
        check_state(msg, Sizes.of(lm.model))
    arrays = snapshot_arrays(mjd) | {"qvel": mjd.qvel.astype(np.float32)}
    with pytest.raises(ProtocolError, match="'qvel' is float32"):
        check_state(decode(*split(encode(Kind.STATE, {"time": 0.0}, arrays))), Sizes.of(lm.model))


def test_declared_sizes_must_add_up_exactly():
    body = b'{"arrays":[{"name":"qpos","dtype":"<f8","shape":[1000]}]}'
    short = struct.pack("<I", len(body)) + body + b"\0" * 16
    with pytest.raises(ProtocolError, match="the message is short"):
        decode(Kind.STATE, short)
    body = b'{"arrays":[]}'
    with pytest.raises(ProtocolError, match="bytes beyond its arrays"):
        decode(Kind.STATE, struct.pack("<I", len(body)) + body + b"junk")
    body = b'{"arrays":[{"name":"x","dtype":"|O","shape":[1]}]}'
    with pytest.raises(ProtocolError, match=r"dtype '\|O'"):
        decode(Kind.STATE, struct.pack("<I", len(body)) + body + b"\0" * 8)


def test_a_pickle_payload_is_rejected_and_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps({"kind": "state", "x": Exploit()})
    with pytest.raises(ProtocolError, match="metadata"):
        decode(Kind.STATE, payload)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("!I", len(payload)) + payload)  # the seed's framing: length + pickle
        with pytest.raises(ProtocolError, match="not an mjstream message"):
            read_message(b, limit=1 << 20)
    assert not marker.exists()
