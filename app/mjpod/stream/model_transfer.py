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

from mjpod.stream.protocol import MAX_MODEL, Kind, Message, ProtocolError, Sizes, encode, plain_text

MAX_RAW_MODEL = 1024 * 1024 * 1024  # an inflated MJB, or a model's files together (Panda: 40 MB, 34 MB)
# Against zlib bombs, data inflates to at most max(FREE_INFLATE, MAX_RATIO x its compressed size):
# real models compress 2.7x (Panda's MJB) to 11x (bin); a mostly empty height field may do better.
MAX_RATIO = 100
FREE_INFLATE = 64 * 1024 * 1024
INFLATE_CHUNK = 256 * 1024  # compressed bytes taken per step, and inflated bytes made per step
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


def read_model(msg: Message, *, files: bool = True) -> tuple[mujoco.MjModel, ModelInfo]:
    """Inflate (bounded), check the digest and sizes, and load the MJB; with `files`, also the MJCF's
    files (a client that did not ask for them never inflates them, whatever the server sent)."""
    meta = msg.meta
    raw_size, digest = meta.get("raw_size"), meta.get("digest")
    if meta.get("encoding") != "zlib" or "mjb" not in msg.arrays:
        raise ProtocolError(f"MODEL must carry a zlib 'mjb' array, got encoding {meta.get('encoding')!r}")
    if not isinstance(raw_size, int) or raw_size <= 0 or not isinstance(digest, str):
        raise ProtocolError(
            f"MODEL raw_size {raw_size!r} or digest {plain_text(repr(digest), 80)} is invalid"
        )
    raw, sha = inflate("MODEL", msg.arrays["mjb"], raw_size)
    if sha != digest:
        raise ProtocolError("MODEL digest does not match its bytes (corrupted in transit)")
    try:
        mjm = mujoco.MjModel.from_binary_path(MJB_NAME, {MJB_NAME: bytes(raw)})
    except ValueError as err:
        raise ProtocolError(
            f"MODEL is not a loadable MJB for this MuJoCo ({mujoco.__version__}): {err}"
        ) from None
    del raw
    sizes = Sizes.of(mjm)
    if meta.get("sizes") != dataclasses.asdict(sizes):
        raise ProtocolError(f"MODEL announces sizes {meta.get('sizes')} but the MJB has {sizes}")
    xml = msg.arrays["xml"].tobytes().decode("utf-8", errors="replace") if "xml" in msg.arrays else None
    assets = _read_files(meta.get("files"), msg.arrays.get("files")) if files else {}
    info = ModelInfo(
        plain_text(meta.get("name", "")),
        plain_text(meta.get("path", ""), 1000),
        digest,
        sizes,
        float(mjm.opt.timestep),  # the model's own, whatever the metadata says
        xml,
        assets,
    )
    return mjm, info


def inflate(what: str, blob: np.ndarray, size: int) -> tuple[bytearray, str]:
    """`blob` (zlib) inflated to exactly `size` bytes, and their SHA-256, or ProtocolError.

    A bomb is refused before any work when `size` exceeds what `blob` may honestly inflate to (the
    ratio bound), and a size that lies is caught after at most `size` bytes: zlib's `max_length` caps
    each step, the output grows step by step, and the hash is taken as it grows.
    """
    allowed = min(MAX_RAW_MODEL, max(FREE_INFLATE, MAX_RATIO * blob.nbytes))
    if size > allowed:
        raise ProtocolError(
            f"{what} announces {size} bytes from {blob.nbytes} compressed; at most {allowed} are allowed"
            f" ({MAX_RATIO}x the compressed size, at least {FREE_INFLATE}, never over {MAX_RAW_MODEL})"
        )
    inflater, out, sha = zlib.decompressobj(), bytearray(), hashlib.sha256()
    data = memoryview(blob).cast("B")
    try:
        for start in range(0, len(data), INFLATE_CHUNK):
            pending: bytes | memoryview = data[start : start + INFLATE_CHUNK]
            while pending and not inflater.eof:
                piece = inflater.decompress(pending, min(INFLATE_CHUNK, size + 1 - len(out)))
                if len(out) + len(piece) > size:
                    raise ProtocolError(f"{what} inflates to more or less than the announced {size} bytes")
                out += piece
                sha.update(piece)
                pending = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as err:
        raise ProtocolError(f"{what} bytes do not decompress: {err}") from None
    if len(out) != size or not inflater.eof:
        raise ProtocolError(f"{what} inflates to more or less than the announced {size} bytes")
    return out, sha.hexdigest()


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
            raise ProtocolError(
                f"MODEL file name {plain_text(repr(name), 80)} is not a plain, unique file name"
            )
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ProtocolError(f"MODEL file {name!r} has an invalid size {plain_text(repr(size), 40)}")
        sizes[name] = size
    total = sum(sizes.values())
    if not 0 < total <= MAX_RAW_MODEL:  # (a zero limit would let zlib inflate without bound)
        raise ProtocolError(f"MODEL files add up to {total} bytes; allowed: 1 to {MAX_RAW_MODEL}")
    raw, _ = inflate("MODEL files", blob, total)
    view, assets, offset = memoryview(raw), {}, 0  # (a bytearray slice would be a second copy)
    for name, size in sizes.items():
        assets[name], offset = bytes(view[offset : offset + size]), offset + size
    return assets
