"""The idle watcher's decisions, against the local server speaking Runpod's API with a key scoped to the
pod (as Runpod injects one): what is in use comes from a script of host.activity answers and the time
from a counter, so each decision is checked as an event, never against a clock."""

from __future__ import annotations

import pytest

from mjpod.cloud.runpod import Runpod
from mjpod.errors import SettingError
from mjpod.host.activity import Activity
from mjpod.jobs import idle_stop
from mjpod.jobs.idle_stop import IdleSettings, IdleStopError
from tests.cloud.runpod_api import FakeRunpod

IDLE = Activity(0, (), 0)
SSH = Activity(1, (), 0)
RECORD = Activity(0, ("mjpod record",), 0)
POD_KEY = "rp_pod_scoped_key_0123"


@pytest.fixture
def api(monkeypatch):
    with FakeRunpod() as fake:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", fake.url)
        yield fake


def run(
    api, script: list[Activity], minutes: float = 1.0, action: str = "stop", key_for: str | None = None
) -> tuple[str, list[str]]:
    """The watcher over `script` (one answer a minute apart); the pod's id and the lines it logged.
    The key may act on this pod only (or on pod `key_for`)."""
    pod = api.add_pod("mjpod")
    api.pod_keys[POD_KEY] = key_for or pod
    answers, now, lines = iter(script), [0.0], []

    def tick(seconds: float) -> None:
        now[0] += 60.0  # each look a minute after the one before

    idle_stop.watch(
        IdleSettings(pod, minutes, action, poll=60.0),
        Runpod(api_key=POD_KEY),
        lines.append,
        scan=lambda: next(answers),
        clock=lambda: now[0],
        sleep=tick,
        rounds=len(script),
    )
    return pod, lines


def test_a_pod_nobody_uses_stops_itself_by_its_own_id_with_its_own_key(api):
    pod, lines = run(api, [IDLE, IDLE, IDLE], minutes=2)
    (call,) = api.fields("podStop")
    assert call.args["input"] == {"podId": pod}
    assert call.headers["Authorization"] == f"Bearer {POD_KEY}"
    assert api.pods[pod]["desiredStatus"] == "EXITED"
    assert lines == [
        f"watching pod {pod}: it will stop itself after 2 min without an SSH session, an mjpod job or a viewer",
        "idle: no SSH session, mjpod job or viewer",
        f"idle for 2.00 min: asking Runpod to stop pod {pod}",
        f"Runpod took the request: pod {pod} will stop",
    ]
    assert not any(POD_KEY in line for line in lines)


def test_an_open_ssh_session_keeps_it_up(api):
    pod, lines = run(api, [IDLE, SSH, SSH, SSH, SSH], minutes=2)
    assert api.pods[pod]["desiredStatus"] == "RUNNING"
    assert not api.fields("podStop")
    assert "active: 1 SSH session(s)" in lines
    assert "in use for another 2 min (1 SSH session(s)): not stopping" in lines


def test_a_running_job_keeps_it_up_and_the_idle_time_counts_from_its_end(api):
    pod, lines = run(api, [RECORD, RECORD, RECORD, IDLE, IDLE, IDLE], minutes=2)
    assert "active: 1 job(s): mjpod record" in lines
    assert "in use for another 2 min (1 job(s): mjpod record): not stopping" in lines
    (stop,) = [i for i, line in enumerate(lines) if line.startswith("idle for")]
    assert lines[stop] == f"idle for 2.00 min: asking Runpod to stop pod {pod}"  # two minutes after the job
    assert len(api.fields("podStop")) == 1


def test_terminate_when_asked(api):
    pod, _ = run(api, [IDLE, IDLE, IDLE], minutes=2, action="terminate")
    assert [c.args["input"] for c in api.fields("podTerminate")] == [{"podId": pod}]
    assert not api.fields("podStop") and pod not in api.pods


def test_a_refused_request_is_logged_and_asked_again_at_the_next_look(api):
    """A key that may not stop this pod (Runpod's refusal) is reported each time, never shown."""
    other = api.add_pod("other")
    pod, lines = run(api, [IDLE, IDLE, IDLE], minutes=1, key_for=other)
    refused = [line for line in lines if line.startswith("Runpod did not take the request")]
    assert len(refused) == 2 and "You do not have permission" in refused[0]  # at minute 1, and again at 2
    assert refused[0].endswith("asking again in 60 s")
    assert api.pods[pod]["desiredStatus"] == "RUNNING"
    assert not any(POD_KEY in line for line in lines)


def test_the_key_comes_from_the_environment():
    assert idle_stop.pod_key({"RUNPOD_API_KEY": "injected"}) == "injected"
    assert idle_stop.pod_key({"RUNPOD_API_KEY": "injected", "MJPOD_IDLE_STOP_KEY": "mine"}) == "mine"
    with pytest.raises(IdleStopError, match="Runpod found no secret of that name"):
        idle_stop.pod_key({"MJPOD_IDLE_STOP_KEY": "{{ RUNPOD_SECRET_mjpod_idle }}"})
    with pytest.raises(IdleStopError, match="Runpod sets RUNPOD_API_KEY"):
        idle_stop.pod_key({})


def test_settings_are_checked():
    with pytest.raises(IdleStopError, match="is no pod id"):
        IdleSettings("pod 1; rm", 5)
    with pytest.raises(SettingError, match="stop or terminate"):
        IdleSettings("pod1", 5, "pause")
    with pytest.raises(SettingError, match="above 0"):
        IdleSettings("pod1", 0)


def test_what_cannot_be_read_counts_as_in_use(api):
    """/proc unreadable (a locked-down container): never stop a pod on a guess."""
    pod = api.add_pod("mjpod")
    api.pod_keys[POD_KEY] = pod
    now, lines = [0.0], []

    def unreadable() -> Activity:
        raise PermissionError(13, "Permission denied", "/proc/1/fd")

    idle_stop.watch(
        IdleSettings(pod, 1, poll=60.0),
        Runpod(api_key=POD_KEY),
        lines.append,
        scan=unreadable,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + 60.0),
        rounds=3,
    )
    assert not api.fields("podStop")
    assert lines[1].startswith("active: 1 job(s): unknown: [Errno 13] Permission denied")
