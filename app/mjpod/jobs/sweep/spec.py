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
import math
import tomllib
from pathlib import Path
from typing import Any

import yaml

from mjpod import files
from mjpod.errors import SettingError
from mjpod.jobs.sweep.keys import KEYS, REQUIRED, RESOURCE_KEYS, Key

TOP_LEVEL = ("grid", "settings", "resources", "out")
SPEC_BYTES = 1 << 20  # a spec is written by hand: a MiB is far more than any needs
MAX_DEPTH = 8  # lists and tables in lists and tables: a spec needs 4 (document, [[grid]], a table, a list)
MAX_NODES = 200_000  # values a YAML document may stand for once its aliases are copied out
MAX_JOBS = 50_000  # grid combinations one spec may make; counted before any is made
MAX_TEXT = 1024  # characters of one text value (a model path, a camera name)


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
    """Parse and check a spec file (.toml, .yaml or .yml): a regular file of at most SPEC_BYTES, nested
    at most MAX_DEPTH deep, whose YAML aliases expand to at most MAX_NODES values."""
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise SpecError(f"{path}: a sweep spec is a .toml or .yaml file, not {suffix or 'no suffix'}")
    try:
        text = files.read_text(path, SPEC_BYTES, "the sweep spec")
    except FileNotFoundError:
        raise SpecError(f"cannot read the sweep spec {path}: no such file") from None
    except files.FileRefused as err:
        raise SpecError(str(err)) from None
    kind = suffix.lstrip(".").upper()
    too_deep = SpecError(f"{path}: {kind} nested too deeply; a spec nests {MAX_DEPTH} levels at most")
    try:
        data = tomllib.loads(text) if suffix == ".toml" else _yaml(text, path)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
        raise SpecError(f"{path} is not valid {kind}: {err}") from None
    except RecursionError:  # the parsers recurse once per level of nesting
        raise too_deep from None
    if _depth(data) > MAX_DEPTH:
        raise too_deep
    return parse(data, path.name, path.resolve().parent)


class _Loader(yaml.SafeLoader):
    """yaml.safe_load's loader that refuses a key written twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"the key {files.short(key.value)} is written twice: keep one",
                        key.start_mark,
                    )
                seen.add(key.value)
        return super().construct_mapping(node, deep)


def _yaml(text: str, path: Path) -> object:
    """The YAML document, built only once its aliases are known to expand to at most MAX_NODES values
    (an alias repeats a whole subtree: nine levels of ten aliases are a billion values)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        if _expanded(node, path) > MAX_NODES:
            raise SpecError(
                f"{path}: its YAML aliases (*name) expand to more than {MAX_NODES:,} values; write the values out"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded(root: yaml.Node, path: Path) -> int:
    """How many values the node graph stands for once every alias is copied out (without copying)."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        children = _children(node)
        if children_done:
            open_.discard(id(node))
            size[id(node)] = 1 + sum(size[id(c)] for c in children)
            continue
        if id(node) in open_:
            raise SpecError(f"{path}: a YAML alias (*name) refers to the value that holds it")
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _depth(data: object) -> int:
    """How deeply lists and tables nest in `data`, counted up to MAX_DEPTH + 1 (without recursion: it
    may be very deep)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                break
            stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def parse(data: object, source: str = "spec", folder: Path = Path(".")) -> Spec:
    """Check the structure and every value; kinds, models and ranges are checked in `jobs.expand`."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: the spec must be a table of {', '.join(TOP_LEVEL)}")
    for key in data:
        if key not in TOP_LEVEL:
            raise SpecError(f"{source}: unknown top-level key {files.short(key)}{_suggest(key, TOP_LEVEL)}")
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
                f"to sweep it, move it to [grid] as {name} = {files.short(value)}"
                if key.axis
                else "it takes one value"
            )
            raise SpecError(f"{source}: settings.{name} is a list, but {_one(key)}: {fix}")
        settings[name] = _value(value, key, f"settings.{name}", source)
    checked_grids = tuple(_grid(g, i, len(grids), settings, source) for i, g in enumerate(grids))
    combinations = sum(math.prod(len(values) for values in g.values()) for g in checked_grids)
    if combinations > MAX_JOBS:
        raise SpecError(
            f"{source}: the grid makes {combinations:,} jobs, more than the {MAX_JOBS:,} one sweep runs: "
            "split it into several specs (each with its own out), or sweep fewer values"
        )
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
            raise SpecError(f"{source}: unknown key resources.{_named(name)}{_suggest(name, RESOURCE_KEYS)}")
        resources[name] = _value(value, key, f"resources.{name}", source)
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        raise SpecError(f"{source}: out must be a folder path in quotes, got {files.short(out)}")
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
                f"{source}: {where}.{name} must be a list (the values to sweep), e.g. {name} = [{files.short(values)}]; "
                f"a single value belongs in [settings]"
            )
        if not values:
            raise SpecError(f"{source}: {where}.{name} is empty: give at least one value")
        out[name] = [_value(v, key, f"{where}.{name}", source) for v in values]
    return out


def _known(name: str, where: str, source: str) -> Key:
    key = KEYS.get(name)
    if key is None:
        raise SpecError(f"{source}: unknown key {where}.{_named(name)}{_suggest(name, KEYS)}")
    return key


def _one(key: Key) -> str:
    return "it takes a list as one value" if key.kind is list else "it takes one value"


TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}


def _value(value: object, key: Key, where: str, source: str) -> object:
    """Type-check one value (ints pass as floats), then the key's own check."""
    value = _typed(value, key.kind, key.item, where, source)
    if key.check is not None and value is not None:
        problem = key.check(value)
        if problem:
            raise SpecError(f"{source}: {where} = {files.short(value)} {problem}")
    return value


def _typed(value: object, kind: type, item: type | None, where: str, source: str) -> object:
    if kind is list:
        if not isinstance(value, list):
            raise SpecError(
                f"{source}: {where} must be a list of {TYPE_NAMES[item]}s, e.g. [{files.short(value)}]"
            )
        return [_typed(v, item, None, where, source) for v in value]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise SpecError(f"{source}: {where} = {files.short(value)} must be {TYPE_NAMES[kind]}")
    if kind is str and (len(value) > MAX_TEXT or not value.isprintable()):  # type: ignore[arg-type]
        raise SpecError(
            f"{source}: {where} = {files.short(value)} must be printable text of at most {MAX_TEXT} characters"
        )
    return value


def _named(name: object) -> str:
    """A key the spec wrote, for a message: as it is when it looks like a key, else quoted and cut."""
    plain = isinstance(name, str) and len(name) <= 40 and name.isprintable()
    return name if plain else files.short(name)  # type: ignore[return-value]


def _suggest(name: object, known: object) -> str:
    close = difflib.get_close_matches(str(name)[:100], list(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"; {hint}known keys: {', '.join(known)}"
