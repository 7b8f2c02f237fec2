"""The appliance on a Runpod GPU pod, through the official `runpod` SDK: create it with the caller's
SSH key, find it again by name, say how to reach it over SSH (and VS Code Remote-SSH), end it.

The SDK writes every value into its GraphQL text without escaping, so each value is checked here
first; its errors (HTTP, GraphQL, a GPU id it does not know) come back as RunpodError with a fix.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mjpod.errors import MjpodError
from mjpod.stream.protocol import plain_text
from mjpod.stream.server import DEFAULT_PORT as STREAM_PORT

CLOUDS = ("SECURE", "COMMUNITY", "ALL")
# Host CUDA versions (as Runpod reports a host's driver) that run the image's warp-lang wheel:
# the PyPI wheel is built with CUDA 13 (driver R580+); the +cu12 wheel runs on any CUDA 12 driver.
CUDA_FOR_WARP = {
    13: ("13.0",),
    12: (*(f"12.{minor}" for minor in range(10)), "13.0"),
}
KEY_FILES = ("id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub")
KEY_TYPES = re.compile(
    r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-[a-z0-9-]+@openssh\.com) [A-Za-z0-9+/=]+( .*)?$"
)
POD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # it becomes an ~/.ssh/config Host alias
HOST_NAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
API_KEY_FIX = (
    "create an API key in the Runpod console (Settings -> API Keys) and `export RUNPOD_API_KEY=...` "
    "(or run `runpod config`)"
)


class RunpodError(MjpodError):
    """A Runpod problem stated with its fix; the CLI prints it and exits."""


@dataclasses.dataclass(frozen=True)
class PodRequest:
    name: str
    image: str
    gpu: str
    public_key: str
    cloud: str = "SECURE"
    gpu_count: int = 1
    disk_gb: int = 40
    volume_gb: int = 20
    warp_cuda: int = 13
    ports: tuple[str, ...] = ("22/tcp",)

    def env(self) -> dict[str, str]:
        """The pod's environment: the key for the entrypoint and, with a volume, the SSH host keys kept
        on it, so that a stopped and resumed pod answers with the same identity."""
        env = {"PUBLIC_KEY": self.public_key}
        if self.volume_gb > 0:
            env["MJPOD_HOST_KEY_DIR"] = "/workspace/.ssh/host_keys"
        return env

    def check(self) -> None:
        """Refuse what Runpod would refuse later (or what would break the SDK's GraphQL text)."""
        if "/" not in self.image.split("@")[0]:
            raise RunpodError(
                f"image {self.image!r} names no registry or account, so Runpod cannot pull it: push it "
                "first (`make push IMAGE=docker.io/<you>/mjpod TAG=0.1`) and pass that name "
                "(`make runpod-up IMAGE=docker.io/<you>/mjpod TAG=0.1`)"
            )
        if self.cloud not in CLOUDS:
            raise RunpodError(f"cloud type {self.cloud!r} is not one of {', '.join(CLOUDS)}")
        if self.warp_cuda not in CUDA_FOR_WARP:
            raise RunpodError(
                f"--warp-cuda is the image's WARP_CUDA build arg, 12 or 13; got {self.warp_cuda}"
            )
        for label, value in (("--gpu-count", self.gpu_count), ("--disk", self.disk_gb)):
            if value < 1:
                raise RunpodError(f"{label} must be at least 1; got {value}")
        if self.volume_gb < 0:
            raise RunpodError(f"--volume must be 0 (none) or more GB; got {self.volume_gb}")
        if "22/tcp" not in self.ports:
            raise RunpodError("the pod needs port 22/tcp for SSH; keep it in --port")
        for port in self.ports:
            number = port.partition("/")[0]
            if not re.fullmatch(r"\d{1,5}/(tcp|http)", port) or not 0 < int(number) < 65536:
                raise RunpodError(
                    f"port {port!r} is not PORT/tcp or PORT/http with PORT 1..65535 (e.g. 22/tcp, 8080/http)"
                )
        for label, value in (("name", self.name), ("image", self.image), ("gpu", self.gpu)):
            _plain(label, value)
        if not POD_NAME.fullmatch(self.name):
            raise RunpodError(
                f"pod name {self.name!r} must be letters, digits, '.', '_' or '-' (up to 64): it becomes "
                "the Host alias of its ~/.ssh/config entry"
            )
        check_public_key(self.public_key, "the public key")


@dataclasses.dataclass(frozen=True)
class Pod:
    id: str
    name: str
    status: str
    image: str
    gpu: str
    cost_per_hr: float | None
    ssh_host: str | None
    ssh_port: int | None

    @classmethod
    def from_api(cls, data: object) -> Pod:
        """A pod as the API describes it, every field checked: an answer of another shape (a proxy's,
        a changed API's, a hostile one's) is a RunpodError naming what is wrong, never a traceback."""
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("id"), str)
            or not POD_NAME.fullmatch(data["id"])
        ):
            raise RunpodError(
                f"the Runpod API described a pod without an id of letters and digits: {_shown(data)}; "
                "try again later"
            )
        pod_id = data["id"]
        runtime = data.get("runtime") or {}
        ports = (runtime.get("ports") if isinstance(runtime, dict) else runtime) or []
        if not isinstance(ports, list) or not all(isinstance(p, dict) for p in ports):
            raise RunpodError(
                f"the Runpod API gave pod {_shown(pod_id)} ports that are not a list of objects: {_shown(ports)}"
            )
        ssh = next((p for p in ports if p.get("privatePort") == 22 and p.get("isIpPublic")), None)
        machine = data.get("machine") if isinstance(data.get("machine"), dict) else {}
        cost = data.get("costPerHr")
        return cls(
            id=pod_id,
            name=_text(data.get("name"), "name", pod_id),
            status=_text(data.get("desiredStatus"), "status", pod_id) or "?",
            image=_text(data.get("imageName"), "image", pod_id),
            gpu=_text(machine.get("gpuDisplayName"), "GPU", pod_id),
            cost_per_hr=cost if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
            ssh_host=_text(ssh.get("ip"), "SSH address", pod_id) if ssh else None,
            ssh_port=_api_port(ssh.get("publicPort"), pod_id) if ssh else None,
        )


def _text(value: object, field: str, pod_id: str) -> str:
    """A text field of an API answer, control characters escaped for the terminal ("" for none); what
    is pasted into a shell or ~/.ssh/config is checked again there (ssh_target)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RunpodError(
            f"the Runpod API gave pod {_shown(pod_id)} a {field} that is not text: {_shown(value)}"
        )
    return plain_text(value, limit=1000)


def _shown(value: object) -> str:
    """An API value quoted in a message: short, with control characters escaped."""
    return plain_text(repr(value), limit=80)


def _api_port(value: object, pod_id: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise RunpodError(
            f"the Runpod API gave pod {_shown(pod_id)} an SSH port that is no number: {_shown(value)}"
        )
    return int(value)


def ssh_target(pod: Pod) -> tuple[str, int]:
    """The pod's SSH address and port, checked: both are pasted into a shell and ~/.ssh/config, where
    an API answer holding a line break (and `ProxyCommand …`) would run commands on this machine."""
    host, port = pod.ssh_host or "", pod.ssh_port
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOST_NAME.fullmatch(host):
            raise RunpodError(
                f"the Runpod API gave pod {pod.id!r} an SSH address that is neither an IP address nor a "
                f"host name: {host!r}; nothing was printed. Check the pod in the Runpod console"
            ) from None
    if port is None or not 0 < port < 65536:
        raise RunpodError(f"the Runpod API gave pod {pod.id!r} an invalid SSH port {port!r}")
    return host, port


def _plain(label: str, value: str) -> None:
    if not value or any(c in value for c in '"\\\n\r'):
        raise RunpodError(f"the {label} {value!r} is empty or holds quotes, backslashes or line breaks")


def check_public_key(text: str, source: str) -> str:
    """The key line, or a RunpodError saying what `source` holds instead of an OpenSSH public key."""
    line = text.strip()
    if "PRIVATE KEY" in line:
        raise RunpodError(
            f"{source} is a PRIVATE key: pass the .pub file (e.g. --key ~/.ssh/id_ed25519.pub) and never upload the private one"
        )
    if "\n" in line or not KEY_TYPES.match(line) or any(c in line for c in '"\\'):
        raise RunpodError(
            f"{source} is not one OpenSSH public key line ('ssh-ed25519 AAAA... you@host'); "
            "create a key with `ssh-keygen -t ed25519` and pass its .pub file with --key"
        )
    return line


def find_public_key(path: Path | None = None) -> tuple[str, Path | None]:
    """(the key line, its private key file if known): --key, else PUBLIC_KEY, else ~/.ssh/id_*.pub."""
    if path is None and os.environ.get("PUBLIC_KEY"):
        return check_public_key(os.environ["PUBLIC_KEY"], "PUBLIC_KEY"), None
    candidates = [path] if path else [Path.home() / ".ssh" / name for name in KEY_FILES]
    for candidate in candidates:
        if candidate.is_file():
            if candidate.suffix != ".pub" and candidate.with_suffix(".pub").is_file():
                candidate = candidate.with_suffix(".pub")  # given the private key's path: use its .pub
            text = candidate.read_text(errors="replace")
            private = candidate.with_suffix("") if candidate.suffix == ".pub" else None
            return check_public_key(text, str(candidate)), private
    if path:
        raise RunpodError(
            f"no key file at {path}: pass an existing .pub file, e.g. --key ~/.ssh/id_ed25519.pub"
        )
    raise RunpodError(
        "no SSH public key found (~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub, or PUBLIC_KEY): "
        "create one with `ssh-keygen -t ed25519` or pass --key PATH.pub"
    )


class Runpod:
    """The SDK calls mjpod needs, with the API key checked first and every failure explained."""

    def __init__(self, api_key: str | None = None) -> None:
        key = api_key or os.environ.get("RUNPOD_API_KEY")
        import runpod  # the SDK is slow to import: only when a Runpod command runs

        key = key or runpod.api_key  # ~/.runpod/config.toml, written by `runpod config`
        if not key:
            raise RunpodError(f"RUNPOD_API_KEY is not set: {API_KEY_FIX}")
        self.sdk = runpod
        self.api_key = key
        self.sdk.api_key = key

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import requests
        from runpod import error

        base = os.environ.get("RUNPOD_API_BASE_URL", "https://api.runpod.io")
        try:
            return fn(*args, **kwargs)
        except error.AuthenticationError:
            raise RunpodError(f"Runpod refused the API key while trying to {what}: {API_KEY_FIX}") from None
        except error.QueryError as err:
            raise RunpodError(f"Runpod could not {what}: {err}{_hint(str(err))}") from None
        except requests.exceptions.JSONDecodeError:
            raise RunpodError(
                f"the Runpod API at {base} answered with something that is not JSON while trying to {what} "
                "(an outage or a proxy page?); try again later"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
            raise RunpodError(
                f"cannot reach the Runpod API at {base} to {what} ({type(err).__name__}); check the network "
                "(RUNPOD_API_BASE_URL overrides the address)"
            ) from None
        except requests.exceptions.RequestException as err:  # a bad base URL, a broken body, ...
            raise RunpodError(
                f"the request to the Runpod API at {base} failed while trying to {what} "
                f"({type(err).__name__}: {err}); check RUNPOD_API_BASE_URL (if set) and try again"
            ) from None
        except (KeyError, TypeError, IndexError, AttributeError) as err:
            raise RunpodError(
                f"the Runpod API gave an unexpected answer while trying to {what} ({_shown(err)})"
            ) from None
        except RecursionError:
            raise RunpodError(
                f"the Runpod API answered with JSON nested too deeply to read while trying to {what}"
            ) from None

    def gpu_types(self) -> list[dict[str, Any]]:
        """Runpod's GPU types: id, displayName (text, control characters escaped) and memoryInGb (a
        number or None), checked, as they are printed."""
        types = self._call("list GPU types", self.sdk.get_gpus)
        if not isinstance(types, list) or not all(
            isinstance(t, dict) and isinstance(t.get("id"), str) for t in types
        ):
            raise RunpodError(
                f"the Runpod API listed GPU types that are not objects with an id: {_shown(types)}"
            )
        return [
            {
                "id": plain_text(t["id"]),
                "displayName": plain_text(t.get("displayName") or ""),
                "memoryInGb": t["memoryInGb"] if isinstance(t.get("memoryInGb"), int | float) else None,
            }
            for t in types
        ]

    def pods(self) -> list[Pod]:
        pods = self._call("list your pods", self.sdk.get_pods)
        if not isinstance(pods, list):
            raise RunpodError(
                f"the Runpod API listed your pods as something else than a list: {_shown(pods)}"
            )
        return [Pod.from_api(p) for p in pods]

    def pod(self, pod_id: str) -> Pod:
        _plain("pod id", pod_id)
        data = self._call(f"look up pod {pod_id}", self.sdk.get_pod, pod_id)
        if not data:
            raise RunpodError(
                f"there is no pod {pod_id!r} in this Runpod account (`mjpod runpod ssh` lists yours)"
            )
        return Pod.from_api(data)

    def find(self, name: str, pod_id: str | None = None) -> Pod:
        """The one pod with this id, or named `name`; an error listing the candidates otherwise."""
        if pod_id:
            return self.pod(pod_id)
        pods = self.pods()
        named = [p for p in pods if p.name == name]
        if len(named) == 1:
            return self.pod(named[0].id)
        if not named:
            mine = ", ".join(f"{p.name} ({p.id}, {p.status})" for p in pods) or "none"
            raise RunpodError(f"no pod named {name!r} (your pods: {mine}); `make runpod-up` creates one")
        ids = ", ".join(f"{p.id} ({p.status})" for p in named)
        raise RunpodError(f"{len(named)} pods are named {name!r}: {ids}; pass --id to pick one")

    def create(self, req: PodRequest) -> Pod:
        req.check()
        existing = [p for p in self.pods() if p.name == req.name]
        if existing:
            raise RunpodError(
                f"a pod named {req.name!r} already exists ({existing[0].id}, {existing[0].status}): "
                "`make runpod-ssh` reaches it, `make runpod-down` ends it, or pick another RUNPOD_NAME"
            )
        try:
            data = self._call(
                f"create a pod with {req.gpu}",
                self.sdk.create_pod,
                name=req.name,
                image_name=req.image,
                gpu_type_id=req.gpu,
                cloud_type=req.cloud,
                gpu_count=req.gpu_count,
                container_disk_in_gb=req.disk_gb,
                volume_in_gb=req.volume_gb,
                volume_mount_path="/workspace",
                ports=",".join(req.ports),
                env=req.env(),
                allowed_cuda_versions=list(CUDA_FOR_WARP[req.warp_cuda]),
                support_public_ip=True,
                start_ssh=True,
            )
        except ValueError as err:  # create_pod's own check that the GPU type exists
            if "No GPU found" not in str(err):
                raise
            raise RunpodError(
                f"Runpod has no GPU type {req.gpu!r}: `mjpod runpod gpus` lists the ids "
                "(e.g. 'NVIDIA GeForce RTX 4090', 'NVIDIA H100 80GB HBM3')"
            ) from None
        if not isinstance(data, dict):
            raise RunpodError(
                f"the Runpod API answered the new pod with something else than an object: {_shown(data)}"
            )
        return Pod.from_api({**data, "name": req.name, "desiredStatus": "CREATED"})

    def wait_for_ssh(
        self,
        pod_id: str,
        timeout: float = 600,
        poll: float = 5,
        progress: Callable[[Pod], None] | None = None,
    ) -> Pod:
        """The pod once its SSH port is published (after the image pull), or an error after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            pod = self.pod(pod_id)
            if pod.ssh_host and pod.ssh_port:
                return pod
            if progress:
                progress(pod)
            if time.monotonic() + poll > deadline:
                raise RunpodError(
                    f"pod {pod_id} has no public SSH port after {timeout:.0f} s (status {pod.status}); it may "
                    "still be pulling the image: `make runpod-ssh` later, or read the pod's logs in the console"
                )
            time.sleep(poll)

    def terminate(self, pod: Pod) -> None:
        self._call(f"terminate pod {pod.id}", self.sdk.terminate_pod, pod.id)

    def stop(self, pod: Pod) -> None:
        self._call(f"stop pod {pod.id}", self.sdk.stop_pod, pod.id)


def _hint(message: str) -> str:
    lowered = message.lower()
    if "no longer any instances available" in lowered or "no instances" in lowered:
        return (
            "; no such GPU is free in that cloud now: try --cloud ALL or COMMUNITY, another --gpu, "
            "or fewer --gpu-count"
        )
    if "cuda" in lowered:
        return "; for hosts with older drivers build the image with WARP_CUDA=12 and pass --warp-cuda 12"
    return ""


def ssh_command(pod: Pod, identity: Path | None) -> list[str]:
    host, port = ssh_target(pod)
    argv = ["ssh", f"root@{host}", "-p", str(port)]
    if identity:
        argv += ["-i", str(identity)]
    return argv


def ssh_config_entry(pod: Pod, identity: Path | None) -> str:
    """A ~/.ssh/config block for VS Code Remote-SSH: the host key is remembered per pod (pods reuse
    addresses), and the stream and web view ports come along while connected."""
    host, port = ssh_target(pod)
    if not POD_NAME.fullmatch(pod.name) or not POD_NAME.fullmatch(pod.id):
        raise RunpodError(
            f"pod {pod.id!r} named {pod.name!r} cannot be an ~/.ssh/config Host alias (letters, digits, "
            f"'.', '_', '-'): rename it in the Runpod console, or connect with `ssh root@{host} -p {port}`"
        )
    lines = [
        f"Host mjpod-{pod.name}",
        f"    HostName {host}",
        f"    Port {port}",
        "    User root",
    ]
    if identity:
        lines += [f"    IdentityFile {_home_relative(identity)}", "    IdentitiesOnly yes"]
    lines += [
        f"    HostKeyAlias mjpod-{pod.id}",
        "    StrictHostKeyChecking accept-new",
        "    ServerAliveInterval 30",
        f"    LocalForward {STREAM_PORT} 127.0.0.1:{STREAM_PORT}",
        "    LocalForward 8080 127.0.0.1:8080",
    ]
    return "\n".join(lines)


def _home_relative(path: Path) -> str:
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)
