"""A viewer loop written the seed's way (no window); only the import names mjpod.

Usage: python client.py PORT. Prints the model packet's kind and path, then the last state applied.
"""

import socket
import sys

import mujoco

import mjpod.stream as mjstream  # the seed: import streaming as mjstream


def stream_once(sock: socket.socket) -> None:
    first = mjstream.recv_packet(sock)
    kind = first.get("kind")
    if kind == "model_path":
        mjm = mujoco.MjSpec.from_file(first["path"]).compile()
    elif kind == "xml":
        mjm = mujoco.MjSpec.from_string(first["xml"]).compile()
    print("model", kind, first.get("path"), flush=True)
    mjd = mujoco.MjData(mjm)
    mujoco.mj_forward(mjm, mjd)
    states = 0
    while True:
        try:
            packet = mjstream.recv_packet(sock)
        except ConnectionError as exc:
            print("lost", exc, flush=True)
            break
        if packet.get("kind") == "close":
            break
        if packet.get("kind") != "state":
            continue
        mjstream.apply_mjdata(mjd, packet["state"])
        mujoco.mj_forward(mjm, mjd)
        states += 1
    print("states", states, flush=True)
    print("final", mjd.time.hex(), mjd.qpos.tobytes().hex(), flush=True)


with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock:
    stream_once(sock)
