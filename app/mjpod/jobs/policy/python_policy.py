"""A policy written in Python: a function `policy(obs) -> ctrl`, or a class with `__call__` and
(for state carried across steps) `reset()`, from a module on the path or a file.

The module is imported as the user wrote it, with the file's folder on sys.path so its own helpers
import. A class is instantiated with no arguments. A policy that sets `device_arrays = True` (an
attribute of the function or the class) receives the engine's device buffers through DLPack.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from mjpod.jobs.policy.source import Policy, PolicyError, PolicySource, search_here

DEVICE_FLAG = "device_arrays"


def load(source: PolicySource) -> Policy:
    """Import the module, find the callable, check it takes one argument (`obs`)."""
    module = _import(source)
    name = source.attribute or ""
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
            raise PolicyError(
                f"policy {source.spec!r}: {module.__name__} has no {name!r}"
                + (f"; its callables: {', '.join(found)}" if found else "")
            )
        obj = getattr(obj, part)
    about = "function"
    if inspect.isclass(obj):
        about = f"class {obj.__name__}"
        try:
            obj = obj()
        except Exception as err:
            raise PolicyError(
                f"policy {source.spec!r}: {about}() raised {describe_error(err, source.path)}; a policy class is "
                "made with no arguments"
            ) from None
        if not callable(obj):
            raise PolicyError(f"policy {source.spec!r}: {about} has no __call__(self, obs) returning ctrl")
    elif not callable(obj):
        raise PolicyError(f"policy {source.spec!r} is a {type(obj).__name__}, not a function or a class")
    _check_signature(source, obj, (None,), "take one argument, obs (a mapping of batched arrays)")
    reset = getattr(obj, "reset", None)
    if reset is not None:
        if not callable(reset):
            raise PolicyError(f"policy {source.spec!r}: its reset is not a method")
        _check_signature(source, reset, (), "have a reset() that takes no arguments")
    return Policy(source, obj, reset, bool(getattr(obj, DEVICE_FLAG, False)), about)


def _import(source: PolicySource) -> ModuleType:
    if source.module is not None:
        search_here()
        try:
            return importlib.import_module(source.module)
        except Exception as err:
            raise PolicyError(
                f"policy {source.spec!r} could not be imported: {describe_error(err, source.path)}"
            ) from None
    path = source.path
    assert path is not None
    name = f"mjpod_policy_{path.stem}_{(source.sha256 or '')[:12]}"
    if name in sys.modules:  # the same file, unchanged: imported once per process
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PolicyError(f"policy {source.spec!r}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # its own helpers beside it import, as when run as a script
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as err:
        del sys.modules[name]
        if not isinstance(err, Exception):
            raise
        raise PolicyError(
            f"policy {source.spec!r} could not be imported: {describe_error(err, path)}"
        ) from None
    return module


def _check_signature(source: PolicySource, fn: Any, args: tuple, must: str) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or an extension: it will say so itself when called
    try:
        signature.bind(*args)
    except TypeError:
        raise PolicyError(f"policy {source.spec!r} must {must}; its signature is {signature}") from None


def describe_error(err: BaseException, path: Path | None) -> str:
    """`TypeError: message (file.py, line 12)`: the error and the deepest line of the user's file."""
    where = ""
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if path is not None and Path(f.filename) == path] or frames[-1:]
    if isinstance(err, SyntaxError) and err.filename:
        where = f" ({Path(err.filename).name}, line {err.lineno})"
    elif mine:
        where = f" ({Path(mine[-1].filename).name}, line {mine[-1].lineno})"
    return f"{type(err).__name__}: {err}{where}"
