"""docker/with-ca.sh, which every download step of the image build runs through: with the build
secret `ca` present, a TLS server signed by that CA (as a TLS-intercepting proxy's certificates are)
is trusted; without it, the step runs unchanged and the server is refused."""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WITH_CA = ROOT / "docker" / "with-ca.sh"
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate only the CA in `ca.pem` vouches for."""
    cert = ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "ca.pem"), "-days", "1"]
    ext = ["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE"]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=mjpod test CA",
            *cert,
            *ext,
        ],
        check=True,
        capture_output=True,
    )

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello over tls")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "ca.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", tmp_path / "ca.pem"
    server.shutdown()
    server.server_close()


def fetch(url: str, secret: Path, *wrapper: str) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "APT_CONFIG")
    }
    return subprocess.run(
        [*wrapper, sys.executable, "-c", FETCH, url],
        env={**env, "MJPOD_CA_SECRET": str(secret)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_secret_ca_is_trusted_for_the_step_only(tls_server, tmp_path):
    url, ca = tls_server
    assert "CERTIFICATE_VERIFY_FAILED" in fetch(url, ca).stderr  # the CA is not trusted by itself
    result = fetch(url, ca, str(WITH_CA))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello over tls"
    # apt, pip and uv read the same bundle; it is gone when the step ends
    seen = fetch(url, ca, str(WITH_CA), "bash", "-c", 'cat "$APT_CONFIG"; echo "$PIP_CERT"; exit 0;')
    apt_conf, bundle = seen.stdout.splitlines()[:2]
    assert apt_conf == f'Acquire::https::CAInfo "{bundle}";'
    assert not Path(bundle).exists()


def test_without_the_secret_the_step_runs_unchanged(tls_server, tmp_path):
    url, _ = tls_server
    result = fetch(
        url, tmp_path / "no-such-secret", str(WITH_CA), "bash", "-c", 'echo "${SSL_CERT_FILE:-unset}"'
    )
    assert result.returncode == 0 and result.stdout.strip() == "unset"
