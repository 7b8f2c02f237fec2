"""A rented pod that stops itself when nobody uses it: what `mjpod runpod idle-watch` runs in a pod
started with `runpod up --idle-stop MINUTES` (the entrypoint starts it).

Every `poll` seconds it looks at what is in use (host.activity: SSH sessions, mjpod jobs, viewers);
once nothing has been for `minutes`, it asks Runpod to stop (or terminate) the pod by its own id, with
the pod's key. Each decision is logged, never the key. When Runpod does not take the request (the
network, the key), it asks again at the next poll; after Runpod took it, it asks again only after
another idle period (a pod Runpod did not stop keeps being watched).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

from mjpod.cloud.runpod import POD_NAME, Runpod
from mjpod.errors import MjpodError, SettingError
from mjpod.host import activity

ACTIONS = ("stop", "terminate")
UNRESOLVED_SECRET = "{{"  # a {{ RUNPOD_SECRET_name }} reference Runpod did not fill in


class IdleStopError(MjpodError):
    """Idle stop cannot work in this container; the message says what it needs."""


@dataclasses.dataclass(frozen=True)
class IdleSettings:
    pod_id: str
    minutes: float
    action: str = "stop"
    poll: float = 30.0  # seconds between two looks

    def __post_init__(self) -> None:
        if not POD_NAME.fullmatch(self.pod_id):
            raise IdleStopError(f"RUNPOD_POD_ID {self.pod_id!r} is no pod id: idle stop runs in a Runpod pod")
        if not self.minutes > 0 or not self.poll > 0:
            raise SettingError(
                f"idle stop needs minutes and a poll interval above 0; got {self.minutes}, {self.poll}"
            )
        if self.action not in ACTIONS:
            raise SettingError(f"MJPOD_IDLE_ACTION is stop or terminate; got {self.action!r}")


def pod_key(env: dict[str, str] | None = None) -> str:
    """The key to stop this pod with: MJPOD_IDLE_STOP_KEY (from a Runpod secret, --idle-key-secret), else
    the pod-scoped RUNPOD_API_KEY Runpod puts in every pod."""
    env = dict(os.environ) if env is None else env
    key = env.get("MJPOD_IDLE_STOP_KEY") or env.get("RUNPOD_API_KEY") or ""
    if key.startswith(UNRESOLVED_SECRET):
        raise IdleStopError(
            "MJPOD_IDLE_STOP_KEY still holds a {{ RUNPOD_SECRET_... }} reference: Runpod found no secret of "
            "that name; create it in the console (Secrets) or start the pod without --idle-key-secret"
        )
    if not key:
        raise IdleStopError(
            "idle stop has no key: Runpod sets RUNPOD_API_KEY (scoped to the pod) in every pod; elsewhere, "
            "pass one in MJPOD_IDLE_STOP_KEY"
        )
    return key


def watch(
    settings: IdleSettings,
    runpod: Runpod,
    log: Callable[[str], None],
    scan: Callable[[], activity.Activity] = activity.scan,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> None:
    """Watch until killed (or for `rounds` looks): stop the pod once nothing was in use for the limit."""
    limit = settings.minutes * 60
    verb = settings.action
    log(
        f"watching pod {settings.pod_id}: it will {verb} itself after {settings.minutes:g} min without an "
        "SSH session, an mjpod job or a viewer"
    )
    idle_since: float | None = clock()
    busy_since = clock()  # start of the current stretch in use, for the "not stopping" notes
    shown = ""
    while rounds is None or rounds > 0:
        rounds = None if rounds is None else rounds - 1
        now = clock()
        try:
            seen = scan()
        except (OSError, ValueError) as err:  # /proc unreadable: never stop a pod on a guess
            seen = activity.Activity(0, (f"unknown: {err}",), 0)
        state = seen.describe() if seen.active else "idle"
        if state != shown:
            log(f"active: {state}" if seen.active else "idle: no SSH session, mjpod job or viewer")
            shown = state
        if seen.active:
            if idle_since is not None:
                busy_since = now
            idle_since = None
            if now - busy_since >= limit:
                log(f"in use for another {settings.minutes:g} min ({state}): not stopping")
                busy_since = now
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= limit:
            log(f"idle for {(now - idle_since) / 60:.2f} min: asking Runpod to {verb} pod {settings.pod_id}")
            if _ask(runpod, settings, log):
                idle_since = now  # asked: again only after another idle period if the pod goes on
        sleep(settings.poll)


def _ask(runpod: Runpod, settings: IdleSettings, log: Callable[[str], None]) -> bool:
    """Ask Runpod to stop (or terminate) the pod; whether it took the request."""
    try:
        (runpod.terminate if settings.action == "terminate" else runpod.stop)(settings.pod_id)
    except MjpodError as err:
        log(f"Runpod did not take the request ({err}); asking again in {settings.poll:g} s")
        return False
    log(f"Runpod took the request: pod {settings.pod_id} will {settings.action}")
    return True
