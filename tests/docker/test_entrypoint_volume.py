"""SSH host keys on a network volume (Runpod sets RUNPOD_VOLUME_ID when one is at /workspace): the next
container on the volume answers with the same identity, and keys are kept there only where they stay
private. docker/entrypoint.sh for real, with Debian's sshd on a loopback port."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.docker.appliance import Appliance, keygen, make_root, needs_sshd

pytestmark = needs_sshd


@pytest.fixture
def sandbox():
    root = make_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def on_volume(root: Path, workspace: Path, pub: str, port: int | None = None) -> Appliance:
    """One container (its own state under `root`) with `workspace` as a Runpod network volume."""
    root.mkdir(mode=0o755)
    app = Appliance(
        root,
        PUBLIC_KEY=pub,
        RUNPOD_VOLUME_ID="vol0123abcd",
        MJPOD_WORKSPACE=str(workspace),
        MJPOD_FALLBACK_KEY_DIR=str(root / "etc-ssh"),  # the container's own /etc/ssh
    )
    del app.env["MJPOD_HOST_KEY_DIR"]  # as in a pod: the entrypoint picks the folder
    if port:
        app.port = port
        app.env["MJPOD_SSH_PORT"] = str(port)
    return app


def known_hosts(folder: Path, port: int, path: Path) -> Path:
    lines = [
        f"[127.0.0.1]:{port} {' '.join(k.read_text().split()[:2])}" for k in sorted(folder.glob("*.pub"))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_next_container_on_the_volume_has_the_same_ssh_identity(sandbox):
    pub = keygen(sandbox / "k")
    workspace = sandbox / "volume"
    keys = workspace / ".ssh" / "host_keys"
    first = on_volume(sandbox / "one", workspace, pub).start()
    first.wait_for_sshd()
    assert first.stop() == 0
    assert oct(keys.stat().st_mode)[-3:] == "700"
    assert sorted(p.name for p in keys.glob("*_key")) == [
        f"ssh_host_{t}_key" for t in ("ecdsa", "ed25519", "rsa")
    ]
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in keys.glob("*_key"))
    assert not (sandbox / "one" / "etc-ssh").exists()
    known = known_hosts(keys, first.port, sandbox / "known_hosts")

    second = on_volume(sandbox / "two", workspace, pub, port=first.port).start()  # a new pod
    try:
        second.wait_for_sshd()
        assert "generated host key" not in second.log
        result = second.ssh(sandbox / "k", "true", known_hosts=known)  # strict: the same host key
        assert result.returncode == 0, result.stderr
    finally:
        second.stop()


def plant_link(folder: Path, sandbox: Path) -> None:
    elsewhere = sandbox / "elsewhere"
    elsewhere.mkdir()
    folder.parent.mkdir(parents=True)
    folder.symlink_to(elsewhere)


def foreign_owner(folder: Path, sandbox: Path) -> None:
    folder.mkdir(parents=True)
    os.chown(folder, 65534, 65534)


def linked_key(folder: Path, sandbox: Path) -> None:
    folder.mkdir(parents=True, mode=0o700)
    (folder / "ssh_host_ed25519_key").symlink_to(sandbox / "k")  # the user's own private key


@pytest.mark.parametrize("plant", [plant_link, foreign_owner, linked_key])
def test_host_keys_stay_in_the_container_where_the_volume_cannot_keep_them_private(sandbox, plant):
    """A link planted on the volume, a folder of another owner, a key that is a link: the keys are
    made in the container's own folder, with a warning, and SSH works."""
    pub = keygen(sandbox / "k")
    workspace = sandbox / "volume"
    folder = workspace / ".ssh" / "host_keys"
    plant(folder, sandbox)
    app = on_volume(sandbox / "one", workspace, pub).start()
    try:
        app.wait_for_sshd()
        assert "host keys cannot be kept private in" in app.log
        own = sandbox / "one" / "etc-ssh"
        assert len(list(own.glob("ssh_host_*_key"))) == 3
        result = app.ssh(sandbox / "k", "true", known_hosts=known_hosts(own, app.port, sandbox / "known"))
        assert result.returncode == 0, result.stderr
    finally:
        app.stop()
    assert not (sandbox / "elsewhere").exists() or not list((sandbox / "elsewhere").iterdir())
    assert (sandbox / "k").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY")  # never overwritten
