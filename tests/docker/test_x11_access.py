"""scripts/x11-access.sh, make gui's key to the X display: the cookie the user's Xauthority holds for
DISPLAY, copied for any host (the container's hostname is not this one) into a file only the user
reads; a host rule only where the server has no cookie. tests/image/test_gui.py draws through it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.xserver import COOKIE, FAMILY_WILD

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.display


def access(out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / "x11-access.sh"), str(out)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_displays_cookie_is_copied_for_any_host(x_display, tmp_path):
    out = tmp_path / "gui.xauth"
    out.write_text("an older copy")
    result = access(out, **x_display.env)
    assert result.returncode == 0 and not result.stderr, result.stderr
    assert oct(out.stat().st_mode)[-3:] == "600"
    data = out.read_bytes()
    number = str(x_display.number).encode()
    want = b"".join(len(f).to_bytes(2, "big") + f for f in (number, COOKIE, x_display.cookie))
    assert int.from_bytes(data[:2], "big") == FAMILY_WILD and data.endswith(want), data


def test_a_display_without_a_cookie_gets_the_narrow_host_rule(x_display, tmp_path):
    empty = tmp_path / "Xauthority"
    empty.write_bytes(b"")
    result = access(tmp_path / "gui.xauth", DISPLAY=x_display.display, XAUTHORITY=str(empty))
    assert result.returncode == 0, result.stderr
    assert f"no X11 cookie for DISPLAY={x_display.display}" in result.stderr
    assert "xhost +SI:localuser:root" in result.stderr and "xhost + " not in result.stderr
    assert (tmp_path / "gui.xauth").read_bytes() == b""
