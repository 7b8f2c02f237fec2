"""A headless simulation written the seed's way; only the import names mjpod.

Usage: python server.py MODEL.xml STEPS. Prints `started` when start() returns and, at the end, the
final qpos as hex so the test can compare it bit for bit with what the client saw.
"""

import os
import sys

import mujoco

import mjpod.stream as mjstream  # the seed: import streaming as mjstream

model_path, steps = sys.argv[1], int(sys.argv[2])
mjm = mujoco.MjSpec.from_file(model_path).compile()
mjd = mujoco.MjData(mjm)
mujoco.mj_forward(mjm, mjd)

host = os.getenv("MJSTREAM_HOST", "127.0.0.1")
port = int(os.getenv("MJSTREAM_PORT", "7000"))
streamer = mjstream.StreamServer(model_path=model_path, host=host, port=port)
if streamer.enabled:
    streamer.start()  # the seed's start() holds until a viewer connects
print("started", streamer.connected, flush=True)

for _ in range(steps):
    mujoco.mj_step(mjm, mjd)
    if streamer.enabled:
        streamer.send_state(mjd)

print("final", mjd.time.hex(), mjd.qpos.tobytes().hex(), flush=True)
if streamer.enabled:
    streamer.stop_connection()
