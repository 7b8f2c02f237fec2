"""`mjpod view` and StreamClient against a hostile or broken server (real sockets, real processes).

Every attack ends in a clear error or a bounded cost: no hang, no flood of frames, no unbounded
memory or disk, no traceback, and no text from the server interpreted by the terminal.
"""

import contextlib
import hashlib
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

import mjpod.stream as mjstream
from mjpod.stream.protocol import Kind, encode
from tests.interrupted import writing
from tests.mp4 import decode
from tests.stream.helpers import Mjpod, wait_for
from tests.stream.hostile import (
    HostileServer,
    box_model,
    header_only,
    memory_kib,
    state,
    zeros_zlib,
)

MIB = 1024 * 1024


def view(port: int, out, *extra: str) -> Mjpod:
    # fmt: off
    return Mjpod("view", "--once", "--port", str(port), "--record", str(out), "--size", "64x48", "--fps", "10",
                 "--retry-delay", "0.2", *extra)
    # fmt: on


def exit_code(proc: Mjpod, timeout: float = 60) -> int:
    """The exit code once the viewer ends by itself; a viewer still running fails the test."""
    try:
        code = proc.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.stop()
        raise AssertionError(f"the viewer still runs after {timeout} s:\n{proc.output}") from None
    proc.stop()
    return code


def peak_while_running(proc: Mjpod, timeout: float = 60) -> int:
    """The process's peak resident memory (KiB), read until it exits."""
    peak, deadline = 0, time.monotonic() + timeout
    while proc.proc.poll() is None and time.monotonic() < deadline:
        try:
            peak = memory_kib(proc.proc.pid)
        except (OSError, AssertionError):  # exiting
            break
        time.sleep(0.02)
    return peak


@pytest.mark.parametrize("absurd", ["1e17", "Infinity", "NaN"])
def test_absurd_state_times_end_the_viewer_with_one_frame_written(absurd, tmp_path):
    """Item 6: a time of 1e17 or Infinity made `view --record` write frames without end; NaN stopped
    every later frame. Each is a protocol error now: the viewer ends, keeping the frame it had."""
    out = tmp_path / "v.mp4"
    with (
        HostileServer(box_model(), state("0.0", 0), state(absurd, 1)) as server,
        view(server.port, out) as proc,
    ):
        assert exit_code(proc) == 1, proc.output
    assert "broke the stream protocol" in proc.output and "Traceback" not in proc.output
    frames, _ = decode(out)
    assert len(frames) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_view_with_a_playable_file_while_the_server_is_silent(signum, tmp_path):
    """Item 6: SIGTERM could not stop a viewer waiting on a silent server; now Ctrl-C and SIGTERM end it
    between reads, and the MP4 is finished."""
    out = tmp_path / "v.mp4"
    states = [state(f"{k / 10}", k) for k in range(6)]
    with HostileServer(box_model(), *states) as server, view(server.port, out) as proc:
        proc.wait_line("connected to")
        # the states are drawn: frames reach the file (the server then says nothing more)
        wait_for(lambda: writing(out), 60, "frames in the file")
        proc.proc.send_signal(signum)
        assert exit_code(proc, timeout=15) == 0, proc.output
    frames, _ = decode(out)
    assert len(frames) and "wrote " in proc.output


@contextlib.contextmanager
def measured_view(reply: bytes, out, field: str) -> Iterator[tuple[Mjpod, list[int]]]:
    """`mjpod view` on a hostile server sending `reply`; the list gets the viewer's memory (KiB, `field`
    of /proc/PID/status) at the moment its hello arrived, before the reply."""
    viewers: list[Mjpod] = []
    before: list[int] = []

    def measure() -> None:
        before.append(memory_kib(viewers[0].proc.pid, field))

    with HostileServer(reply, on_hello=measure) as server, view(server.port, out) as proc:
        viewers.append(proc)
        yield proc, before


def test_a_compression_bomb_is_refused_before_it_costs_memory(tmp_path):
    """Item 7: a 256 KB MODEL that inflates to 256 MiB took its full size (and more) before the digest
    was checked. The ratio bound refuses it from its header, at no cost."""
    size = 256 * MIB
    bomb = box_model({"mjb": zeros_zlib(size)}, raw_size=size, digest=hashlib.sha256(bytes(size)).hexdigest())
    with measured_view(bomb, tmp_path / "v.mp4", "VmHWM") as (proc, before):
        peak = peak_while_running(proc, timeout=30)
        assert (peak - before[0]) * 1024 < 64 * MIB, f"the viewer grew by {(peak - before[0]) // 1024} MiB"
        assert exit_code(proc) == 1, proc.output
    assert "announces 268435456 bytes" in proc.output and "at most" in proc.output, proc.output


def test_an_announced_huge_model_costs_nothing_until_its_bytes_come(tmp_path):
    """Item 7: a header announcing 500 MiB allocated it before a byte arrived; now the buffer grows
    with what arrives, and SIGTERM still ends the viewer while it waits for the rest."""
    reply = header_only(Kind.MODEL, 500 * MIB) + bytes(1024)
    with measured_view(reply, tmp_path / "v.mp4", "VmRSS") as (proc, before):
        deadline = time.monotonic() + 60
        while not before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # the header and a few bytes have arrived; the server says nothing more
        grown = memory_kib(proc.proc.pid, "VmRSS") - before[0]
        proc.proc.send_signal(signal.SIGTERM)
        assert exit_code(proc, timeout=15) == 0, proc.output
    assert grown * 1024 < 32 * MIB, f"the viewer grew by {grown // 1024} MiB waiting for the model"


def test_files_a_client_did_not_ask_for_are_never_inflated_or_written(tmp_path, monkeypatch):
    """Item 7: a server sending files to a StreamClient (which asks for none) made it inflate them and
    write them to /tmp; now they are ignored. A client that asked gets them only within the bound."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    files = [{"name": "big.stl", "size": 64 * MIB}]
    model = box_model({"files": zeros_zlib(64 * MIB)}, files=files)
    with HostileServer(model) as server, mjstream.StreamClient.connect("127.0.0.1", server.port) as client:
        assert client.info.assets == {}
    assert not list(tmp_path.glob("mjstream-model-*"))

    bomb = box_model({"files": zeros_zlib(256 * MIB)}, files=[{"name": "big.stl", "size": 256 * MIB}])
    with (
        HostileServer(bomb) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
        pytest.raises(mjstream.ProtocolError, match="MODEL files announces 268435456 bytes"),
    ):
        mjstream.recv_packet(sock, files=True)
    assert not list(tmp_path.glob("mjstream-model-*"))


def test_server_text_is_printed_as_plain_text(tmp_path):
    """Item 8: an ERROR holding Rich markup crashed the viewer with a traceback, and escape codes
    reached the terminal. Now it is one plain error line."""
    message = "[/bold] [link=https://evil.example]click[/link] \x1b[2J\x1b]0;owned\x07 done"
    with (
        HostileServer(encode(Kind.ERROR, {"message": message})) as server,
        view(server.port, tmp_path / "v.mp4") as proc,
    ):
        assert exit_code(proc) == 1, proc.output
    assert "server refused the connection: [/bold] [link=https://evil.example]click[/link]" in proc.output
    assert "\x1b" not in proc.output and "\x07" not in proc.output and "Traceback" not in proc.output


def test_view_once_ends_on_a_server_that_breaks_the_protocol(tmp_path):
    """Item 8: `--once` retried forever on a protocol error and called it "cannot connect"."""
    with (
        HostileServer(b"HTTP/1.1 200 OK\r\n\r\nnot mjstream") as server,
        view(server.port, tmp_path / "v.mp4") as proc,
    ):
        assert exit_code(proc, timeout=30) == 1, proc.output
    assert "broke the stream protocol: not an mjstream message" in proc.output
    assert "cannot connect" not in proc.output


def test_the_last_state_is_written_when_close_arrives_in_the_same_read(tmp_path):
    """Item 8: STATE and CLOSE read together lost the state (0 frames, no file). Item 5: the model's
    name is logged with its control characters escaped, so it cannot forge a line or reach the terminal."""
    out = tmp_path / "v.mp4"
    name = "evil\n2099-01-01 mjpod.stream: forged\x1b[31m"
    reply = box_model(name=name) + state("0.0", 0) + encode(Kind.CLOSE, {"reason": "bye\x1b[2J"})
    with HostileServer(reply) as server, view(server.port, out) as proc:
        assert exit_code(proc) == 0, proc.output
    frames, _ = decode(out)
    assert len(frames) == 1
    assert "\x1b" not in proc.output
    assert not any(line.startswith("2099-01-01") for line in proc.lines), proc.output
    assert "evil\\n2099-01-01 mjpod.stream: forged\\x1b[31m" in proc.output
