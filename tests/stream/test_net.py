"""The network edge the stream server and the browser view share: one reading of an address for both
the loopback check and the Host check, and the token comparison."""

import pytest

from mjpod.stream import net


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("10.0.0.7", False),
        ("::", False),
        ("rebind.example", False),  # a name may resolve anywhere
    ],
)
def test_loopback_is_this_machine_only(host, loopback):
    assert net.is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("header", "answered"),
    [
        (None, True),  # no Host header: not a browser
        ("127.0.0.1:8080", True),
        ("10.0.0.7:8080", True),  # an address the user typed, not one a page could rebind
        ("localhost:8080", True),
        ("[::1]:8080", True),
        ("rebind.example:8080", False),
        ("localhost.rebind.example", False),
        ("[bad", False),
    ],
)
def test_the_browser_view_answers_only_to_addresses(header, answered):
    assert net.named_by_address(header) is answered


def test_a_token_matches_only_itself_and_only_as_text():
    assert net.token_matches("t0k", "t0k")
    assert not net.token_matches("t0K", "t0k") and not net.token_matches("", "t0k")
    assert not net.token_matches(None, "t0k") and not net.token_matches(["t0k"], "t0k")
