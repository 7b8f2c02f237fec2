"""StreamServer over real loopback sockets: exact states, many clients, late joiners, stalled clients."""

import contextlib
import socket
import threading
import time

import mujoco
import numpy as np
import pytest

import mjpod.stream as mjstream
from mjpod import models
from mjpod.stream.feed import StateFeed
from mjpod.stream.protocol import Kind, encode
from tests.stream.helpers import free_port, wait_for


@pytest.fixture
def sim():
    lm = models.load("box_drop")
    return lm.model, mujoco.MjData(lm.model)


@pytest.fixture
def server():
    srv = mjstream.StreamServer(model_path="box_drop", port=free_port(), hz=0)
    srv.start(wait=False)
    yield srv
    srv.stop_connection()


def connect(srv: mjstream.StreamServer) -> socket.socket:
    return socket.create_connection(srv.address, timeout=30)


def newest_state(sock: socket.socket, until_seq: int) -> dict:
    while True:
        packet = mjstream.recv_packet(sock)
        assert packet["kind"] == "state", packet
        if packet["seq"] >= until_seq:
            return packet


def test_seed_defaults_and_disabled_port(monkeypatch):
    monkeypatch.delenv("MJSTREAM_HOST", raising=False)
    monkeypatch.delenv("MJSTREAM_PORT", raising=False)
    srv = mjstream.StreamServer(model_path="box_drop")
    assert (srv.host, srv.port, srv.enabled) == ("127.0.0.1", 7000, True)
    monkeypatch.setenv("MJSTREAM_PORT", str(port := free_port()))
    with contextlib.closing(mjstream.StreamServer(model_path="box_drop")) as bound:
        bound.start(wait=False)
        assert bound._listener.getsockname() == ("127.0.0.1", port)  # loopback only, unless told
    monkeypatch.setenv("MJSTREAM_PORT", "0")
    off = mjstream.StreamServer(model_path="box_drop")
    off.start()  # as in the seed: a disabled server accepts every call and does nothing
    assert not off.enabled and off.send_state(mujoco.MjData(models.load("box_drop").model)) is None
    assert not off.connected


def test_round_trip_is_exact_with_the_seed_client_code(server, sim):
    """A seed-style client (one import changed) sees the server's qpos and qvel bit for bit."""
    mjm, mjd = sim
    with connect(server) as sock:
        first = mjstream.recv_packet(sock)
        assert first["kind"] == "xml" and first["name"] == "box_drop"
        local = mujoco.MjSpec.from_string(first["xml"]).compile()  # the seed's way still works
        view = mujoco.MjData(local)
        wait_for(lambda: server.connected, 10, "the server to count the client")
        for _ in range(123):
            mujoco.mj_step(mjm, mjd)
        seq = server.send_state(mjd)
        packet = newest_state(sock, seq)
        mjstream.apply_mjdata(view, packet["state"])
        assert view.time == mjd.time
        assert np.array_equal(view.qpos, mjd.qpos) and np.array_equal(view.qvel, mjd.qvel)
        assert np.array_equal(view.xfrc_applied, mjd.xfrc_applied)
        # the seed's send_state(mjd, target_pos, target_quat, target_body_id) still works
        assert server.send_state(mjd, np.zeros(3), np.array([1.0, 0, 0, 0]), 1) is not None


def test_three_clients_and_a_late_joiner(server, sim):
    mjm, mjd = sim
    socks = [connect(server) for _ in range(3)]
    try:
        for s in socks:
            assert mjstream.recv_packet(s)["kind"] == "xml"
        wait_for(lambda: server.clients == 3, 10, "three clients")
        for _ in range(200):
            mujoco.mj_step(mjm, mjd)
            last = server.send_state(mjd)
        for s in socks:
            assert newest_state(s, last)["state"]["time"] == mjd.time
        with connect(server) as late:  # joins after the run: the model, then the current state at once
            assert mjstream.recv_packet(late)["kind"] == "xml"
            packet = mjstream.recv_packet(late)
            assert packet["kind"] == "state" and packet["seq"] == last
            assert np.array_equal(packet["state"]["qpos"], mjd.qpos)
    finally:
        for s in socks:
            s.close()


def test_a_stalled_client_never_holds_up_the_simulation(server, sim):
    """One client says hello and never reads; thousands of steps still finish and another client follows."""
    mjm, mjd = sim
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(server.address)
    stalled.sendall(encode(Kind.HELLO, {"client": "stalled"}))
    reader = connect(server)
    assert mjstream.recv_packet(reader)["kind"] == "xml"
    wait_for(lambda: server.clients == 2, 10, "both clients")
    received = []

    def read() -> None:
        while (packet := mjstream.recv_packet(reader))["kind"] == "state":
            received.append(packet["seq"])

    t = threading.Thread(target=read, daemon=True)
    t.start()
    run = threading.Thread(
        target=lambda: [(mujoco.mj_step(mjm, mjd), server.send_state(mjd)) for _ in range(5000)], daemon=True
    )
    run.start()
    run.join(timeout=120)
    assert not run.is_alive(), "the simulation loop blocked on the stalled client"
    last = server.send_state(mjd, force=True)
    wait_for(lambda: received and received[-1] == last, 30, "the reading client to get the final state")
    assert len(received) > 1 and received == sorted(received)  # newest-first, never out of order
    assert server.clients == 2  # the stalled one is still there: stalling costs only itself
    server.stop_connection()
    t.join(timeout=30)
    assert not t.is_alive(), "the reading client never got the close"
    stalled.close()
    reader.close()


def test_apply_mjdata_refuses_a_state_of_another_model(sim):
    _, mjd = sim
    other = mujoco.MjData(models.load("pendulum").model)
    state = {"time": 1.0, "qpos": np.array(mjd.qpos)}
    with pytest.raises(ValueError, match="state qpos has shape"):
        mjstream.apply_mjdata(other, state)


def test_the_rate_cap_publishes_at_most_hz_states_a_second(sim):
    """--hz: however often send_state is called, no more than hz states a second go out."""
    mjm, mjd = sim
    feed = StateFeed(hz=20)
    start, published = time.perf_counter(), 0
    while time.perf_counter() - start < 0.5:
        mujoco.mj_step(mjm, mjd)
        published += feed.publish(mjd) is not None
    elapsed = time.perf_counter() - start  # after the last publish: a bound read before it could be short
    assert 2 <= published <= elapsed * 20 + 1
    assert feed.publish(mjd, force=True) is not None  # the final state always goes


def test_with_block_streams_without_waiting_for_a_viewer(sim):
    """Only the seed's explicit start() holds for a viewer; `with StreamServer(...)` returns at once."""
    _, mjd = sim
    entered = threading.Event()
    kinds: list[str] = []

    def serve():
        with mjstream.StreamServer(model_path="box_drop", port=free_port(), hz=0) as srv:
            entered.set()
            srv.send_state(mjd)
            with connect(srv) as sock:
                kinds.append(mjstream.recv_packet(sock)["kind"])

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    assert entered.wait(timeout=30), "the with block waited for a viewer"
    worker.join(timeout=30)
    assert kinds == ["xml"]  # box_drop's MJCF needs no files: it travels as XML beside the MJB
