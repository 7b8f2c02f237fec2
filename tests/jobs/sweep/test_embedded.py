"""`mjpod sweep` with no cluster: an embedded Ray on this machine that listens on 127.0.0.1 only,
runs the same sweep as the cluster test (whose re-run checks the skipping), and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.jobs.sweep import results, specs


def start(spec: Path, out: Path, *args: str, **more: str) -> subprocess.Popen:
    """`mjpod sweep` in its own session, so a Ctrl-C can go to its whole process group as a terminal's would."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"COLUMNS": "200"} | more
    return subprocess.Popen(
        [sys.executable, "-m", "mjpod", "sweep", str(spec), "--out", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )


def listening(root: psutil.Process) -> dict[str, set[str]]:
    """Process name -> addresses it listens on (TCP), for `root` and everything it started."""
    found: dict[str, set[str]] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            sockets = proc.net_connections(kind="inet")
            name = proc.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for s in sockets:
            if s.status == psutil.CONN_LISTEN:
                found.setdefault(name, set()).add(s.laddr.ip)
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


def test_embedded_sweep_runs_the_cluster_sweep_listening_on_loopback_only(tmp_path):
    """And its token file is its owner's alone (Low: Ray wrote ~/.ray/auth_token readable by every user)."""
    spec, out, home = specs.write(tmp_path), tmp_path / "out", tmp_path / "home"
    home.mkdir()
    driver = start(spec, out, HOME=str(home))
    seen: dict[str, set[str]] = {}
    root = psutil.Process(driver.pid)
    while driver.poll() is None:  # look while Ray and its workers are up
        for name, addresses in listening(root).items():
            seen.setdefault(name, set()).update(addresses)
        time.sleep(0.2)
    output = driver.communicate()[0]
    assert driver.returncode == 1, output  # one job fails by design
    assert {"gcs_server", "raylet"} <= set(seen), f"Ray's services were never seen listening: {seen}"
    exposed = {name: a for name, a in seen.items() if not all(map(is_loopback, a))}
    assert not exposed, f"listening beyond 127.0.0.1: {exposed}"
    rows = results.check_finished(out)
    assert {r["node"] for r in rows if r["node"]} == {"127.0.0.1"}
    token = home / ".ray" / "auth_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text()) == 64
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700


RECORDS_ONLY = """
[grid]
kind = ["record"]
model = ["pendulum"]
seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]

[settings]
duration = 1.5
fps = 20.0
width = 64
height = 64
"""


def test_ctrl_c_stops_scheduling_lets_running_jobs_finish_and_keeps_the_table(tmp_path):
    spec, out = specs.write(tmp_path, RECORDS_ONLY), tmp_path / "out"
    driver = start(spec, out, "--cpus", "2")
    deadline = time.monotonic() + 120
    while not list((out / "jobs" / ".staging").glob("*/started.json")):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[0]
        time.sleep(0.1)
    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the driver and all it started
    output = driver.communicate(timeout=120)[0]
    assert driver.returncode == 130, output
    rows = results.table(out)
    statuses = [r["status"] for r in rows]
    # The job running at Ctrl-C finished, and scheduling stopped: jobs never began. Two CPUs run two
    # jobs at once; how many ended between the job's start and the signal is the machine's speed, so
    # twelve jobs leave far more than any delay could run.
    assert len(rows) == 12 and set(statuses) == {"done", "pending"}, statuses
    for r in rows:
        assert (out / "jobs" / r["id"] / "result.json").exists() == (r["status"] == "done")
    assert not list((out / "jobs" / ".staging").glob("*"))
