"""Read a sweep spec (TOML or YAML) and refuse anything wrong in it before a job starts.

A spec has up to four top-level entries:

    out = "sweeps/gains"            # optional; --out wins
    [grid]                          # lists: the jobs are their product ([[grid]] tables: the union)
    [settings]                      # single values every job shares
    [resources]                     # what each job asks Ray for: cpus, gpus

Every error names the key, what is wrong with it and the fix, because specs are written by hand.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from pathlib import Path
from typing import Any

import yaml

from mjpod.errors import SettingError
from mjpod.jobs.sweep.keys import KEYS, REQUIRED, RESOURCE_KEYS, Key

TOP_LEVEL = ("grid", "settings", "resources", "out")


class SpecError(SettingError):
    """A spec that cannot run; the message names the key and the fix."""


@dataclasses.dataclass(frozen=True)
class Spec:
    source: str  # the file name, for messages
    folder: Path  # relative model paths are relative to the spec
    grids: tuple[dict[str, list], ...]
    settings: dict[str, Any]
    resources: dict[str, float]
    out: str | None = None


def load(path: Path) -> Spec:
    """Parse and check a spec file (.toml, .yaml or .yml)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise SpecError(f"cannot read the sweep spec {path}: {err.strerror}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise SpecError(f"{path}: a sweep spec is a .toml or .yaml file, not {suffix or 'no suffix'}")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
        raise SpecError(f"{path} is not valid {suffix.lstrip('.').upper()}: {err}") from None
    return parse(data, path.name, path.resolve().parent)


def parse(data: object, source: str = "spec", folder: Path = Path(".")) -> Spec:
    """Check the structure and every value; kinds, models and ranges are checked in `jobs.expand`."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: the spec must be a table of {', '.join(TOP_LEVEL)}")
    for key in data:
        if key not in TOP_LEVEL:
            raise SpecError(f"{source}: unknown top-level key {key!r}{_suggest(key, TOP_LEVEL)}")
    grids = data.get("grid")
    if grids is None:
        grids = []
    elif isinstance(grids, dict):
        grids = [grids]
    if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise SpecError(f"{source}: grid must be a table ([grid]) or a list of tables ([[grid]])")
    if "grid" in data and not grids:
        raise SpecError(f"{source}: grid is empty: give at least one key, e.g. seed = [0, 1]")
    settings = _table(data, "settings", source)
    for name, value in settings.items():
        key = _known(name, "settings", source)
        if isinstance(value, list) and key.kind is not list:
            fix = (
                f"to sweep it, move it to [grid] as {name} = {value!r}" if key.axis else "it takes one value"
            )
            raise SpecError(f"{source}: settings.{name} is a list, but {_one(key)}: {fix}")
        settings[name] = _value(value, key, f"settings.{name}", source)
    checked_grids = tuple(_grid(g, i, len(grids), settings, source) for i, g in enumerate(grids))
    given = set(settings).union(*checked_grids)
    for name in REQUIRED:
        if name not in given:
            raise SpecError(
                f"{source}: {name} is missing: set it in [settings] ({name} = ...) or sweep it in [grid] "
                f"({name} = [...]); {KEYS[name].help}"
            )
    resources = _table(data, "resources", source)
    for name, value in resources.items():
        key = RESOURCE_KEYS.get(name)
        if key is None:
            raise SpecError(f"{source}: unknown key resources.{name}{_suggest(name, RESOURCE_KEYS)}")
        resources[name] = _value(value, key, f"resources.{name}", source)
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        raise SpecError(f"{source}: out must be a folder path in quotes, got {out!r}")
    return Spec(source, folder, checked_grids, settings, resources, out)


def _table(data: dict, name: str, source: str) -> dict:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise SpecError(f"{source}: {name} must be a table ([{name}] with key = value lines)")
    return dict(table)


def _grid(grid: dict, index: int, count: int, settings: dict, source: str) -> dict[str, list]:
    where = "grid" if count == 1 else f"grid #{index + 1}"
    if not grid:
        raise SpecError(f"{source}: {where} is empty: give at least one key, e.g. seed = [0, 1]")
    out = {}
    for name, values in grid.items():
        key = _known(name, where, source)
        if not key.axis:
            raise SpecError(f"{source}: {where}.{name} cannot be swept: {_one(key)}; set it in [settings]")
        if name in settings:
            raise SpecError(
                f"{source}: {name} is both in [settings] and in {where}: keep one (a grid list sweeps it)"
            )
        if not isinstance(values, list):
            raise SpecError(
                f"{source}: {where}.{name} must be a list (the values to sweep), e.g. {name} = [{values!r}]; "
                f"a single value belongs in [settings]"
            )
        if not values:
            raise SpecError(f"{source}: {where}.{name} is empty: give at least one value")
        out[name] = [_value(v, key, f"{where}.{name}", source) for v in values]
    return out


def _known(name: str, where: str, source: str) -> Key:
    key = KEYS.get(name)
    if key is None:
        raise SpecError(f"{source}: unknown key {where}.{name}{_suggest(name, KEYS)}")
    return key


def _one(key: Key) -> str:
    return "it takes a list as one value" if key.kind is list else "it takes one value"


TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    object: "a name or an id",
}


def _value(value: object, key: Key, where: str, source: str) -> object:
    """Type-check one value (ints pass as floats), then the key's own check."""
    value = _typed(value, key.kind, key.item, where, source)
    if key.check is not None and value is not None:
        problem = key.check(value)
        if problem:
            raise SpecError(f"{source}: {where} = {value!r} {problem}")
    return value


def _typed(value: object, kind: type, item: type | None, where: str, source: str) -> object:
    if kind is list:
        if not isinstance(value, list):
            raise SpecError(
                f"{source}: {where} must be a list, each value {TYPE_NAMES[item]}, e.g. [{value!r}]"
            )
        return [_typed(v, item, None, where, source) for v in value]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise SpecError(f"{source}: {where} = {value!r} must be {TYPE_NAMES[kind]}")
    return value


def _suggest(name: str, known: object) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"; {hint}known keys: {', '.join(known)}"
