"""The seed scripts' `StreamServer`, over the server core: `import mjpod.stream as mjstream` and a seed
script runs unchanged.

What the seed's class did and the core does not: it takes a model path (or a compiled model) and loads
it, reads MJSTREAM_HOST, MJSTREAM_PORT and MJSTREAM_TOKEN when none is given, calls `publish`
`send_state` (accepting its target_* arguments), and its `start()` holds until a viewer connects.
"""

from __future__ import annotations

import os
from pathlib import Path

import mujoco

from mjpod import models
from mjpod.stream.feed import StateFeed
from mjpod.stream.server import DEFAULT_HOST, DEFAULT_PORT, Limits, Server, log


def env_host() -> str:
    return os.environ.get("MJSTREAM_HOST", DEFAULT_HOST)


def env_port() -> int:
    try:
        return int(os.environ.get("MJSTREAM_PORT", DEFAULT_PORT))
    except ValueError:
        raise ValueError(
            f"MJSTREAM_PORT must be a port number, got {os.environ['MJSTREAM_PORT']!r}"
        ) from None


class StreamServer(Server):
    """Streams one model and its states over TCP; `port <= 0` disables it, as in the seed."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        host: str | None = None,
        port: int | None = None,
        *,
        model: mujoco.MjModel | None = None,
        name: str | None = None,
        token: str | None = None,
        hz: float = 60.0,
        world: int = 0,
        feed: StateFeed | None = None,
        **limits: float,
    ) -> None:
        if model is None and model_path is None:
            raise ValueError("StreamServer needs model_path or model")
        path = str(model_path) if model_path is not None else None
        if model is None:  # as in the seed: the server compiles model_path itself
            loaded = models.load(str(model_path))
            model, name, path = loaded.model, name or loaded.name, str(loaded.path)
        super().__init__(
            model,
            name or (Path(path).stem if path else "model"),
            path,
            feed or StateFeed(hz=hz, world=world),
            host if host is not None else env_host(),
            port if port is not None else env_port(),
            token=token if token is not None else os.environ.get("MJSTREAM_TOKEN") or None,
            limits=Limits(**limits),  # type: ignore[arg-type]
        )
        self.model_path = str(model_path) if model_path is not None else None

    def start(self, wait: bool = True) -> None:
        """Bind and accept in the background; then, as the seed did, hold until a viewer connects.

        A seed script's `start()` therefore still waits for its viewer before simulating; `start(wait=
        False)` and `with StreamServer(...)` stream to whoever comes. Clients that join later get the
        model and the current state either way.
        """
        super().start()
        if wait and self.enabled:
            log.info("waiting for a viewer on %s:%d", *self.address)
            while not self.wait_for_client(timeout=0.5):  # short waits keep Ctrl-C responsive
                if self.closed:
                    return

    def send_state(
        self,
        mjd: mujoco.MjData,
        target_pos: object = None,
        target_quat: object = None,
        target_body_id: object = None,
        *,
        force: bool = False,
    ) -> int | None:
        """`publish`, under the seed's name. `target_*` are the seed's optional arguments, accepted so
        seed calls keep working; the seed's client overwrote them with `mj_forward` before drawing, so
        they are not sent."""
        return self.publish(mjd, force=force)

    def stop_connection(self) -> None:
        """`close`, under the seed's name."""
        self.close()
