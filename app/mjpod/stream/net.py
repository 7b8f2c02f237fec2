"""What the stream server and the browser view share at the network's edge: which addresses are this
machine's alone, the token check, the refusal to listen beyond loopback without one, and the back-off
between failed accepts."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import urllib.parse

from mjpod.errors import MjpodError

log = logging.getLogger("mjpod.stream")

MAX_BACKOFF = 1.0  # seconds between accept attempts while the process is out of descriptors


def literal_address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address `name` spells (`localhost` is 127.0.0.1; IPv6 may come in brackets); None for a
    DNS name, which may resolve anywhere."""
    name = name.strip("[]").lower()
    if name == "localhost":
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    address = literal_address(host)
    return address is not None and address.is_loopback


def named_by_address(host_header: str | None) -> bool:
    """Whether a request's Host names this server by an IP address or `localhost` (not by a DNS name,
    which a hostile page could point at 127.0.0.1: DNS rebinding). No Host header: not a browser."""
    if not host_header:
        return True
    try:
        name = urllib.parse.urlsplit(f"//{host_header}").hostname
    except ValueError:  # an unbalanced IPv6 bracket
        return False
    return name is not None and literal_address(name) is not None


def token_matches(given: object, token: str) -> bool:
    """Whether a peer presented `token` (compared in constant time; anything not a string is no token)."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())


class TokenRequired(MjpodError):
    """A server would listen beyond loopback with no token; the message says how to set one."""


def require_token(what: str, host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token: anyone who reaches the address could use it."""
    if not token and not is_loopback(host):
        raise TokenRequired(
            f"{what} would listen on {host} with no token, so anyone who can reach that address could"
            " use it. Set one (export MJSTREAM_TOKEN=$(head -c 18 /dev/urandom | base64 | tr +/ -_),"
            " or --token) and give viewers the same; or keep the default 127.0.0.1 and reach it"
            " through ssh -L PORT:127.0.0.1:PORT"
        )


class AcceptBackoff:
    """The pause between failed accepts (out of descriptors), doubling up to MAX_BACKOFF; the failure
    is logged once when it starts and once when accepting works again, not at every retry."""

    def __init__(self, logger: logging.Logger, failing: str, recovered: str) -> None:
        self.logger, self.failing, self.recovered = logger, failing, recovered
        self.pause = 0.0

    def failed(self, err: OSError) -> float:
        """Seconds to wait before the next accept."""
        if not self.pause:
            self.logger.warning(self.failing, err)
        self.pause = min(max(2 * self.pause, 0.05), MAX_BACKOFF)
        return self.pause

    def succeeded(self) -> None:
        if self.pause:
            self.logger.info(self.recovered)
            self.pause = 0.0
