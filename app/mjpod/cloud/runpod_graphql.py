"""The GraphQL mjpod writes itself where the official `runpod` SDK has no call: the interruptible
(spot) rent, and one pod with the fields `runpod down` and the bench read (its network volume, its
kind, its price). Every value is written as a GraphQL literal (text JSON-escaped), never pasted raw, so
no value can change the request's shape. Names and fields are Runpod's (https://graphql-spec.runpod.io,
docs.runpod.io "Manage Pods").
"""

from __future__ import annotations

import json
import math


class Enum(str):
    """A GraphQL enum value (written bare: cloudType: SECURE)."""


def literal(value: object) -> str:
    """`value` as a GraphQL input literal."""
    if value is None:
        return "null"
    if isinstance(value, Enum):
        if not value.isidentifier():
            raise ValueError(f"{value!r} is no GraphQL enum value")
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is no GraphQL number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are GraphQL's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_name(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no GraphQL literal for {type(value).__name__}")


def _name(key: str) -> str:
    if not key.isidentifier():
        raise ValueError(f"{key!r} is no GraphQL name")
    return key


POD_FIELDS = """
    id name imageName desiredStatus podType costPerHr gpuCount volumeInGb containerDiskInGb
    volumeMountPath networkVolumeId
    runtime { ports { ip isIpPublic privatePort publicPort type } }
    machine { gpuDisplayName }
"""


def rent_interruptable(fields: dict[str, object]) -> str:
    """The mutation renting a spot pod: `fields` are PodRentInterruptableInput's (bidPerGpu among them)."""
    return f"mutation {{ podRentInterruptable(input: {literal(fields)}) {{ {POD_FIELDS} }} }}"


def pod_query(pod_id: str) -> str:
    """One pod with the fields mjpod reads (a superset of what the SDK's get_pod asks)."""
    return f"query pod {{ pod(input: {literal({'podId': pod_id})}) {{ {POD_FIELDS} }} }}"
