"""docker/entrypoint.sh and docker/sshd_config for real: Debian's OpenSSH sshd on a loopback port,
logged into with the OpenSSH client. Each test names the failure it guards against."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.docker.appliance import (
    HEALTHCHECK,
    ROOT,
    VENV_BIN,
    Appliance,
    alive,
    free_port,
    keygen,
    make_root,
    needs_sshd,
    ssh_argv,
)
from tests.interrupted import LONG_RECORD, check_kept, wait_until_writing

pytestmark = needs_sshd

SECRET = "rp_api_secret_value_0123"


@pytest.fixture(scope="module")
def keys():
    root = make_root()
    good_pub = keygen(root / "good")
    keygen(root / "wrong")
    yield root, good_pub
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def running(keys):
    """One appliance started with PUBLIC_KEY and a secret in its environment, as Runpod does."""
    key_dir, good_pub = keys
    root = make_root()
    app = Appliance(
        root,
        PUBLIC_KEY=good_pub,
        RUNPOD_API_KEY=SECRET,
        WANDB_API_KEY=SECRET,
        MJSTREAM_TOKEN=SECRET,
        MJSTREAM_HOST="0.0.0.0",
    ).start()
    app.wait_for_sshd()
    yield app, key_dir
    app.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_login_with_the_key_given_in_public_key(running):
    """The whole point: `docker run -e PUBLIC_KEY=…` then `ssh root@host` works."""
    app, key_dir = running
    result = app.ssh(key_dir / "good", "echo", "logged-in-as-$(id -un)")
    assert result.returncode == 0, result.stderr + app.log
    assert result.stdout.strip() == "logged-in-as-root"


def test_non_interactive_session_sees_the_container_environment(running):
    """VS Code Remote-SSH and `ssh host cmd` run no login shell: without SetEnv they would miss
    MUJOCO_GL and the venv, and render on the wrong GL or run the wrong Python."""
    app, key_dir = running
    result = app.ssh(key_dir / "good", "env; echo MJPOD_WHICH=$(command -v mjpod)")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert env["MUJOCO_GL"] == "egl"
    assert env["PYOPENGL_PLATFORM"] == "egl"
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility,graphics,video"
    assert env["MJSTREAM_HOST"] == "0.0.0.0"  # compose's appliance: mjpod serve where the ports arrive
    assert str(VENV_BIN) in env["PATH"].split(":")
    assert env["MJPOD_WHICH"] == str(VENV_BIN / "mjpod")


def test_secrets_and_public_key_stay_out_of_sessions(running):
    """API keys in the container's environment must not be copied into every shell's env."""
    app, key_dir = running
    result = app.ssh(key_dir / "good", "env")
    assert result.returncode == 0, result.stderr
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert not names & {"PUBLIC_KEY", "SSH_PUBLIC_KEY", "RUNPOD_API_KEY", "WANDB_API_KEY", "MJSTREAM_TOKEN"}
    assert SECRET not in result.stdout
    assert SECRET not in Path(app.env["MJPOD_ENV_FILE"]).read_text()


def test_login_shell_gets_path_back_from_the_profile_hook(running):
    """/etc/profile resets PATH for root; docker/profile.sh (installed in /etc/profile.d) restores it."""
    app, key_dir = running
    hook = ROOT / "docker" / "profile.sh"
    result = app.ssh(key_dir / "good", f"PATH=/usr/bin:/bin; . {hook}; echo $PATH; echo $MUJOCO_GL")
    assert result.returncode == 0, result.stderr
    path, gl = result.stdout.strip().splitlines()[-2:]
    assert path.split(":")[0] == str(VENV_BIN)
    assert gl == "egl"


def test_password_login_is_refused(running):
    """Keys only: the server offers no password or keyboard-interactive method at all."""
    app, key_dir = running
    result = app.ssh(
        key_dir / "good",
        "true",
        PubkeyAuthentication="no",
        PreferredAuthentications="password,keyboard-interactive",
        NumberOfPasswordPrompts="1",
    )
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_a_key_that_was_not_given_is_refused(running):
    app, key_dir = running
    result = app.ssh(key_dir / "wrong", "true")
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_tcp_forwarding_works(running):
    """VS Code Remote-SSH and `ssh -L 7000:127.0.0.1:7000` (the stream) need direct-tcpip channels."""
    app, key_dir = running
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_once() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"hello through the tunnel\n")

    threading.Thread(target=answer_once, daemon=True).start()
    argv = ["ssh", "-F", "/dev/null", "-i", str(key_dir / "good"), "-p", str(app.port)]
    argv += ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no"]
    argv += ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-W", f"127.0.0.1:{port}"]
    result = subprocess.run([*argv, "root@127.0.0.1"], capture_output=True, text=True, timeout=30, input="")
    server.close()
    assert "hello through the tunnel" in result.stdout, result.stderr


def test_sftp_subsystem_serves_files(running, sandbox):
    """scp/sftp and VS Code's file transfer use the sftp subsystem."""
    app, key_dir = running
    (sandbox / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    batch = f"put {sandbox / 'clip.mp4'} {sandbox / 'copied.mp4'}\n"
    argv = ["sftp", "-F", "/dev/null", "-i", str(key_dir / "good"), "-P", str(app.port), "-b", "-"]
    argv += [
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
    ]
    result = subprocess.run(
        [*argv, "root@127.0.0.1"], input=batch, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert (sandbox / "copied.mp4").read_bytes() == b"\x00\x00\x00\x18ftypmp42"


def healthcheck(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=30)


def test_healthcheck_passes_while_sshd_listens(running):
    app, _ = running
    result = healthcheck(app.env)
    assert result.returncode == 0, result.stderr
    assert f"sshd (pid {app.sshd_pid()}) listens on port {app.port}" in result.stdout


def test_healthcheck_fails_when_sshd_is_gone_or_not_listening(sandbox):
    """A container whose sshd died, or does not listen, must turn unhealthy, not stay green."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    (sandbox / "sshd").write_text(f"127.0.0.1 {free_port()} {gone.pid}\n")
    result = healthcheck({**os.environ, "MJPOD_STATE_DIR": str(sandbox)})
    assert result.returncode == 1
    assert f"sshd (pid {gone.pid}) is not running" in result.stderr
    (sandbox / "sshd").write_text(f"127.0.0.1 {free_port()} {os.getpid()}\n")  # alive, but no socket
    result = healthcheck({**os.environ, "MJPOD_STATE_DIR": str(sandbox)})
    assert result.returncode == 1
    assert "runs, but nothing listens on port" in result.stderr


def test_healthcheck_fails_while_sshd_is_stopped_and_never_connects(keys, sandbox):
    """A stopped (SIGSTOP) sshd accepts no login although its socket listens; the check must see it,
    and must not connect: a probe connection leaves a kex_exchange_identification line in the log."""
    app = Appliance(sandbox, PUBLIC_KEY=keys[1]).start()
    try:
        app.wait_for_sshd()
        sshd = app.sshd_pid()
        os.kill(sshd, signal.SIGSTOP)
        try:
            result = healthcheck(app.env)
            assert result.returncode == 1
            assert f"sshd (pid {sshd}) is stopped" in result.stderr
        finally:
            os.kill(sshd, signal.SIGCONT)
        before = app.log
        for _ in range(3):
            assert healthcheck(app.env).returncode == 0
        time.sleep(0.5)
        assert app.log == before, app.log[len(before) :]  # sshd saw no connection
    finally:
        app.stop()


def test_host_keys_are_generated_once_and_kept_across_restarts(keys, sandbox):
    """Baked-in host keys would be shared by every container; regenerated ones would make every
    restart look like a man-in-the-middle to VS Code."""
    key_dir, good_pub = keys
    app = Appliance(sandbox, PUBLIC_KEY=good_pub).start()
    app.wait_for_sshd()
    first = {p.name: p.read_bytes() for p in (sandbox / "hostkeys").iterdir()}
    assert {"ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"} <= set(first)
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in (sandbox / "hostkeys").glob("*_key"))
    known = app.known_hosts(sandbox / "known_hosts")
    assert app.stop() == 0

    again = Appliance(sandbox, PUBLIC_KEY=good_pub)
    again.port = app.port
    again.env["MJPOD_SSH_PORT"] = str(app.port)
    again.start().wait_for_sshd()
    try:
        assert {p.name: p.read_bytes() for p in (sandbox / "hostkeys").iterdir()} == first
        assert again.log.count("generated host key") == 3  # all from the first start
        result = again.ssh(key_dir / "good", "true", known_hosts=known)
        assert result.returncode == 0, result.stderr
        # the key was installed once, not appended again at the second start
        assert Path(again.env["MJPOD_AUTHORIZED_KEYS"]).read_text().count(good_pub.split()[1]) == 1
    finally:
        again.stop()


def test_without_any_key_sshd_does_not_start_and_the_log_says_why(sandbox):
    app = Appliance(sandbox).start()
    try:
        app.wait_for_log("sshd NOT started: no SSH public key")
        assert "PUBLIC_KEY" in app.log
        assert not app.listening()
        assert app.proc.poll() is None  # still up, for `docker exec`
    finally:
        assert app.stop() == 0


def test_a_one_shot_command_without_a_key_says_nothing_about_sshd(sandbox):
    """`docker run IMAGE mjpod doctor` needs no sshd: a line about a missing key on every run is noise."""
    app = Appliance(sandbox).start("bash", "-c", "echo done")
    assert app.proc.wait(timeout=60) == 0
    app.log_file.close()
    assert "done" in app.log
    assert "sshd" not in app.log


def test_a_value_that_is_not_a_public_key_is_refused_with_a_message(keys, sandbox):
    """A pasted private key or a path must not end up in authorized_keys, and the log says what to pass."""
    app = Appliance(
        sandbox, PUBLIC_KEY="~/.ssh/id_ed25519.pub", SSH_PUBLIC_KEY=(keys[0] / "good").read_text()
    ).start()
    try:
        app.wait_for_log("sshd NOT started")
        assert "not an SSH public key" in app.log
        assert "PRIVATE key was passed" in app.log
        assert "OPENSSH PRIVATE KEY" not in Path(app.env["MJPOD_AUTHORIZED_KEYS"]).read_text()
    finally:
        app.stop()


def test_several_keys_on_one_line_with_windows_line_ends_each_log_in(keys, sandbox):
    """Runpod puts all of an account's keys into PUBLIC_KEY, and env files cannot hold line breaks:
    keys arrive on one line, and a value pasted on Windows ends in CRLF. Written as one
    authorized_keys line, every key after the first would be a comment and be refused."""
    key_dir, good_pub = keys
    second_pub = keygen(sandbox / "second")
    app = Appliance(sandbox, PUBLIC_KEY=f"{good_pub} {second_pub}\r\n").start()
    try:
        app.wait_for_sshd()
        for key in (key_dir / "good", sandbox / "second"):
            result = app.ssh(key, "true")
            assert result.returncode == 0, f"{key.name}: {result.stderr}\n{app.log}"
        lines = Path(app.env["MJPOD_AUTHORIZED_KEYS"]).read_text().splitlines()
        assert lines == [good_pub, second_pub]
        assert "installed 2 new key(s) of 2 given" in app.log
    finally:
        app.stop()


def test_a_mounted_keys_file_owned_by_another_user_still_works(keys, sandbox):
    """A host file bind-mounted as authorized_keys keeps the host user's uid, which StrictModes
    refuses; mounted at MJPOD_AUTHORIZED_KEYS_FILE it is installed with root's owner and mode 600."""
    key_dir, good_pub = keys
    mounted = sandbox / "mounted_keys"
    mounted.write_text(f"# my keys\n{good_pub}\n")
    os.chown(mounted, 65534, 65534)
    mounted.chmod(0o644)
    app = Appliance(sandbox).start()
    try:
        app.wait_for_sshd()
        installed = Path(app.env["MJPOD_AUTHORIZED_KEYS"])
        assert oct(installed.stat().st_mode)[-3:] == "600"
        assert oct(installed.parent.stat().st_mode)[-3:] == "700"
        result = app.ssh(key_dir / "good", "true")
        assert result.returncode == 0, result.stderr + app.log
    finally:
        app.stop()


def test_sigterm_ends_it_promptly_with_sshd(keys, sandbox):
    """`docker stop` sends SIGTERM and kills after 10 s; the entrypoint must stop sshd and exit."""
    app = Appliance(sandbox, PUBLIC_KEY=keys[1]).start()
    app.wait_for_sshd()
    sshd = app.sshd_pid()
    assert sshd and alive(sshd)
    assert app.stop(signal.SIGTERM, timeout=60) == 0  # ended by the signal: stop() kills only after 60 s
    assert not alive(sshd)
    assert not app.listening()
    assert "stopping" in app.log
    assert "SSH sessions" not in app.log  # no session: nothing to wait for (a clock would race here)


def test_sigterm_lets_a_recording_in_an_ssh_session_finish_its_video(keys, sandbox):
    """docker stop sends SIGTERM to the entrypoint only: a `mjpod record` started over SSH must get
    it too, as from Ctrl-C, and close a playable MP4 marked interrupted before sshd and the
    container end (before, it was killed with the container and nothing was kept)."""
    key_dir, good_pub = keys
    # the grace docker stop leaves (8 s) raised: the mechanism is tested, not this machine's speed
    app = Appliance(sandbox, PUBLIC_KEY=good_pub, MJPOD_STOP_GRACE="100").start()
    app.wait_for_sshd()
    video = sandbox / "videos" / "long.mp4"
    session = subprocess.Popen(
        [*ssh_argv(app.port, key_dir / "good"), "mjpod record", *LONG_RECORD, "-o", str(video)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_until_writing(video, session)
        assert app.stop(signal.SIGTERM, timeout=120) == 0
        out = session.communicate(timeout=30)[0].decode(errors="replace")
    finally:
        if session.poll() is None:
            session.kill()
    assert session.returncode == 130, out  # mjpod record's status for an interrupted recording
    assert "asked 1 job(s) to finish" in app.log
    check_kept(video)


def test_a_given_command_runs_with_its_exit_status(sandbox):
    """`docker run IMAGE mjpod bench …` runs the command (in the container's environment) and the
    container's status is the command's."""
    app = Appliance(sandbox).start("bash", "-c", 'echo "gl=$MUJOCO_GL"; exit 7')
    assert app.proc.wait(timeout=60) == 7
    app.log_file.close()
    assert "gl=egl" in app.log


def test_names_in_mjpod_ssh_env_reach_sessions_even_secret_looking_ones(keys, sandbox):
    """MJPOD_SSH_ENV is the opt-in for more: a name outside the usual set and a secret-looking one, both
    named, reach `ssh host cmd` and login shells; a secret that was not named still stays out."""
    key_dir, good_pub = keys
    app = Appliance(
        sandbox,
        PUBLIC_KEY=good_pub,
        MJPOD_SSH_ENV="HF_TOKEN MY_SETTING",
        HF_TOKEN="hf_named_value",
        MY_SETTING="on",
        OTHER_TOKEN=SECRET,
    ).start()
    try:
        app.wait_for_sshd()
        result = app.ssh(key_dir / "good", "env")
        assert result.returncode == 0, result.stderr + app.log
        env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        assert (env.get("HF_TOKEN"), env.get("MY_SETTING")) == ("hf_named_value", "on")
        assert "OTHER_TOKEN" not in env and SECRET not in result.stdout
        profile = Path(app.env["MJPOD_ENV_FILE"]).read_text()  # what login shells source
        assert "export HF_TOKEN='hf_named_value'" in profile and "export MY_SETTING='on'" in profile
        assert SECRET not in profile
    finally:
        app.stop()
