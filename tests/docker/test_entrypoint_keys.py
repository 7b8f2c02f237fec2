"""docker/entrypoint.sh against keys and environments that hurt: options that could come off their
key, a private key pasted as PUBLIC_KEY, a key taken out of PUBLIC_KEY, secrets under other names.
Debian's sshd on a loopback port and the OpenSSH client, as in test_entrypoint.py."""

from __future__ import annotations

from pathlib import Path

from tests.docker.appliance import Appliance, keygen, needs_sshd

pytestmark = needs_sshd

SECRET = "s3cret-value-0042"


def logs_in(app: Appliance, key: Path) -> bool:
    return app.ssh(key, "true").returncode == 0


def test_options_on_a_line_with_several_keys_never_come_off_their_key(sandbox):
    """Item 10: `KEY1 from="…",no-port-forwarding KEY2` on one line: the options became KEY1's comment
    and KEY2 was installed unrestricted. Now the line is refused, saying why."""
    good, second = keygen(sandbox / "good"), keygen(sandbox / "second")
    restricted = f'{good} from="10.99.99.99",no-port-forwarding {second}'
    app = Appliance(sandbox, PUBLIC_KEY=restricted, SSH_PUBLIC_KEY=good).start()
    try:
        app.wait_for_sshd()
        assert not logs_in(app, sandbox / "second"), "the restricted key logs in from anywhere"
        assert "which key the options restrict cannot be told" in app.log
        assert logs_in(app, sandbox / "good"), app.log  # (given on its own line in SSH_PUBLIC_KEY)
        assert Path(app.env["MJPOD_AUTHORIZED_KEYS"]).read_text().splitlines() == [good]
    finally:
        app.stop()


def test_a_private_key_pasted_as_public_key_never_reaches_the_log(sandbox):
    """Item 10: each line of a private key pasted into PUBLIC_KEY was logged (its first 40 characters)."""
    keygen(sandbox / "pasted")
    private = (sandbox / "pasted").read_text()
    app = Appliance(sandbox, PUBLIC_KEY=private).start()
    try:
        app.wait_for_log("sshd NOT started")
    finally:
        app.stop()
    body = [line for line in private.splitlines() if "PRIVATE KEY" not in line and line.strip()]
    assert body and not any(line[:12] in app.log for line in body), app.log
    assert "PRIVATE key was passed as a public key in PUBLIC_KEY" in app.log


def test_a_key_taken_out_of_public_key_stops_working_and_keys_added_by_hand_stay(sandbox):
    """Item 10: a key removed from PUBLIC_KEY still logged in after a restart, since keys were only
    ever appended. Now the keys the entrypoint manages are exactly those given at this start."""
    good, second, by_hand = keygen(sandbox / "good"), keygen(sandbox / "second"), keygen(sandbox / "by_hand")
    first = Appliance(sandbox, PUBLIC_KEY=f"{good}\n{second}").start()
    try:
        first.wait_for_sshd()
        assert logs_in(first, sandbox / "second")
    finally:
        first.stop()
    authorized = Path(first.env["MJPOD_AUTHORIZED_KEYS"])
    authorized.write_text(authorized.read_text() + by_hand + "\n")  # added in the container, by hand
    again = Appliance(sandbox, PUBLIC_KEY=good).start()
    try:
        again.wait_for_sshd()
        assert not logs_in(again, sandbox / "second"), "a key no longer given still logs in"
        assert logs_in(again, sandbox / "good") and logs_in(again, sandbox / "by_hand"), again.log
        assert "removed 1 key(s) installed at an earlier start and no longer given" in again.log
    finally:
        again.stop()


def test_passphrases_and_credentials_in_urls_stay_out_of_sessions(sandbox):
    """Item 11: the filter missed names like *PASSPHRASE* and passwords inside URLs; they reached SSH
    sessions and a world-readable file. Now they stay out, and the file is root's alone."""
    good = keygen(sandbox / "good")
    app = Appliance(
        sandbox,
        PUBLIC_KEY=good,
        MJPOD_SIGNING_PASSPHRASE=SECRET,
        MJPOD_DB_PASS=SECRET,
        MJPOD_DATABASE_URL=f"postgres://mjpod:{SECRET}@db.internal:5432/runs",
        MJPOD_MODELS_URL="https://example.com/models",  # a URL with no password is passed
    ).start()
    try:
        app.wait_for_sshd()
        result = app.ssh(sandbox / "good", "env")
        assert result.returncode == 0, result.stderr + app.log
    finally:
        app.stop()
    env_file = Path(app.env["MJPOD_ENV_FILE"])
    assert SECRET not in result.stdout and SECRET not in env_file.read_text()
    assert "MJPOD_MODELS_URL=https://example.com/models" in result.stdout
    assert oct(env_file.stat().st_mode)[-3:] == "600"
