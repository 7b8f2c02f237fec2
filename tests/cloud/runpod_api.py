"""A local stand-in for Runpod's APIs, which tests cannot reach: the GraphQL API
(https://api.runpod.io/graphql) and the REST API's network volumes (https://rest.runpod.io/v1).

It speaks the same protocol the SDK uses: POST /graphql with a JSON {"query": ...} body and a Bearer
key, answered with {"data": ...} or {"errors": [...]}. Each query is parsed with graphql-core and
validated against runpod_schema.graphql (Runpod's own names and types), so a malformed request, or a
mutation, argument or field Runpod does not have, fails here as it would there; the tests read the
arguments from the AST. REST: POST /v1/networkvolumes with a JSON body, answered with the new volume.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from graphql import build_schema, parse, validate
from graphql.language import FieldNode, OperationDefinitionNode
from graphql.utilities import value_from_ast_untyped

SCHEMA = build_schema((Path(__file__).with_name("runpod_schema.graphql")).read_text())

# In neither memory nor id order, so that a listing sorted by memory shows it did the sorting.
GPUS = {
    "NVIDIA H100 80GB HBM3": {"id": "NVIDIA H100 80GB HBM3", "displayName": "H100 SXM", "memoryInGb": 80},
    "NVIDIA GeForce RTX 4090": {"id": "NVIDIA GeForce RTX 4090", "displayName": "RTX 4090", "memoryInGb": 24},
    "NVIDIA A40": {"id": "NVIDIA A40", "displayName": "A40", "memoryInGb": 48},
}
# $/hr per GPU, as gpuTypes(input: {id}) answers them: on demand, spot, and lowestPrice's two figures
PRICES = {
    "NVIDIA H100 80GB HBM3": {
        "securePrice": 2.99, "communityPrice": 2.69, "secureSpotPrice": 1.75, "communitySpotPrice": 1.55,
        "minimumBidPrice": 1.55, "uninterruptablePrice": 2.69,
    },
    "NVIDIA GeForce RTX 4090": {
        "securePrice": 0.69, "communityPrice": 0.34, "secureSpotPrice": 0.35, "communitySpotPrice": 0.2,
        "minimumBidPrice": 0.2, "uninterruptablePrice": 0.34,
    },
    "NVIDIA A40": {
        "securePrice": 0.4, "communityPrice": 0.35, "secureSpotPrice": 0.2, "communitySpotPrice": 0.17,
        "minimumBidPrice": 0.17, "uninterruptablePrice": 0.35,
    },
}  # fmt: skip
SSH_IP = "203.0.113.7"  # TEST-NET-3: documentation addresses, never contacted
SSH_PORT = 40022
NO_INSTANCES = "There are no longer any instances available with the requested specifications. Please refresh and try again."
OTHER_DATA_CENTER = "The selected network volume is in another data center than the one requested."


@dataclasses.dataclass
class Call:
    """One request as the server saw it: its top-level field, that field's arguments, the headers."""

    field: str
    args: dict[str, Any]
    query: str
    headers: dict[str, str]


class FakeRunpod:
    """`host` is 127.0.0.1 unless a test must reach it from a container (the Docker bridge's address)."""

    def __init__(self, api_key: str = "rp_test_key", host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        # keys that act on one pod only (what Runpod injects into a pod as RUNPOD_API_KEY): key -> pod id
        self.pod_keys: dict[str, str] = {}
        self.calls: list[Call] = []
        self.rest_calls: list[tuple[str, dict[str, Any]]] = []  # (path, JSON body)
        self.pods: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.polls_before_ssh = 0  # pod() lookups that still show no public port
        self.fail_with: tuple[int, str] | None = None  # (HTTP status, body) for every request
        self.graphql_error: str | None = None  # answer creation (on demand or spot) with this GraphQL error
        self.raw_reply: bytes | None = None  # answer every request with these bytes (status line and all)
        self.spot_capacity: dict[str, float] = {}  # GPU id -> the lowest bid that still finds a machine
        self.data_for: dict[str, object] = {}  # field -> the "data" to answer it with (a hostile answer)
        self.ssh_ip = SSH_IP  # the public address the API gives a pod's SSH port
        self.ssh_port: object = SSH_PORT
        self.stopped = threading.Event()  # set by every podStop, for tests that wait for one
        self._next = 1
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self.rest_url = f"{self.url}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRunpod:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_pod(self, name: str, status: str = "RUNNING", ssh: bool = True, **fields: Any) -> str:
        pod_id = f"pod{self._next:04d}"
        self._next += 1
        self.pods[pod_id] = {
            "id": pod_id,
            "name": name,
            "desiredStatus": status,
            "imageName": "docker.io/me/mjpod:0.1",
            "costPerHr": 0.69,
            "gpuCount": 1,
            "podType": "RESERVED",
            "volumeInGb": 20,
            "containerDiskInGb": 40,
            "networkVolumeId": None,
            "machine": {"gpuDisplayName": "RTX 4090"},
            "runtime": _runtime(self) if ssh else None,
            "polls": 0,
            **fields,
        }
        return pod_id

    def add_volume(self, name: str, data_center: str = "EU-RO-1", size: int = 50) -> str:
        volume_id = f"vol{self._next:04d}x"
        self._next += 1
        self.volumes[volume_id] = {"id": volume_id, "name": name, "size": size, "dataCenterId": data_center}
        return volume_id

    def fields(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.field == name]

    def _refusal(self, call: Call) -> str | None:
        """Why a pod-scoped key may not make this call (None: it may)."""
        key = call.headers.get("Authorization", "").removeprefix("Bearer ")
        if key not in self.pod_keys:
            return None
        own = self.pod_keys[key]
        if call.field in ("pod", "podStop", "podTerminate") and call.args["input"]["podId"] == own:
            return None
        return "You do not have permission to perform this action."

    def _answer(self, call: Call) -> object:
        if call.field in self.data_for:
            return self.data_for[call.field]
        a = call.args.get("input", {})
        if call.field == "gpuTypes":
            if "id" in a:
                return {"gpuTypes": [GPUS[a["id"]] | _prices(a["id"])] if a["id"] in GPUS else []}
            return {"gpuTypes": list(GPUS.values())}
        if call.field == "myself":
            return {
                "myself": {
                    "id": "user1",
                    "pubKey": "",
                    "pods": [_public(p) for p in self.pods.values()],
                    "networkVolumes": list(self.volumes.values()),
                }
            }
        if call.field == "pod":
            pod = self.pods.get(a.get("podId"))
            if pod:
                pod["polls"] += 1
                if pod["polls"] > self.polls_before_ssh:
                    pod["runtime"] = _runtime(self)
            return {"pod": _public(pod) if pod else None}
        if call.field in ("podFindAndDeployOnDemand", "podRentInterruptable"):
            return {call.field: self._deploy(call.field, a)}
        if call.field == "podTerminate":
            self.pods.pop(a["podId"], None)
            return {"podTerminate": None}
        if call.field == "podStop":
            self.pods[a["podId"]]["desiredStatus"] = "EXITED"
            self.stopped.set()
            return {"podStop": {"id": a["podId"], "desiredStatus": "EXITED"}}
        raise ValueError(f"the fake Runpod API does not know {call.field}")

    def _deploy(self, field: str, a: dict[str, Any]) -> dict[str, Any]:
        """A new pod, as Runpod places it: on demand at the GPU's price, spot at the bid (when some
        machine takes that bid), in the network volume's data centre."""
        volume = self.volumes.get(a.get("networkVolumeId") or "")
        if a.get("networkVolumeId") and not volume:
            raise _Refused("Network volume not found.")
        if volume and a.get("dataCenterId") not in (None, volume["dataCenterId"]):
            raise _Refused(OTHER_DATA_CENTER)
        count = a.get("gpuCount") or 1
        price = PRICES[a["gpuTypeId"]]
        if field == "podRentInterruptable":
            if a["bidPerGpu"] < self.spot_capacity.get(a["gpuTypeId"], price["minimumBidPrice"]):
                raise _Refused(NO_INSTANCES)
            cost, kind = a["bidPerGpu"] * count, "INTERRUPTABLE"
        else:
            cost, kind = (
                price["communityPrice" if a.get("cloudType") == "COMMUNITY" else "securePrice"] * count,
                "RESERVED",
            )
        pod_id = self.add_pod(
            a["name"],
            ssh=False,
            imageName=a["imageName"],
            costPerHr=round(cost, 4),
            gpuCount=count,
            podType=kind,
            volumeInGb=0 if volume else a.get("volumeInGb", 0),
            networkVolumeId=volume["id"] if volume else None,
        )
        return {
            "id": pod_id,
            "imageName": a["imageName"],
            "env": [],
            "machineId": "m1",
            "costPerHr": round(cost, 4),
        }

    def _rest(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.rest_calls.append((path, body))
        if path != "/v1/networkvolumes":
            return 404, {"error": "not found"}
        if not isinstance(body.get("size"), int) or not 0 < body["size"] <= 4000:
            return 400, {"error": "size must be between 1 and 4000"}
        volume_id = self.add_volume(body["name"], body["dataCenterId"], body["size"])
        return 200, self.volumes[volume_id]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: str, kind: str = "application/json") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                return key == fake.api_key or key in fake.pod_keys

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.startswith("/v1/"):
                    if not self._authorized() or self.headers.get("Authorization", "")[7:] in fake.pod_keys:
                        return self._send(401, '{"error": "invalid api key"}')
                    status, answer = fake._rest(self.path, body)
                    return self._send(status, json.dumps(answer))
                document = parse(body["query"])
                op = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
                field = next(s for s in op.selection_set.selections if isinstance(s, FieldNode))
                args = {arg.name.value: value_from_ast_untyped(arg.value) for arg in field.arguments or ()}
                call = Call(field.name.value, args, body["query"], dict(self.headers))
                fake.calls.append(call)
                if fake.raw_reply is not None:
                    self.wfile.write(fake.raw_reply)
                    self.close_connection = True
                    return None
                if self.path != "/graphql":
                    return self._send(404, '{"error": "not found"}')
                if fake.fail_with:
                    return self._send(*fake.fail_with, kind="text/html")
                if not self._authorized():
                    return self._send(401, '{"errors": [{"message": "Unauthorized"}]}')
                invalid = validate(SCHEMA, document)
                if invalid:  # as a GraphQL server answers a query its schema does not allow
                    return self._send(400, json.dumps({"errors": [{"message": e.message} for e in invalid]}))
                refused = fake._refusal(call)
                if refused is None and fake.graphql_error and call.field.startswith(("podFind", "podRent")):
                    refused = fake.graphql_error
                try:
                    if refused:
                        raise _Refused(refused)
                    answer = fake._answer(call)
                except _Refused as err:
                    return self._send(200, json.dumps({"errors": [{"message": str(err)}], "data": None}))
                self._send(200, json.dumps({"data": answer}))

        return Handler


class _Refused(Exception):
    """What Runpod answers with a GraphQL error."""


def _prices(gpu: str) -> dict[str, Any]:
    p = PRICES[gpu]
    return {
        **{k: v for k, v in p.items() if k not in ("minimumBidPrice", "uninterruptablePrice")},
        "lowestPrice": {
            "minimumBidPrice": p["minimumBidPrice"],
            "uninterruptablePrice": p["uninterruptablePrice"],
        },
    }


def _runtime(fake: FakeRunpod) -> dict[str, Any]:
    return {
        "ports": [
            {"ip": "100.65.0.2", "isIpPublic": False, "privatePort": 22, "publicPort": 22, "type": "tcp"},
            {
                "ip": fake.ssh_ip,
                "isIpPublic": True,
                "privatePort": 22,
                "publicPort": fake.ssh_port,
                "type": "tcp",
            },
        ]
    }


def _public(pod: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pod.items() if k != "polls"}
