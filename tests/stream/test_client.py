"""The client against a hostile server on a real socket: bad states and pickles are refused, never applied."""

import contextlib
import os
import pickle
import socket
import struct
import threading

import mujoco
import numpy as np
import pytest

import mjpod.stream as mjstream
from mjpod import models
from mjpod.stream.feed import snapshot_arrays
from mjpod.stream.model_transfer import model_message
from mjpod.stream.protocol import HEADER, MAGIC, VERSION, Kind, encode, read_message


def hostile_server(*replies: bytes) -> tuple[int, threading.Thread, list]:
    """Accept one client, read its hello, send `replies`, and keep what the client said."""
    listener = socket.create_server(("127.0.0.1", 0))
    heard = []

    def run() -> None:
        with listener, listener.accept()[0] as conn:
            heard.append(read_message(conn, 4096))
            for r in replies:
                conn.sendall(r)
            with contextlib.suppress(OSError):
                conn.recv(1)  # hold the connection until the client gives up

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return listener.getsockname()[1], t, heard


@pytest.fixture(scope="module")
def box():
    lm = models.load("box_drop")
    return lm, model_message(lm.model, lm.name, lm.path)[0]


def test_hello_carries_the_token_from_the_environment(box, monkeypatch):
    _, model = box
    monkeypatch.setenv("MJSTREAM_TOKEN", "from-env")
    port, t, heard = hostile_server(model)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert mjstream.recv_packet(sock)["kind"] == "xml"
    t.join(10)
    assert heard[0].kind == Kind.HELLO and heard[0].meta["token"] == "from-env"


def test_state_with_wrong_sizes_is_refused(box):
    lm, model = box
    arrays = snapshot_arrays(mujoco.MjData(lm.model)) | {"qvel": np.zeros(lm.model.nv + 3)}
    port, _, _ = hostile_server(model, encode(Kind.STATE, {"seq": 0, "time": 0.0}, arrays))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert mjstream.recv_packet(sock)["kind"] == "xml"
        with pytest.raises(
            mjstream.ProtocolError, match=r"'qvel' is float64\[9\]; the model needs float64\[6\]"
        ):
            mjstream.recv_packet(sock)


def test_state_before_model_and_pickles_are_refused(box, tmp_path):
    lm, _ = box
    state = encode(Kind.STATE, {"seq": 0, "time": 0.0}, snapshot_arrays(mujoco.MjData(lm.model)))
    port, _, _ = hostile_server(state)
    with (
        socket.create_connection(("127.0.0.1", port)) as sock,
        pytest.raises(mjstream.ProtocolError, match="STATE before MODEL"),
    ):
        mjstream.recv_packet(sock)

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = pickle.dumps({"kind": "xml", "xml": Exploit()})
    for reply in (
        struct.pack("!I", len(evil)) + evil,
        HEADER.pack(MAGIC, VERSION, Kind.MODEL, 0, len(evil)) + evil,
    ):
        port, _, _ = hostile_server(reply)
        with socket.create_connection(("127.0.0.1", port)) as sock, pytest.raises(mjstream.ProtocolError):
            mjstream.recv_packet(sock)
    assert not marker.exists()


def test_a_huge_announced_model_is_refused_before_reading_it():
    port, _, _ = hostile_server(HEADER.pack(MAGIC, VERSION, Kind.MODEL, 0, 0xFFFFFFFF))
    with (
        socket.create_connection(("127.0.0.1", port)) as sock,
        pytest.raises(mjstream.ProtocolError, match="exceeds the limit"),
    ):
        mjstream.recv_packet(sock)
