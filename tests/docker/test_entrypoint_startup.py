"""docker stop while the entrypoint is still starting (keys, host keys, sshd): it ends cleanly, and no
sshd is left behind. Debian's sshd on a loopback port, as in test_entrypoint.py."""

from __future__ import annotations

import signal

from tests.docker.appliance import Appliance, alive, keygen, needs_sshd

pytestmark = needs_sshd


def test_sigterm_during_startup_ends_it_cleanly(sandbox):
    """The SIGTERM trap was set only once the entrypoint stayed up, so a docker stop during start-up
    (seen as a flaky test under load) killed the script outright (status -15), with sshd possibly
    about to start. Now the trap is set first."""
    app = Appliance(sandbox, PUBLIC_KEY=keygen(sandbox / "good")).start()
    app.wait_for_log("new key(s)")  # host keys (RSA takes a while) and sshd are still to come
    code = app.stop(signal.SIGTERM)
    sshd = app.sshd_pid()
    assert code == 0, app.log
    assert sshd is None or not alive(sshd)


def test_a_jupyter_token_without_jupyterlab_says_so_and_keeps_the_token_out_of_the_log(sandbox):
    """The venv has Jupyter's kernel but not JupyterLab (the image's `lab` extra): the entrypoint names
    what is missing instead of failing, and the token appears nowhere in its output."""
    token = "never-in-the-log-4f2a"
    app = Appliance(sandbox, JUPYTER_TOKEN=token, MJPOD_WORKSPACE=str(sandbox / "workspace")).start()
    app.wait_for_log("JupyterLab NOT started: no `jupyter lab` in this environment (pip install jupyterlab")
    assert app.stop(signal.SIGTERM) == 0, app.log
    assert token not in app.log
    assert not (sandbox / "workspace" / "examples").exists()  # nothing copied for a server that did not start
