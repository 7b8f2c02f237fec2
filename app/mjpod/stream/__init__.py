"""Streaming a headless simulation: `import mjpod.stream as mjstream` in place of the seed's module.

The seed's names keep working (`StreamServer`, `send_state`, `recv_packet`, `apply_mjdata`,
MJSTREAM_HOST / MJSTREAM_PORT) over a safe protocol: no pickle, sizes checked, the model sent whole.
"""

from mjpod.stream.client import StreamClient, StreamRefused, apply_mjdata, load_model, recv_packet
from mjpod.stream.compat import StreamServer, env_host, env_port
from mjpod.stream.feed import StateFeed
from mjpod.stream.protocol import ProtocolError
from mjpod.stream.server import DEFAULT_HOST, DEFAULT_PORT

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ProtocolError",
    "StateFeed",
    "StreamClient",
    "StreamRefused",
    "StreamServer",
    "apply_mjdata",
    "env_host",
    "env_port",
    "load_model",
    "recv_packet",
]
