"""Run sweep jobs as Ray tasks: an embedded Ray on this machine (loopback only) or an existing cluster.

Each job asks Ray for its CPUs and, on cuda, its GPU share, so Ray places one job per GPU (or several
per GPU for fractions) and never more CPU jobs than cores. The driver submits no more than the
cluster can run at once: what is submitted is what runs, so a Ctrl-C that stops scheduling leaves no
queue behind. A task whose worker or node dies is retried by Ray on another node (MAX_RETRIES); a
job that raises is recorded by the job itself and never retried.

Token authentication: Ray 2.52+ checks a shared token on every RPC when RAY_AUTH_MODE=token. mjpod
keeps it on (setdefault), for the embedded Ray (its token in ~/.ray/auth_token, which mjpod makes
readable by its owner only; Ray would leave it readable by every user) and for clusters (every node
and the driver need the same RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH).

A cluster address is tried before Ray is: nothing answering there is an error within CONNECT_S
(Ray itself would retry for minutes, probing for other addresses of this host meanwhile).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from mjpod import files
from mjpod.errors import MjpodError
from mjpod.jobs.sweep import execute
from mjpod.jobs.sweep.grid import Job
from mjpod.jobs.sweep.runner import Events, pending_record

MAX_RETRIES = 3  # reruns of a task whose worker or node died
WAIT_S = 0.5  # how long one wait for a finished job blocks (bounds the reaction to Ctrl-C)
REFRESH_S = 2.0  # how often the cluster's resources are read again (nodes come and go)
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
CONNECT_S = 5.0  # how long a cluster address has to accept a connection
GCS_PORT = 6379  # Ray's port when an address names none


class ClusterError(MjpodError, RuntimeError):
    """Ray cannot start or join here, or cannot hold a job; the message says what to change."""


def _task(job_id: str, params: dict, out: str, device: str, cpus: float) -> dict:
    """The Ray task: one job on whichever node Ray chose."""
    import ray

    return execute.run(job_id, params, out, device, cpus, ray.util.get_node_ip_address())


class RayBackend:
    def __init__(self, address: str | None = None, cpus: int | None = None) -> None:
        """Start an embedded Ray (address None) bound to 127.0.0.1 only, or join the cluster at `address`."""
        self.embedded = address is None
        if self.embedded:
            # On Linux Ray swaps a loopback node address for the host's network address and listens
            # there. Declared a single-machine instance (what it always is on macOS and Windows), it
            # keeps 127.0.0.1 for every service. Read when ray is imported, so set first.
            os.environ[LOOPBACK_ENV] = "0"
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        if self.embedded:
            _private_token()
        else:
            _answers(address)
        import ray

        self.ray = ray
        options: dict = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.embedded:  # "local": a new instance, never one some other `ray start` left running here
            options.update(address="local", num_cpus=cpus, include_dashboard=False)
        else:
            options["address"] = address
        try:
            ray.init(**options)
        except ConnectionError as err:
            raise ClusterError(
                f"cannot join the Ray cluster at {address}: {err}. Check the address (head:6379), that this "
                "machine reaches it over the private network, and that RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
                "holds the cluster's token"
            ) from None
        except ray.exceptions.AuthenticationError:
            raise ClusterError(
                f"the Ray cluster at {address} needs its token, and none is set here: export RAY_AUTH_TOKEN "
                "(or RAY_AUTH_TOKEN_PATH naming a file) with the token every node of the cluster has"
            ) from None
        self.nodes = [n for n in ray.nodes() if n["Alive"]]
        if self.embedded:
            exposed = sorted({n["NodeManagerAddress"] for n in self.nodes} - {"127.0.0.1"})
            if exposed:
                ray.shutdown()
                raise ClusterError(
                    f"the embedded Ray bound to {', '.join(exposed)}, not 127.0.0.1: ray was imported before "
                    f"mjpod could set {LOOPBACK_ENV}=0; start the sweep in a fresh process"
                )
        self.totals = self._totals()
        self.has_gpus = self.totals.get("GPU", 0) > 0

    def describe(self) -> str:
        where = "embedded Ray on 127.0.0.1" if self.embedded else f"Ray cluster ({len(self.nodes)} nodes)"
        gpus = f", {self.totals.get('GPU', 0):g} GPU" if self.has_gpus else ""
        auth = os.environ.get("RAY_AUTH_MODE")
        return f"{where}: {self.totals.get('CPU', 0):g} CPU{gpus}; token auth {'on' if auth == 'token' else 'OFF'}"

    def check(self, jobs: list[Job]) -> None:
        """Refuse jobs no node can hold (Ray would queue them forever)."""
        biggest = {r: max((n["Resources"].get(r, 0) for n in self.nodes), default=0) for r in ("CPU", "GPU")}
        for job in jobs:
            for resource, amount in job.request(self.has_gpus).items():
                if amount > biggest[resource] + 1e-9:
                    raise ClusterError(
                        f"job {job.id} asks for {amount:g} {resource} but the largest node has "
                        f"{biggest[resource]:g}: lower [resources] {resource.lower()}s in the spec"
                    )

    def close(self) -> None:
        self.ray.shutdown()

    def _totals(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.ray.cluster_resources().items()}

    def run(self, jobs: list[Job], out: str, on_result: Callable[[dict], None], events: Events) -> None:
        ray = self.ray
        remote = ray.remote(_task)
        pending = deque(jobs)
        inflight: dict = {}  # ObjectRef -> (job, request)
        used = {"CPU": 0.0, "GPU": 0.0}
        refreshed = time.monotonic()
        try:
            while pending or inflight:
                if not events.stop.is_set():
                    while pending and (
                        not inflight or _fits(pending[0].request(self.has_gpus), used, self.totals)
                    ):
                        job = pending.popleft()
                        ref, request = self._submit(remote, job, out)
                        inflight[ref] = (job, request)
                        for r in used:
                            used[r] += request[r]
                if not inflight:
                    return
                events.running = len(inflight)
                events.on_change()
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=WAIT_S)
                for ref in ready:
                    job, request = inflight.pop(ref)
                    for r in used:
                        used[r] -= request[r]
                    on_result(self._result(ref, job))
                if time.monotonic() - refreshed > REFRESH_S:
                    self.totals, refreshed = self._totals(), time.monotonic()
        except KeyboardInterrupt:  # the second Ctrl-C: cancel what runs
            events.cancel.set()
            for ref, (job, _) in inflight.items():
                ray.cancel(ref, force=True)
                on_result(
                    pending_record(job, "cancelled", "cancelled by a second Ctrl-C; runs again next time")
                )
        finally:
            events.running = 0

    def _submit(self, remote, job: Job, out: str) -> tuple:
        """Hand one job to Ray with its resource request; returns its ObjectRef and the request."""
        request = job.request(self.has_gpus)
        options = {"num_cpus": request["CPU"], "num_gpus": request["GPU"], "max_retries": MAX_RETRIES}
        if request["GPU"]:
            options["max_calls"] = 1  # a fresh process per GPU job: it sees only its GPU
        ref = remote.options(**options).remote(job.id, job.params, out, job.device(self.has_gpus), job.cpus)
        return ref, request

    def _result(self, ref, job: Job) -> dict:
        """The job's own record, or a failure record when Ray gave up on it (its worker kept dying)."""
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            return pending_record(job, "failed", f"{type(err).__name__} after {MAX_RETRIES} retries: {first}")


def _answers(address: str) -> None:
    """Refuse a cluster address where nothing accepts a connection within CONNECT_S ("auto" is Ray's to
    find: it reads the address of the cluster this machine is a node of)."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or "]" in port:  # no port, or only an IPv6 address's colons
        host, port = target, str(GCS_PORT)
    host = host.strip("[]")
    if not (host and port.isdigit() and 0 < int(port) < 65536):
        raise ClusterError(
            f"--address {files.short(address)} is not HOST:PORT (e.g. 10.0.0.2:6379) or auto: check it "
            "(or RAY_ADDRESS)"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_S):
            pass
    except OSError as err:
        raise ClusterError(
            f"nothing answers at {address} ({err.strerror or err}): start the cluster's head there first "
            "(`ray start --head`, scripts/ray-node.sh), or fix --address / RAY_ADDRESS (HOST:6379 of the "
            "head, or auto on a node of the cluster)"
        ) from None


def _private_token() -> None:
    """Make the embedded Ray's token file (~/.ray/auth_token) before Ray does, readable by its owner
    only, or make an existing one so; nothing to do when the token comes from the environment."""
    if os.environ.get("RAY_AUTH_MODE") != "token" or {"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(
        os.environ
    ):
        return
    path = Path.home() / ".ray" / "auth_token"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        if not path.is_symlink() and path.stat().st_uid == os.getuid():
            path.chmod(0o600)
        return
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))  # what Ray would write: 256 random bits as hex


def _fits(request: dict[str, float], used: dict[str, float], totals: dict[str, float]) -> bool:
    return all(used[r] + request[r] <= totals.get(r, 0) + 1e-9 for r in request if request[r])
