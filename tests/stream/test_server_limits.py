"""A real `mjpod serve --web` against peers that hold connections, trickle, nest or forge: every wait
has a deadline, threads stay bounded, and nothing a peer sends reaches a log line or a browser raw.
(The browser view's gate on its own: test_web_gate.py.)"""

import http.client
import os
import socket
import threading
import time

import pytest

import mjpod.stream as mjstream
from mjpod.stream.protocol import MAX_MODEL, Kind, encode, read_message
from tests.stream.helpers import Mjpod, free_port
from tests.stream.hostile import raw_message

STREAM_PENDING = 32  # StreamServer's max_pending


@pytest.fixture(scope="module")
def served():
    port, web = free_port(), free_port()
    # fmt: off
    proc = Mjpod("serve", "--model", "box_drop", "--port", str(port), "--web", str(web), "--hz", "30")
    # fmt: on
    proc.wait_line("browser view on", timeout=180)
    yield proc, port, web
    assert proc.stop() == 0, proc.output


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def still_serving(port: int) -> None:
    with mjstream.StreamClient.connect("127.0.0.1", port) as client:
        assert client.info.name == "box_drop" and client.next_state() is not None


def test_threads_stay_bounded_however_many_connections_wait(served):
    """Item 2: each connection held a thread, without limit, on both ports. Now hellos being read are
    capped (the rest wait in the backlog), and the browser view's connections share one event loop."""
    proc, port, web = served
    before = threads(proc.proc.pid)
    browsers = [socket.create_connection(("127.0.0.1", web), timeout=10) for _ in range(100)]
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(STREAM_PENDING + 13)]
    try:
        time.sleep(1.0)  # time for a thread-per-connection server to show it (an upper bound: never too soon)
        grown = threads(proc.proc.pid) - before
    finally:
        for s in held + browsers:
            s.close()
    assert grown <= STREAM_PENDING + 2, f"{grown} threads for {len(held) + len(browsers)} connections"
    still_serving(port)


def seconds_until_closed(port: int, data: bytes, every: float, give_up: float) -> float:
    """Send `data` one byte every `every` seconds (over and over) until the server closes."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        start = time.monotonic()
        while time.monotonic() - start < give_up:
            for byte in data:
                try:
                    s.sendall(bytes([byte]))
                    s.settimeout(every)
                    if s.recv(4096) == b"":
                        return time.monotonic() - start
                except TimeoutError:
                    continue
                except OSError:  # reset: closed with our bytes unread
                    return time.monotonic() - start
    return float("inf")


def test_a_trickled_hello_or_request_is_cut_at_its_deadline(served):
    """Item 2: the 5 s timeout applied to each read, so one byte every 0.4 s held a connection forever
    (and its thread). Item 5: the drop said 30 s. Now the whole hello has 5 s, a browser request 10 s."""
    proc, port, web = served
    hello = encode(Kind.HELLO, {"client": "slow" * 10})
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: 1\r\n" * 10
    took: dict[str, float] = {}
    runs = [
        threading.Thread(target=lambda: took.update(stream=seconds_until_closed(port, hello, 0.4, 60))),
        threading.Thread(target=lambda: took.update(web=seconds_until_closed(web, request, 0.4, 60))),
    ]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    # Cut at its deadline: not before it, and far sooner than the trickle would end (never) or a 30 s
    # deadline would cut it; the upper bounds leave the server seconds of slack, not fractions.
    assert 4.9 < took["stream"] < 15 and 9.9 < took["web"] < 20, took
    proc.wait_line("no complete hello within 5 s")
    assert not any("no progress for 30 s" in line for line in proc.lines), proc.output


def test_a_deeply_nested_hello_is_dropped_with_a_reason(served):
    """Item 5: JSON nested 2000 deep in a HELLO escaped as an uncaught RecursionError."""
    proc, port, _ = served
    nested = raw_message(Kind.HELLO, '{"client":' + "[" * 2000 + "]" * 2000 + "}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(nested)
        assert s.recv(4096) == b""
    proc.wait_line("HELLO metadata is nested too deeply")
    assert "Traceback" not in proc.output and "RecursionError" not in proc.output
    still_serving(port)


def test_a_client_name_cannot_forge_log_lines_or_reach_the_terminal(served):
    """Item 5: names were logged raw: a newline forged a line, ANSI escapes reached the terminal."""
    proc, port, _ = served
    name = "x\n2099-01-01 00:00:00 mjpod.stream: client 6.6.6.6:66 connected (forged)\x1b[2J"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(encode(Kind.HELLO, {"client": name}))
        assert read_message(s, MAX_MODEL).kind == Kind.MODEL
    proc.wait_line("2099-01-01 00:00:00 mjpod.stream")
    assert not any(line.startswith("2099-01-01") for line in proc.lines), proc.output
    assert "\x1b" not in proc.output


def status_for_host(web: int, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", web, timeout=30)
    try:
        conn.putrequest("GET", "/", skip_host=True)
        conn.putheader("Host", host)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_without_a_token_the_browser_view_answers_only_to_addresses(served):
    """Item 5: no Host check, so a page whose DNS name points at 127.0.0.1 could read the view."""
    _, _, web = served
    assert status_for_host(web, f"rebind.example:{web}") == 403
    assert status_for_host(web, f"127.0.0.1:{web}") == 200
    assert status_for_host(web, f"localhost:{web}") == 200
    assert status_for_host(web, f"[::1]:{web}") == 200
