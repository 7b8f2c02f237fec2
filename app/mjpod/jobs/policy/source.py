"""Where a policy comes from: a spec as typed (`module:function`, `path/file.py:function`,
`path/file.onnx`) read into a local file and its content hash, for the sidecars.

Policies are the user's own local files, run with the user's rights: a spec that names a URL is
refused, and nothing received over the network (a stream client, the browser view) ever becomes one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mjpod.errors import MjpodError

DEFAULT_ATTRIBUTE = "policy"  # `file.py` alone names the callable `policy` in it
FORMS = "module:function, path/to/file.py:function (or a class), or path/to/policy.onnx"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class PolicyError(MjpodError):
    """A policy that cannot be loaded or does not fit the model; the message names it and the fix."""


@dataclasses.dataclass(frozen=True)
class PolicySource:
    """A policy spec resolved to what will run: its kind, its file and that file's SHA-256."""

    spec: str  # as given
    kind: str  # "python" or "onnx"
    path: Path | None  # the file (a module's own file for module:function; None for a built-in module)
    module: str | None = None  # module:function: the module's name
    attribute: str | None = None  # the callable or class (python)
    sha256: str | None = None

    def describe(self) -> dict[str, str | None]:
        """For sidecars and sweep records: what ran, down to the bytes of its file."""
        return {
            "spec": self.spec,
            "kind": self.kind,
            "path": str(self.path) if self.path else None,
            "attribute": self.attribute,
            "sha256": self.sha256,
        }


@dataclasses.dataclass(frozen=True)
class Policy:
    """A loaded policy: `call(obs)` gives the controls, `reset()` (stateful ones) starts an episode.

    `device_arrays`: the policy declared it reads and returns device arrays (DLPack), so the engine
    hands it its own device buffers instead of host copies.
    """

    source: PolicySource
    call: Callable[[Mapping[str, Any]], Any]
    reset: Callable[[], Any] | None = None
    device_arrays: bool = False
    about: str = ""  # what kind of callable: "function", "class Name", "ONNX (inputs ...)"

    @property
    def name(self) -> str:
        return self.source.spec


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(spec: str, folder: Path | None = None) -> PolicySource:
    """The policy `spec` names; relative paths are relative to `folder` (a sweep spec's) or the
    current directory. A PolicyError names the spec and the forms it may take."""
    text = spec.strip()
    if not text:
        raise PolicyError(f"empty policy spec: give {FORMS}")
    if "://" in text:
        raise PolicyError(
            f"policy {text!r} is a URL: policies are local files only (mjpod never loads code or models "
            "from the network); download it yourself, check it, and give its path"
        )
    if text.lower().endswith(".onnx"):
        path = _local_file(text, folder, text)
        return PolicySource(text, "onnx", path, sha256=file_sha256(path))
    target, colon, attribute = text.rpartition(":") if ":" in text else (text, "", DEFAULT_ATTRIBUTE)
    if colon and not _NAME.match(attribute.replace(".", "_")):
        raise PolicyError(
            f"policy {text!r}: {attribute!r} after the colon is not a Python name; give {FORMS}"
        )
    if target.endswith(".py"):
        path = _local_file(target, folder, text)
        return PolicySource(text, "python", path, attribute=attribute, sha256=file_sha256(path))
    if not colon or not _NAME.match(target):
        raise PolicyError(f"policy {text!r} is not one of the forms mjpod runs: {FORMS}")
    origin = _module_file(target, text)
    return PolicySource(
        text,
        "python",
        origin,
        module=target,
        attribute=attribute,
        sha256=file_sha256(origin) if origin else None,
    )


def _local_file(name: str, folder: Path | None, spec: str) -> Path:
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = (folder or Path.cwd()) / path
    if not path.is_file():
        where = f" (relative to {folder})" if folder and not Path(name).is_absolute() else ""
        raise PolicyError(f"policy {spec!r}: no file {path}{where}: check the path")
    return path.resolve()


def _module_file(module: str, spec: str) -> Path | None:
    """The file of an importable module (the current directory first, as `python -m` would)."""
    search_here()
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as err:
        found, why = None, f" ({err})"
    else:
        why = ""
    if found is None:
        raise PolicyError(
            f"policy {spec!r}: no module {module!r} on the Python path{why}; run from its folder, "
            "install it, or give its file as path/to/file.py:function"
        )
    return Path(found.origin) if found.origin and Path(found.origin).is_file() else None


def search_here() -> None:
    """Modules in the current directory import as they would under `python -m` (sys.path[0])."""
    here = str(Path.cwd())
    if here not in sys.path:
        sys.path.insert(0, here)
