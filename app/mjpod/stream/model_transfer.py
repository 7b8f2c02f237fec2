"""How a model travels to a client that has none of its files: compiled MJB, zlib, with a digest.

MJB is exact (the client draws the very model the server steps, meshes and all); self-contained
XML rides along so seed-style clients that call `MjSpec.from_string(packet["xml"])` keep working.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from pathlib import Path

import mujoco
import numpy as np

from mjpod.stream.protocol import MAX_MODEL, Kind, Message, ProtocolError, Sizes, encode

MAX_RAW_MODEL = 2 * 1024 * 1024 * 1024  # a decompressed MJB; guards against a zlib bomb
MJB_NAME = "model.mjb"


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a client learns about the model besides the model itself."""

    name: str
    path: str  # where the server loaded it (informational: the client never opens it)
    digest: str  # sha256 of the MJB bytes
    sizes: Sizes
    timestep: float
    xml: str | None  # self-contained MJCF, when the model has no file assets


def mjb_bytes(mjm: mujoco.MjModel) -> bytes:
    buf = np.empty(mujoco.mj_sizeModel(mjm), dtype=np.uint8)
    mujoco.mj_saveModel(mjm, None, buf)
    return buf.tobytes()


def self_contained_xml(path: str | Path | None) -> str | None:
    """The MJCF of `path` with includes resolved, when it needs no other file (meshes, textures)."""
    if not path or Path(path).suffix.lower() != ".xml":
        return None
    try:
        spec = mujoco.MjSpec.from_file(str(path))
        if any(
            getattr(a, "file", "")
            for group in (spec.meshes, spec.textures, spec.hfields, spec.skins)
            for a in group
        ):
            return None
        return spec.to_xml()
    except Exception:  # an XML that MuJoCo cannot round-trip still streams as MJB
        return None


def model_message(mjm: mujoco.MjModel, name: str, path: str | Path | None = None) -> tuple[bytes, ModelInfo]:
    """The MODEL message for `mjm` (built once per server) and what it describes."""
    raw = mjb_bytes(mjm)
    xml = self_contained_xml(path)
    info = ModelInfo(
        name, str(path or ""), hashlib.sha256(raw).hexdigest(), Sizes.of(mjm), float(mjm.opt.timestep), xml
    )
    meta = {
        "name": name,
        "path": info.path,
        "digest": info.digest,
        "encoding": "zlib",
        "raw_size": len(raw),
        "sizes": dataclasses.asdict(info.sizes),
        "timestep": info.timestep,
    }
    arrays = {"mjb": np.frombuffer(zlib.compress(raw, 1), dtype=np.uint8)}
    if xml is not None:
        arrays["xml"] = np.frombuffer(xml.encode(), dtype=np.uint8)
    message = encode(Kind.MODEL, meta, arrays)
    if len(message) > MAX_MODEL:
        raise ValueError(f"model {name!r} is {len(message)} bytes compressed; the limit is {MAX_MODEL}")
    return message, info


def read_model(msg: Message) -> tuple[mujoco.MjModel, ModelInfo]:
    """Decompress (bounded), check the digest and sizes, and load the MJB."""
    meta = msg.meta
    raw_size, digest = meta.get("raw_size"), meta.get("digest")
    if meta.get("encoding") != "zlib" or "mjb" not in msg.arrays:
        raise ProtocolError(f"MODEL must carry a zlib 'mjb' array, got encoding {meta.get('encoding')!r}")
    if not isinstance(raw_size, int) or not 0 < raw_size <= MAX_RAW_MODEL or not isinstance(digest, str):
        raise ProtocolError(f"MODEL raw_size {raw_size!r} or digest {digest!r} is invalid")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(msg.arrays["mjb"].tobytes(), raw_size)
    except zlib.error as err:
        raise ProtocolError(f"MODEL bytes do not decompress: {err}") from None
    if len(raw) != raw_size or inflater.unconsumed_tail:
        raise ProtocolError(f"MODEL decompresses to more or less than the announced {raw_size} bytes")
    if hashlib.sha256(raw).hexdigest() != digest:
        raise ProtocolError("MODEL digest does not match its bytes (corrupted in transit)")
    try:
        mjm = mujoco.MjModel.from_binary_path(MJB_NAME, {MJB_NAME: raw})
    except ValueError as err:
        raise ProtocolError(
            f"MODEL is not a loadable MJB for this MuJoCo ({mujoco.__version__}): {err}"
        ) from None
    sizes = Sizes.of(mjm)
    if meta.get("sizes") != dataclasses.asdict(sizes):
        raise ProtocolError(f"MODEL announces sizes {meta.get('sizes')} but the MJB has {sizes}")
    xml = msg.arrays["xml"].tobytes().decode("utf-8", errors="replace") if "xml" in msg.arrays else None
    timestep = meta.get("timestep")
    info = ModelInfo(
        str(meta.get("name", "")),
        str(meta.get("path", "")),
        digest,
        sizes,
        float(timestep) if isinstance(timestep, int | float) else float(mjm.opt.timestep),
        xml,
    )
    return mjm, info
