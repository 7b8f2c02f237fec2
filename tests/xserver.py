"""A private X server for the window tests: Debian's Xvfb on a display number it picks itself, with a
cookie (no client gets in without it), and screenshots read from its own framebuffer file.

Xvfb chooses a free display with -displayfd (it takes the /tmp/.X<n>-lock file atomically, so test
runs side by side never share one) and writes the number to a pipe once it accepts clients. Its
-fbdir option keeps the screen in a memory-mapped XWD file: a screenshot is a read of that file, so
no screenshot tool is needed (xwd, ImageMagick, python-xlib) and it sees exactly what the server holds.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # mujoco reads MUJOCO_GL when imported: tests/conftest.py sets it first
    import mujoco

COOKIE = b"MIT-MAGIC-COOKIE-1"
FAMILY_LOCAL, FAMILY_WILD = 256, 0xFFFF  # Xauthority families: this host's sockets, any host
SOCKETS = Path("/tmp/.X11-unix")  # where every X server on a machine listens (and a container mounts)


def missing() -> str | None:
    """Why the window tests cannot run here, or None."""
    absent = [tool for tool in ("Xvfb", "xauth") if not shutil.which(tool)]
    if absent:
        return (
            f"needs {' and '.join(absent)} for a virtual X display: docker/provision.sh test installs "
            "them (apt-get install xvfb xauth)"
        )
    return None


def _entry(family: int, address: bytes, number: bytes, cookie: bytes) -> bytes:
    """One Xauthority record: the family, then four length-prefixed fields, all big-endian."""
    fields = (address, number, COOKIE, cookie)
    return struct.pack(">H", family) + b"".join(struct.pack(">H", len(f)) + f for f in fields)


class XServer:
    """Xvfb on a free display, 24-bit; `env` is what a client needs to draw on it. The screen is big
    enough for MuJoCo's viewer (a window of two thirds of it) to show the scene between its panels."""

    def __init__(self, width: int = 1920, height: int = 1080) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mjpod-x-"))
        self.cookie = secrets.token_bytes(16)
        server_auth = self.dir / "server.xauth"  # any display number: it exists before the number does
        server_auth.write_bytes(_entry(FAMILY_WILD, b"", b"", self.cookie))
        self.log = self.dir / "Xvfb.log"
        read, write = os.pipe()
        with self.log.open("wb") as log:
            # fmt: off
            self.proc = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                 "-fbdir", str(self.dir), "-auth", str(server_auth), "-nolisten", "tcp", "-noreset"],
                pass_fds=(write,), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
            # fmt: on
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()  # written once the server accepts clients; "" if it died
        if not number.isdigit():
            said = self.log.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"Xvfb did not start: {said}")
        self.number = int(number)
        self.display = f":{number}"
        # the client side as a desktop session has it: a cookie for this host's display N
        self.xauthority = self.dir / "Xauthority"
        host = socket.gethostname().encode()
        self.xauthority.write_bytes(_entry(FAMILY_LOCAL, host, number.encode(), self.cookie))
        self.env = {"DISPLAY": self.display, "XAUTHORITY": str(self.xauthority)}

    def screenshot(self) -> np.ndarray:
        """The whole screen now, (height, width, 3) uint8 RGB."""
        return read_xwd(self.dir / "Xvfb_screen0")

    def accepts(self, cookie: bytes | None) -> bool:
        """Whether the server lets in a client presenting `cookie` (None: no credentials at all),
        asked in the X protocol's own connection setup on the server's socket."""
        name, data = (COOKIE, cookie) if cookie is not None else (b"", b"")
        setup = struct.pack("<cxHHHHxx", b"l", 11, 0, len(name), len(data)) + _padded(name) + _padded(data)
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(SOCKETS / f"X{self.number}"))
            s.sendall(setup)
            return s.recv(1) == b"\x01"  # 0: failed, 1: success, 2: authenticate further

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _padded(field: bytes) -> bytes:
    return field + bytes(-len(field) % 4)  # the X protocol's fields end on 4-byte boundaries


def read_xwd(path: Path) -> np.ndarray:
    """An XWD file of a 24-bit TrueColor screen (32 bits a pixel) as RGB."""
    data = path.read_bytes()
    order = ">" if struct.unpack(">I", data[4:8])[0] == 7 else "<"  # XWD version 7, either byte order
    head = struct.unpack(order + "25I", data[:100])
    header_size, width, height, byte_order = head[0], head[4], head[5], head[7]
    bits_per_pixel, bytes_per_line, red_mask, ncolors = head[11], head[12], head[14], head[19]
    if bits_per_pixel != 32 or red_mask != 0xFF0000:
        raise ValueError(
            f"{path}: {bits_per_pixel} bits a pixel, red mask {red_mask:#x}: not 24-bit TrueColor"
        )
    offset = header_size + ncolors * 12  # the header, the window name, then the colormap
    rows = np.frombuffer(data, np.uint8, count=height * bytes_per_line, offset=offset)
    pixels = rows.reshape(height, bytes_per_line)[:, : width * 4].reshape(height, width, 4)
    return pixels[..., [2, 1, 0]] if byte_order == 0 else pixels[..., [1, 2, 3]]  # BGRX or XRGB


# ---- what a test reads from the screen --------------------------------------------------------------
MIN_PIXELS = 100  # of a colour, for it to count as drawn (the pendulum's arms take thousands)


def model_colours(mjm: mujoco.MjModel) -> list[tuple[float, float, float]]:
    """The colours a viewer of `mjm` must show: those of its visible geoms (their material's when they
    have one), leaving out planes and greys, which look like the viewer's own grey panels."""
    import mujoco

    colours = set()
    for i in range(mjm.ngeom):
        rgba = mjm.mat_rgba[mjm.geom_matid[i]] if mjm.geom_matid[i] >= 0 else mjm.geom_rgba[i]
        hidden = mjm.geom_group[i] > 2 or rgba[3] == 0  # the viewer shows groups 0-2
        if hidden or mjm.geom_type[i] == mujoco.mjtGeom.mjGEOM_PLANE or np.ptp(rgba[:3]) < 0.2:
            continue
        colours.add(tuple(round(float(c), 3) for c in rgba[:3]))
    return sorted(colours)


def painted(shot: np.ndarray, rgb: tuple[float, float, float], tolerance: float = 0.06) -> np.ndarray:
    """Where `shot` shows `rgb` lit or shaded: the same proportions of red, green and blue (lighting
    scales all three), not too dark to tell."""
    pixels = shot.astype(np.float32)
    total = pixels.sum(axis=-1)
    want = np.asarray(rgb, np.float32) / sum(rgb)
    return (np.abs(pixels / np.maximum(total, 1)[..., None] - want).max(axis=-1) < tolerance) & (total > 60)


def scene_mask(shot: np.ndarray, colours: list) -> np.ndarray:
    return np.logical_or.reduce([painted(shot, c) for c in colours])


def wait_for_scene(x: XServer, colours: list, alive: Callable[[], None], timeout: float = 600) -> np.ndarray:
    """The first screenshot showing every one of `colours`; `alive` fails the test when the window's
    process has ended. The timeout only bounds a failure: the window may take as long as it needs."""
    deadline = time.monotonic() + timeout
    while True:
        alive()
        shot = x.screenshot()
        counts = {c: int(painted(shot, c).sum()) for c in colours}
        if min(counts.values()) >= MIN_PIXELS:
            return shot
        if time.monotonic() > deadline:
            raise AssertionError(f"no window drew the scene in {timeout} s: pixels of each colour {counts}")
        time.sleep(0.2)


def wait_for_motion(
    x: XServer, colours: list, before: np.ndarray, alive: Callable[[], None], timeout: float = 120
) -> np.ndarray:
    """The first screenshot whose scene (the pixels of `colours`) differs from `before`'s."""
    deadline = time.monotonic() + timeout
    while True:
        alive()
        shot = x.screenshot()
        moved = scene_changed(before, shot, colours)
        if moved >= MIN_PIXELS:
            return shot
        if time.monotonic() > deadline:
            raise AssertionError(f"the scene did not move in {timeout} s ({moved} pixels changed)")
        time.sleep(0.2)


def wait_for_rest(x: XServer, colours: list, alive: Callable[[], None], timeout: float = 120) -> np.ndarray:
    """The first screenshot whose scene is the same half a second later: the picture has come to rest
    (a window still drawing its last state only takes longer)."""
    deadline = time.monotonic() + timeout
    shot = x.screenshot()
    while True:
        alive()
        time.sleep(0.5)
        again = x.screenshot()
        if scene_changed(shot, again, colours) < MIN_PIXELS:
            return again
        if time.monotonic() > deadline:
            raise AssertionError(f"the scene did not come to rest in {timeout} s")
        shot = again


def scene_changed(a: np.ndarray, b: np.ndarray, colours: list) -> int:
    """How many pixels of the scene differ between two screenshots."""
    return int((scene_mask(a, colours) ^ scene_mask(b, colours)).sum())
