"""Runpod network volumes: storage in one data centre that outlives pods, mounted at /workspace so the
videos, sweep results, SSH host keys and Warp kernel cache of one pod are there for the next.

A pod can mount only a volume of its own data centre, so the volume decides where the pod goes. Runpod's
GraphQL API lists them (`myself { networkVolumes }`, through the SDK); its REST API creates them
(POST https://rest.runpod.io/v1/networkvolumes, `RUNPOD_REST_BASE_URL` moves it).
"""

from __future__ import annotations

import dataclasses
import re

from mjpod.errors import MjpodError
from mjpod.stream.protocol import plain_text

DATA_CENTER = re.compile(r"[A-Z]{2}-[A-Z]{2,4}-\d{1,3}")  # EU-RO-1, US-KS-2, CA-MTL-1
VOLUME_ID = re.compile(r"[A-Za-z0-9]{4,64}")
VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}")
REST_BASE = "https://rest.runpod.io/v1"


class VolumeError(MjpodError):
    """A network volume that cannot be used as asked; the message says which to use instead."""


@dataclasses.dataclass(frozen=True)
class NetworkVolume:
    id: str
    name: str
    size_gb: int | None
    data_center: str

    @classmethod
    def from_api(cls, data: object) -> NetworkVolume:
        if not (
            isinstance(data, dict)
            and isinstance(data.get("id"), str)
            and VOLUME_ID.fullmatch(data["id"])
            and isinstance(data.get("dataCenterId"), str)
            and DATA_CENTER.fullmatch(data["dataCenterId"])
        ):
            raise VolumeError(
                f"the Runpod API described a network volume without a plain id and data centre: {plain_text(repr(data), 80)}"
            )
        name, size = data.get("name"), data.get("size")
        return cls(
            id=data["id"],
            name=name if isinstance(name, str) and VOLUME_NAME.fullmatch(name) else "",
            size_gb=size if isinstance(size, int) and not isinstance(size, bool) else None,
            data_center=data["dataCenterId"],
        )

    def describe(self) -> str:
        size = f"{self.size_gb} GB, " if self.size_gb is not None else ""
        return f"{self.name or 'unnamed'} ({self.id}, {size}{self.data_center})"


def check_data_center(data_center: str) -> str:
    if not DATA_CENTER.fullmatch(data_center):
        raise VolumeError(
            f"data centre {data_center!r} is not a Runpod data centre id such as EU-RO-1 or US-KS-2 "
            "(the Runpod console lists them under Storage -> Network Volumes)"
        )
    return data_center


def check_wanted(wanted: str) -> str:
    """An id or a name as --network-volume takes it (it goes into the API request and ~/.ssh lines)."""
    if not VOLUME_NAME.fullmatch(wanted):
        raise VolumeError(
            f"--network-volume {wanted!r} is neither a volume id nor a name of letters, digits, ' ', "
            "'.', '_' and '-' (up to 128)"
        )
    return wanted


def pick(volumes: list[NetworkVolume], wanted: str, data_center: str | None) -> NetworkVolume | None:
    """The volume with id `wanted`, else the one named so; None when there is none. An ambiguous name,
    or a volume in another data centre than --data-center asks for, is refused with the fix."""
    found = [v for v in volumes if v.id == wanted] or [v for v in volumes if v.name == wanted]
    if len(found) > 1:
        ids = ", ".join(v.describe() for v in found)
        raise VolumeError(f"{len(found)} network volumes are named {wanted!r}: {ids}; pass the id instead")
    if not found:
        return None
    volume = found[0]
    if data_center and volume.data_center != data_center:
        raise VolumeError(
            f"network volume {volume.describe()} is in data centre {volume.data_center}, not {data_center}: a "
            f"pod mounts only a volume of its own data centre. Drop --data-center (the pod then goes to "
            f"{volume.data_center}), or use or create a volume in {data_center}"
        )
    return volume


def missing(wanted: str, volumes: list[NetworkVolume]) -> VolumeError:
    """The error for a --network-volume that names no volume, listing the account's volumes."""
    yours = ", ".join(v.describe() for v in volumes) or "none"
    return VolumeError(
        f"no network volume {wanted!r} in this Runpod account (yours: {yours}); to create it, add "
        "--create-volume --data-center DC (e.g. EU-RO-1) and --volume SIZE_GB"
    )
