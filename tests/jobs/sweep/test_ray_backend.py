"""Joining a Ray cluster that is not there: the address is tried before Ray is, so the sweep ends within
seconds naming the address and the fix (Ray itself retried without end, probing for other addresses
of this host meanwhile). Run in a network namespace holding only loopback, so that nothing the
command tries can leave this machine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.jobs.sweep import specs

LOOPBACK_ONLY = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def loopback_only_available() -> bool:
    try:
        return subprocess.run([*LOOPBACK_ONLY, "true"], capture_output=True, timeout=30).returncode == 0
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not loopback_only_available(), reason="needs root and unshare (util-linux)")
@pytest.mark.parametrize("dry", [True, False])
def test_an_address_where_nothing_answers_fails_at_once_naming_it_and_the_fix(tmp_path, dry):
    """High 6: `sweep --address 127.0.0.1:1` never ended."""
    spec = specs.write(tmp_path, specs.GAINS)
    argv = [sys.executable, "-m", "mjpod", "sweep", str(spec), "--address", "127.0.0.1:1"]
    argv += ["--dry-run"] if dry else ["--out", str(tmp_path / "out")]
    env = {**os.environ, "RAY_AUTH_TOKEN": "0" * 64}  # a token, so that Ray would go on to connect
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run([*LOOPBACK_ONLY, *argv], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr[-3000:]
    message = " ".join(result.stderr.split())
    assert (
        "nothing answers at 127.0.0.1:1 (Connection refused): start the cluster's head there first" in message
    )
    assert "fix --address / RAY_ADDRESS" in message
    assert not (tmp_path / "out").exists()
