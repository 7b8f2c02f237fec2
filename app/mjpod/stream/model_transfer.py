"""How a model travels to a client that has none of its files: compiled MJB, zlib, with a digest.

MJB is exact (the client draws the very model the server steps, meshes and all). The MJCF rides
along for seed-style clients, which compile the model themselves: alone when it needs no other
file, or, when the client asks for files, with its meshes and textures under flat, safe names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import zlib
from pathlib import Path
from xml.etree import ElementTree

import mujoco
import numpy as np

from mjpod.stream.protocol import MAX_MODEL, Kind, Message, ProtocolError, Sizes, encode

MAX_RAW_MODEL = 2 * 1024 * 1024 * 1024  # a decompressed MJB; guards against a zlib bomb
MJB_NAME = "model.mjb"
MODEL_XML = "model.xml"  # the MJCF's name beside its assets when a client writes them out
CUBE_SIDES = ("fileright", "fileleft", "fileup", "filedown", "filefront", "fileback")
FILE_ATTRIBUTES = {
    "mesh": ("file",),
    "hfield": ("file",),
    "skin": ("file",),
    "texture": ("file", *CUBE_SIDES),
}
ASSET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")  # no paths, no hidden files


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a client learns about the model besides the model itself."""

    name: str
    path: str  # where the server loaded it (informational: the client never opens it)
    digest: str  # sha256 of the MJB bytes
    sizes: Sizes
    timestep: float
    xml: str | None  # the MJCF (includes resolved), when the server could send it
    assets: dict[str, bytes] = dataclasses.field(default_factory=dict)  # files the MJCF names


def mjb_bytes(mjm: mujoco.MjModel) -> bytes:
    buf = np.empty(mujoco.mj_sizeModel(mjm), dtype=np.uint8)
    mujoco.mj_saveModel(mjm, None, buf)
    return buf.tobytes()


def mjcf_with_assets(path: str | Path | None) -> tuple[str, dict[str, bytes]] | None:
    """The MJCF of `path` (includes resolved) and the files it loads, renamed flat and safe.

    The MJCF is MuJoCo's own `to_xml`, edited here (on the server, never on a client): every file
    attribute points at a flat name in the returned assets and the compiler's asset folders go.
    None when `path` is no MJCF or MuJoCo cannot write it back; the MJB still carries the model.
    """
    if not path or Path(path).suffix.lower() != ".xml":
        return None
    try:
        spec = mujoco.MjSpec.from_file(str(path))
        root = ElementTree.fromstring(spec.to_xml())
        base = Path(spec.modelfiledir)
        folders = {"mesh": base / spec.meshdir, "texture": base / spec.texturedir}
        assets: dict[str, bytes] = {}
        names: dict[Path, str] = {}
        for element in root.iter():
            attributes = FILE_ATTRIBUTES.get(element.tag, ())
            for attribute in attributes:
                file = element.get(attribute)
                if not file:
                    continue
                if attribute == "file" and element.get("name") is None:
                    element.set("name", Path(file).stem)  # MuJoCo's default name, kept under a new file name
                source = ((folders["texture" if element.tag == "texture" else "mesh"]) / file).resolve()
                if source not in names:
                    flat = f"{len(names):03d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', source.name)}"
                    names[source], assets[flat] = flat, source.read_bytes()
                element.set(attribute, names[source])
        for compiler in root.iter("compiler"):
            for attribute in ("assetdir", "meshdir", "texturedir"):
                compiler.attrib.pop(attribute, None)
        return ElementTree.tostring(root, encoding="unicode"), assets
    except Exception:  # an MJCF that MuJoCo cannot write back still streams as MJB
        return None


def self_contained_xml(path: str | Path | None) -> str | None:
    """The MJCF of `path` with includes resolved, when it needs no other file (meshes, textures)."""
    if not path or Path(path).suffix.lower() != ".xml":
        return None
    try:
        spec = mujoco.MjSpec.from_file(str(path))
        groups = (spec.meshes, spec.textures, spec.hfields, spec.skins)
        if any(getattr(a, "file", "") for group in groups for a in group) or any(
            any(t.cubefiles) for t in spec.textures
        ):
            return None
        return spec.to_xml()
    except Exception:  # an XML that MuJoCo cannot round-trip still streams as MJB
        return None


def model_message(
    mjm: mujoco.MjModel, name: str, path: str | Path | None = None, *, files: bool = False
) -> tuple[bytes, ModelInfo]:
    """The MODEL message for `mjm` and what it describes (built once per server and kind).

    With `files`, an MJCF that loads meshes or textures travels with them, for clients that compile
    the model themselves (the seed's `MjSpec.from_file`); without, only a self-contained MJCF does.
    """
    raw = mjb_bytes(mjm)
    xml, assets = self_contained_xml(path), {}
    if xml is None and files:
        mjcf = mjcf_with_assets(path)
        if mjcf is not None and _recompiles(mjm, *mjcf):
            xml, assets = mjcf
    info = ModelInfo(
        name,
        str(path or ""),
        hashlib.sha256(raw).hexdigest(),
        Sizes.of(mjm),
        float(mjm.opt.timestep),
        xml,
        assets,
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
    if assets:
        meta["files"] = [{"name": n, "size": len(b)} for n, b in assets.items()]
        arrays["files"] = np.frombuffer(zlib.compress(b"".join(assets.values()), 1), dtype=np.uint8)
    message = encode(Kind.MODEL, meta, arrays)
    if len(message) > MAX_MODEL:
        raise ValueError(f"model {name!r} is {len(message)} bytes compressed; the limit is {MAX_MODEL}")
    return message, info


def _recompiles(mjm: mujoco.MjModel, xml: str, assets: dict[str, bytes]) -> bool:
    """Whether the renamed MJCF and its files compile to the model the server steps."""
    try:
        again = mujoco.MjSpec.from_string(xml, assets=assets).compile()
    except Exception:
        return False
    same = ("ngeom", "nmesh", "ntex", "nhfield", "nskin")
    return (
        Sizes.of(again) == Sizes.of(mjm)
        and all(getattr(again, n) == getattr(mjm, n) for n in same)
        and np.array_equal(again.geom_dataid, mjm.geom_dataid)
        and np.array_equal(again.mesh_vertnum, mjm.mesh_vertnum)
    )


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
    assets = _read_files(meta.get("files"), msg.arrays.get("files"))
    timestep = meta.get("timestep")
    info = ModelInfo(
        str(meta.get("name", "")),
        str(meta.get("path", "")),
        digest,
        sizes,
        float(timestep) if isinstance(timestep, int | float) else float(mjm.opt.timestep),
        xml,
        assets,
    )
    return mjm, info


def _read_files(listing: object, blob: np.ndarray | None) -> dict[str, bytes]:
    """The MJCF's files: names checked (no paths), total size bounded before inflating."""
    if listing is None and blob is None:
        return {}
    if not isinstance(listing, list) or blob is None:
        raise ProtocolError("MODEL 'files' needs both its listing and its bytes")
    sizes: dict[str, int] = {}
    for entry in listing:
        name, size = (entry.get("name"), entry.get("size")) if isinstance(entry, dict) else (None, None)
        if not isinstance(name, str) or not ASSET_NAME.fullmatch(name) or name == MODEL_XML or name in sizes:
            raise ProtocolError(f"MODEL file name {name!r} is not a plain, unique file name")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProtocolError(f"MODEL file {name!r} has an invalid size {size!r}")
        sizes[name] = size
    total = sum(sizes.values())
    if not 0 < total <= MAX_RAW_MODEL:  # (a zero limit would let zlib inflate without bound)
        raise ProtocolError(f"MODEL files add up to {total} bytes; allowed: 1 to {MAX_RAW_MODEL}")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(blob.tobytes(), total)
    except zlib.error as err:
        raise ProtocolError(f"MODEL files do not decompress: {err}") from None
    if len(raw) != total or inflater.unconsumed_tail or not inflater.eof:
        raise ProtocolError(f"MODEL files decompress to more or less than the announced {total} bytes")
    assets, offset = {}, 0
    for name, size in sizes.items():
        assets[name], offset = raw[offset : offset + size], offset + size
    return assets
