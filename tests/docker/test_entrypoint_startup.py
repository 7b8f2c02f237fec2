"""docker stop while the entrypoint is still starting (keys, host keys, sshd): it ends cleanly, and no
sshd is left behind. Debian's sshd on a loopback port, as in test_entrypoint.py."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.docker.appliance import Appliance, alive, keygen, make_root

pytestmark = pytest.mark.skipif(
    not (shutil.which("ssh") and Path("/usr/sbin/sshd").exists() and os.geteuid() == 0),
    reason="needs root and OpenSSH (docker/provision.sh installs openssh-server and openssh-client)",
)


def test_sigterm_during_startup_ends_it_cleanly():
    """The SIGTERM trap was set only once the entrypoint stayed up, so a docker stop during start-up
    (seen as a flaky test under load) killed the script outright (status -15), with sshd possibly
    about to start. Now the trap is set first."""
    root = make_root()
    try:
        app = Appliance(root, PUBLIC_KEY=keygen(root / "good")).start()
        app.wait_for_log("new key(s)")  # host keys (RSA takes a while) and sshd are still to come
        code = app.stop(signal.SIGTERM)
        sshd = app.sshd_pid()
        assert code == 0, app.log
        assert sshd is None or not alive(sshd)
    finally:
        shutil.rmtree(root, ignore_errors=True)
