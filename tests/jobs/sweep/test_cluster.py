"""`mjpod sweep` on a real three-node Ray cluster (head + two workers), each node in its own network
namespace with a private address: jobs spread over nodes, a node killed mid-sweep loses no job, a
re-run skips what is done, a failing job is reported while the others complete, and a driver
without the cluster's token is refused.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.jobs.sweep import netns, results, specs

reason = netns.available()
pytestmark = pytest.mark.skipif(reason is not None, reason=f"multi-node Ray test: {reason}")


@pytest.fixture(scope="module")
def cluster():
    with netns.Cluster(workers=2, cpus=1, env={"COLUMNS": "200"}) as c:
        yield c


def sweep(cluster: netns.Cluster, spec: Path, out: Path):
    """The driver runs on the head node, as `docker compose exec ray-head mjpod sweep …` would."""
    argv = [
        sys.executable,
        "-m",
        "mjpod",
        "sweep",
        str(spec),
        "--out",
        str(out),
        "--address",
        cluster.address,
    ]
    return cluster.popen(0, argv)


def started_on(out: Path, ip: str, kind: str | None = None) -> str | None:
    """The id of a job (of `kind`) that has started on the node with this address and not ended, if any."""
    for marker in (out / "jobs" / ".staging").glob("*/started.json"):
        try:
            record = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue  # written atomically, but its folder may move away while we read
        if record["node"] == ip and kind in (None, record["params"]["kind"]):
            return record["id"]
    return None


def test_sweep_spreads_survives_a_dead_node_and_skips_finished_jobs(cluster, tmp_path):
    spec, out = specs.write(tmp_path), tmp_path / "out"
    driver = sweep(cluster, spec, out)
    # meanwhile, from a worker node, a driver with a wrong token: token authentication must refuse it
    argv = [sys.executable, "-m", "mjpod", "sweep", str(spec), "--dry-run", "--address", cluster.address]
    intruder = cluster.popen(1, argv, env={"RAY_AUTH_TOKEN": "not-the-cluster-token"})
    # and one with no token at all (nor a ~/.ray/auth_token): a message, not Ray's traceback
    (tmp_path / "home").mkdir()
    tokenless = cluster.popen(1, ["env", "-u", "RAY_AUTH_TOKEN", f"HOME={tmp_path / 'home'}", *argv])
    victim = cluster.ip(2)
    deadline = time.monotonic() + 120
    while started_on(out, victim, "record") is None:  # the longest jobs: seconds each on a CPU
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[0]
        time.sleep(0.1)
    cluster.kill_node(2)  # mid-job: the node's raylet and workers die at once
    # The job cut, read once the node is dead (nothing there can end it now), not the one seen running
    # before: however late the kill came, this one was cut.
    killed = started_on(out, victim)
    assert killed, "the node's job ended before the kill reached it: no job was cut"
    output, _ = driver.communicate(timeout=240)
    assert driver.returncode == 1, output  # 1: the sweep ran, one job failed
    refused, _ = intruder.communicate(timeout=240)
    assert intruder.returncode == 2 and f"cannot join the Ray cluster at {cluster.address}" in refused, (
        refused
    )
    refused, _ = tokenless.communicate(timeout=240)
    assert tokenless.returncode == 2 and "needs its token, and none is set here" in " ".join(refused.split())

    rows = results.check_finished(out)
    by_id = {r["id"]: r for r in rows}
    assert by_id[killed]["status"] == "done" and by_id[killed]["node"] != victim, by_id[killed]
    assert len({r["node"] for r in rows if r["node"]}) >= 2, "every job ran on one node"
    assert all(r["reused"] == "False" for r in rows)
    assert not list((out / "jobs" / ".staging").glob("*")), "the dead node's attempt was left behind"

    # again, with the dead node gone: the finished jobs are skipped, only the failed one runs again
    first = {
        r["id"]: (out / "jobs" / r["id"] / "result.json").read_text() for r in rows if r["status"] == "done"
    }
    again = sweep(cluster, spec, out)
    output, _ = again.communicate(timeout=240)
    assert again.returncode == 1, output
    assert f"{specs.JOBS - specs.FAILING} job(s) already done" in output
    rows = results.table(out)
    assert sorted(r["reused"] for r in rows) == ["False"] + ["True"] * (specs.JOBS - 1)
    assert {i: (out / "jobs" / i / "result.json").read_text() for i in first} == first  # not run twice
