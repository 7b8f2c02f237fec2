"""`mjpod serve`'s job in a process of its own, on two_worlds.xml with the box held at a different x in
each world, so that a browser can tell the worlds apart:

    python -m tests.stream.served_worlds PORT WEB [--control] [--host HOST] [--token TOKEN]
"""

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from mjpod import engines, models
from mjpod.engines import EngineConfig
from mjpod.jobs import serve as job

SCENE = Path(__file__).with_name("two_worlds.xml")
POSES = (-0.4, 0.4)  # x of the box in world 0 and world 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("web", type=int)
    parser.add_argument("--control", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    lm = models.load(str(SCENE))
    engine = engines.make("mjc", lm.model, EngineConfig(nworld=len(POSES), ctrl="hold"))
    engine.set_ctrl(np.array(POSES)[:, None])
    opts = job.ServeOptions(
        host=args.host, port=args.port, token=args.token, web_port=args.web, web_control=args.control
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(job.banner(lm, engine, opts), flush=True)
    job.serve(lm, engine, opts, stop)


if __name__ == "__main__":
    main()
