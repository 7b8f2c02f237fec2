"""`mjpod view`: follow a stream (reconnecting) and show it in MuJoCo's viewer, or record it to MP4.

The part that needs no display is `follow`: connect, take the model, apply each state, hand it to a
sink, and on any connection loss wait `retry_delay` and connect again. The native viewer and the
headless recorder are two sinks over that one loop, so the recorder's tests exercise the viewer's logic.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import mujoco

from mjpod import video
from mjpod.engines import Engine
from mjpod.errors import MjpodError, SettingError
from mjpod.stream import simloop
from mjpod.stream.client import StreamClient, StreamRefused, apply_mjdata
from mjpod.stream.model_transfer import ModelInfo
from mjpod.stream.protocol import ProtocolError, Stopped

log = logging.getLogger("mjpod.stream.view")


class ViewerError(MjpodError, RuntimeError):
    """MuJoCo's viewer window cannot open here; the message says how to start it."""


class StreamBroken(MjpodError, ConnectionError):
    """With --once: the server broke the protocol, so there is nothing to wait for."""

    exit_code = 1


class Sink(Protocol):
    """Where a followed stream goes. `show` returns False to stop following."""

    def show(self, state: dict) -> bool: ...

    def close(self) -> None: ...


SinkFactory = Callable[[mujoco.MjModel, ModelInfo], Sink]
MAX_GAP = 1.0  # simulated seconds between two states that a recording fills with held frames


def follow(
    host: str,
    port: int,
    make_sink: SinkFactory,
    *,
    token: str | None = None,
    retry_delay: float = 2.0,
    once: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Follow the stream until a sink stops, `stop` is set, or (with `once`) the stream ends.

    Returns the number of connections made. A sink lives as long as the model's digest stays the
    same, so a server restart with the same model continues the same window or video.
    """
    stop = stop or threading.Event()
    sink: Sink | None = None
    digest = None
    connections = 0
    try:
        while not stop.is_set():
            try:
                client = StreamClient.connect(host, port, token, stop=stop)
            except (StreamRefused, Stopped):
                raise
            except ProtocolError as err:
                _broken(host, port, err, once)
                stop.wait(retry_delay)
                continue
            except OSError as err:
                if once and connections:
                    return connections
                log.warning("cannot connect to %s:%d (%s); retrying in %.1f s", host, port, err, retry_delay)
                stop.wait(retry_delay)
                continue
            connections += 1
            with client:
                info = client.info
                log.info("connected to %s:%d: model %s (%s…)", host, port, info.name, info.digest[:12])
                if sink is None or info.digest != digest:
                    if sink is not None:
                        log.info("the server's model changed; starting over")
                        sink.close()
                    sink, digest = make_sink(client.model, info), info.digest
                try:
                    while not stop.is_set():
                        state = client.next_state()
                        if state is None:
                            log.info("server closed the stream: %s", client.close_reason)
                            break
                        if sink.show(state) is False:
                            return connections
                except (StreamRefused, Stopped):
                    raise
                except ProtocolError as err:
                    _broken(host, port, err, once)
                except (ConnectionError, OSError) as err:
                    log.warning("connection lost: %s", err)
            if once:
                return connections
            if not stop.is_set():
                log.info("reconnecting in %.1f s", retry_delay)
                stop.wait(retry_delay)
        return connections
    except Stopped:
        return connections
    finally:
        if sink is not None:
            sink.close()


def _broken(host: str, port: int, err: ProtocolError, once: bool) -> None:
    """A server that breaks the protocol: the end with --once, else a log line and another try."""
    if once:
        raise StreamBroken(f"the server at {host}:{port} broke the stream protocol: {err}") from None
    log.warning("the server at %s:%d broke the stream protocol (%s); retrying", host, port, err)


class Recorder:
    """Renders the followed world headless (EGL) into an MP4, one frame per 1/fps of simulated time."""

    def __init__(
        self, mjm: mujoco.MjModel, path: Path, *, width: int, height: int, fps: float, max_frames: int = 0
    ) -> None:
        from mjpod.render.gl import GLRenderer

        self.mjm, self.path, self.fps, self.max_frames = mjm, path, fps, max_frames
        self.mjd = mujoco.MjData(mjm)
        self.renderer = GLRenderer(mjm, height - height % 2, width - width % 2)
        self.writer = video.VideoWriter(
            path, self.renderer.width, self.renderer.height, fps, video.choose_encoder("auto")
        )
        self.frames = 0
        self._next_time: float | None = None

    def show(self, state: dict) -> bool:
        """Draw the state once and write it for every frame time it reaches: at most MAX_GAP x fps + 1
        frames per state, however far its time jumps (a jump beyond MAX_GAP starts the clock afresh)."""
        t = float(state["time"])
        if not math.isfinite(t):
            raise ValueError(f"state time {t} is not a finite number of seconds")
        apply_mjdata(self.mjd, state)
        if self._next_time is None or abs(t - self._next_time) > MAX_GAP:  # first state, a restart or a gap
            self._next_time = t
        if t < self._next_time:
            return True
        due = (
            math.floor((t - self._next_time) * self.fps) + 1
        )  # states skipped by the rate cap: hold the frame
        if self.max_frames:
            due = min(due, self.max_frames - self.frames)
        mujoco.mj_forward(self.mjm, self.mjd)
        frame = self.renderer.render(self.mjd)
        for _ in range(due):
            self.writer.write(frame)
        self.frames += due
        self._next_time += due / self.fps
        return not (self.max_frames and self.frames >= self.max_frames)

    def close(self) -> None:
        if self.frames:
            self.writer.close()
        else:
            self.writer.discard()  # nothing arrived: leave no empty file
        self.renderer.close()
        log.info("wrote %s: %d frames at %g fps", self.path, self.frames, self.fps)


class PassiveViewer:
    """mujoco.viewer's passive window on the followed world (needs a display)."""

    def __init__(self, mjm: mujoco.MjModel) -> None:
        self.mjm, self.mjd = mjm, mujoco.MjData(mjm)
        mujoco.mj_forward(mjm, self.mjd)
        self.handle = _launch_passive(mjm, self.mjd)

    def show(self, state: dict) -> bool:
        if not self.handle.is_running():
            return False
        with self.handle.lock():
            apply_mjdata(self.mjd, state)
            mujoco.mj_forward(self.mjm, self.mjd)
        self.handle.sync()
        return True

    def close(self) -> None:
        self.handle.close()


def view_local(engine: Engine, world: int = 0, hz: float = 60.0) -> None:
    """The seed's test_viewer.py: simulate here in real time with any engine and show world `world`."""
    if not 0 <= world < engine.nworld:
        raise SettingError(f"--world {world} is out of range: this run has {engine.nworld} world(s)")
    mjd = engine.get_world(world)
    with _launch_passive(engine.mjm, mjd) as handle:

        def show() -> bool:
            if not handle.is_running():
                return False
            with handle.lock():
                engine.get_world(world, mjd)
            handle.sync()
            return True

        simloop.run(engine, show, hz=hz, realtime=True)


def _launch_passive(mjm: mujoco.MjModel, mjd: mujoco.MjData):
    """mujoco.viewer's passive window; on macOS outside mjpython MuJoCo refuses, so say how to start it."""
    import mujoco.viewer

    if sys.platform.startswith("linux"):
        _check_display()
    try:
        return mujoco.viewer.launch_passive(mjm, mjd)
    except RuntimeError as err:
        if "mjpython" in str(err):
            raise ViewerError(
                f'{err}: start it as `mjpython "$(which mjpod)" view …` (mjpython comes with the mujoco package)'
            ) from None
        raise ViewerError(str(err)) from None


def _check_display() -> None:
    """Open GLFW before MuJoCo's viewer does: where the X server is missing or refuses this client,
    the viewer would end the process with only "could not initialize GLFW"."""
    import glfw

    reporting, glfw.ERROR_REPORTING = glfw.ERROR_REPORTING, "ignore"  # read below instead
    try:
        opened = glfw.init()
        why = (glfw.get_error()[1] or b"GLFW did not start").decode(errors="replace")
    finally:
        glfw.ERROR_REPORTING = reporting
    if not opened:
        raise ViewerError(
            f"cannot open a window on DISPLAY={os.environ.get('DISPLAY', '')} ({why}): is that X server "
            "running, and may this user draw on it (XAUTHORITY, or xhost there)? Without a display: "
            "`mjpod view --record out.mp4`, or the browser view (`mjpod serve --web 8080`)"
        )
