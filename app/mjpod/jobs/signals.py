"""Stop requests from outside (Ctrl-C, `docker stop`) as an event that a running job polls.

A job that sees the event finishes what it is doing (a frame, a step chunk) and ends cleanly: a
recording stays playable, a stream tells its viewers goodbye.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signals(
    signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[threading.Event]:
    """An event set by the first of `signals`; after it, and after the block, the handlers from before
    are back, so a second signal acts as usual (a hard stop)."""
    stop = threading.Event()
    previous = {s: signal.getsignal(s) for s in signals}

    def handler(signum: int, frame: object) -> None:
        stop.set()
        for s, h in previous.items():
            signal.signal(s, h)

    for s in previous:
        signal.signal(s, handler)
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
