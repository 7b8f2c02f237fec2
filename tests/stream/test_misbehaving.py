"""A real `mjpod serve` process against misbehaving peers: each is dropped alone, nothing runs, serving goes on."""

import os
import pickle
import socket
import struct
import threading

import numpy as np
import pytest

import mjpod.stream as mjstream
from mjpod.stream.protocol import HEADER, MAGIC, VERSION, Kind, encode
from tests.stream.helpers import Mjpod, free_port, wait_for

TOKEN = "s3cret-token"


class Watcher:
    """A well-behaved client that keeps reading in the background."""

    def __init__(self, port: int) -> None:
        self.client = mjstream.StreamClient.connect("127.0.0.1", port, token=TOKEN)
        self.seqs: list[int] = []
        self.closed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while (state := self.client.next_state(newest=False)) is not None:
                self.seqs.append(state["seq"])
        finally:
            self.closed.set()

    def still_receiving(self) -> bool:
        seen = len(self.seqs)
        wait_for(lambda: len(self.seqs) > seen + 2, 30, "the good client to keep receiving states")
        return True


@pytest.fixture(scope="module")
def served():
    port = free_port()
    proc = Mjpod("serve", "--model", "box_drop", "--port", str(port), "--hz", "100", MJSTREAM_TOKEN=TOKEN)
    proc.wait_line("streaming box_drop on")
    watcher = Watcher(port)
    yield proc, port, watcher
    assert proc.stop() == 0, proc.output
    assert watcher.closed.wait(10), "the good client was not told the stream ended"


def exchange(port: int, data: bytes) -> bytes:
    """Send `data`, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except ConnectionResetError:  # closed with our unread bytes still queued: a reset, not a FIN
            pass
        return got


def pickled_exploit(marker) -> bytes:
    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({"kind": "xml", "xml": Exploit()})


def short_array_hello() -> bytes:
    """A HELLO that declares an 8-element float64 array but carries only 3 elements' bytes."""
    body = f'{{"token":"{TOKEN}","arrays":[{{"name":"qpos","dtype":"<f8","shape":[8]}}]}}'.encode()
    payload = struct.pack("<I", len(body)) + body + struct.pack("<3d", 1, 2, 3)
    return HEADER.pack(MAGIC, VERSION, Kind.HELLO, 0, len(payload)) + payload


CASES = {
    "garbage bytes": (lambda _: os.urandom(64), "not an mjstream message"),
    "oversized length": (lambda _: HEADER.pack(MAGIC, VERSION, Kind.HELLO, 0, 1 << 30), "exceeds the limit"),
    "wrong array sizes": (lambda _: short_array_hello(), "the message is short"),
    "arrays in a well-formed hello": (
        lambda _: encode(Kind.HELLO, {"token": TOKEN}, {"qpos": np.zeros(9)}),
        "HELLO carries arrays (qpos)",
    ),
    "seed pickle framing": (lambda m: struct.pack("!I", 99) + pickled_exploit(m), "not an mjstream message"),
    "pickle in a valid frame": (
        lambda m: (p := pickled_exploit(m)) and HEADER.pack(MAGIC, VERSION, Kind.HELLO, 0, len(p)) + p,
        "metadata",
    ),
    "data after the handshake": (
        lambda _: encode(Kind.HELLO, {"token": TOKEN}) + b"\x00unexpected",
        "sent data after the handshake",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_misbehaving_client_is_dropped_alone(served, case, tmp_path):
    proc, port, watcher = served
    marker = tmp_path / "pwned"
    build, reason = CASES[case]
    data = build(marker)
    before = proc.count("dropped")
    reply = exchange(port, data)
    if case != "data after the handshake":
        assert reply == b"", "the server sent something to a client that never greeted it properly"
    proc.wait_line("dropped", n=before + 1, timeout=30)
    assert reason in [line for line in proc.lines if "dropped" in line][-1]
    assert not marker.exists(), "a pickle payload ran code"
    assert proc.proc.poll() is None and watcher.still_receiving()
    with mjstream.StreamClient.connect("127.0.0.1", port, token=TOKEN) as fresh:  # and it still serves
        assert fresh.info.name == "box_drop" and fresh.next_state() is not None


def test_wrong_or_missing_token_is_refused_before_anything_is_sent(served):
    proc, port, watcher = served
    for token in ("wrong", ""):
        with pytest.raises(mjstream.StreamRefused, match="wrong or missing token"):
            mjstream.StreamClient.connect("127.0.0.1", port, token=token)
    proc.wait_line("refused: wrong or missing token", n=2)
    raw = exchange(port, encode(Kind.HELLO, {"token": "nope"}))
    kind = Kind(HEADER.unpack(raw[: HEADER.size])[2])
    assert kind == Kind.ERROR and b"box_drop" not in raw  # an error, and not a byte of the model
    assert watcher.still_receiving()
