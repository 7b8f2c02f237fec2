"""A local stand-in for Runpod's GraphQL API (https://api.runpod.io/graphql), which tests cannot reach.

It speaks the same protocol the SDK uses: POST /graphql with a JSON {"query": ...} body and a Bearer
key, answered with {"data": ...} or {"errors": [...]}. Each query is parsed with graphql-core, so a
malformed request fails here as it would there, and the tests read the arguments from the AST.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphql import parse
from graphql.language import FieldNode, OperationDefinitionNode
from graphql.utilities import value_from_ast_untyped

# In neither memory nor id order, so that a listing sorted by memory shows it did the sorting.
GPUS = {
    "NVIDIA H100 80GB HBM3": {"id": "NVIDIA H100 80GB HBM3", "displayName": "H100 SXM", "memoryInGb": 80},
    "NVIDIA GeForce RTX 4090": {"id": "NVIDIA GeForce RTX 4090", "displayName": "RTX 4090", "memoryInGb": 24},
    "NVIDIA A40": {"id": "NVIDIA A40", "displayName": "A40", "memoryInGb": 48},
}
SSH_IP = "203.0.113.7"  # TEST-NET-3: documentation addresses, never contacted
SSH_PORT = 40022


@dataclasses.dataclass
class Call:
    """One request as the server saw it: its top-level field, that field's arguments, the headers."""

    field: str
    args: dict[str, Any]
    query: str
    headers: dict[str, str]


class FakeRunpod:
    def __init__(self, api_key: str = "rp_test_key") -> None:
        self.api_key = api_key
        self.calls: list[Call] = []
        self.pods: dict[str, dict[str, Any]] = {}
        self.polls_before_ssh = 0  # pod() lookups that still show no public port
        self.fail_with: tuple[int, str] | None = None  # (HTTP status, body) for every request
        self.graphql_error: str | None = None  # answer creation with this GraphQL error
        self.raw_reply: bytes | None = None  # answer every request with these bytes (status line and all)
        self.data_for: dict[str, object] = {}  # field -> the "data" to answer it with (a hostile answer)
        self.ssh_ip = SSH_IP  # the public address the API gives a pod's SSH port
        self.ssh_port: object = SSH_PORT
        self._next = 1
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRunpod:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_pod(self, name: str, status: str = "RUNNING", ssh: bool = True) -> str:
        pod_id = f"pod{self._next:04d}"
        self._next += 1
        self.pods[pod_id] = {
            "id": pod_id,
            "name": name,
            "desiredStatus": status,
            "imageName": "docker.io/me/mjpod:0.1",
            "costPerHr": 0.69,
            "machine": {"gpuDisplayName": "RTX 4090"},
            "runtime": _runtime(self) if ssh else None,
            "polls": 0,
        }
        return pod_id

    def fields(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.field == name]

    def _answer(self, call: Call) -> object:
        if call.field in self.data_for:
            return self.data_for[call.field]
        a = call.args.get("input", {})
        if call.field == "gpuTypes":
            if "id" in a:
                return {"gpuTypes": [GPUS[a["id"]]] if a["id"] in GPUS else []}
            return {"gpuTypes": list(GPUS.values())}
        if call.field == "myself":
            return {"myself": {"pods": [_public(p) for p in self.pods.values()]}}
        if call.field == "pod":
            pod = self.pods.get(a.get("podId"))
            if pod:
                pod["polls"] += 1
                if pod["polls"] > self.polls_before_ssh:
                    pod["runtime"] = _runtime(self)
            return {"pod": _public(pod) if pod else None}
        if call.field == "podFindAndDeployOnDemand":
            pod_id = self.add_pod(a["name"], ssh=False)
            self.pods[pod_id]["imageName"] = a["imageName"]
            return {call.field: {"id": pod_id, "imageName": a["imageName"], "env": [], "machineId": "m1"}}
        if call.field == "podTerminate":
            self.pods.pop(a["podId"], None)
            return {"podTerminate": None}
        if call.field == "podStop":
            self.pods[a["podId"]]["desiredStatus"] = "EXITED"
            return {"podStop": {"id": a["podId"], "desiredStatus": "EXITED"}}
        raise ValueError(f"the fake Runpod API does not know {call.field}")

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

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                op = next(
                    d for d in parse(body["query"]).definitions if isinstance(d, OperationDefinitionNode)
                )
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
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._send(401, '{"errors": [{"message": "Unauthorized"}]}')
                if fake.graphql_error and call.field == "podFindAndDeployOnDemand":
                    return self._send(
                        200, json.dumps({"errors": [{"message": fake.graphql_error}], "data": None})
                    )
                self._send(200, json.dumps({"data": fake._answer(call)}))

        return Handler


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
