"""Resolve a model spec (a file, a bundled scene, or a Menagerie robot) into a compiled MjModel.

Every failure is a `ModelError` whose message names the spec, what was tried and the fix, because
the spec usually comes straight from a command line.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from importlib import resources
from pathlib import Path

import mujoco
import mujoco_menagerie

from mjpod.errors import MjpodError

SCENES_PACKAGE = "mjpod.models.scenes"
DEFAULT_MODEL = "bin"  # what a command simulates when no --model is given: a bundled scene
MODEL_SUFFIXES = (".xml", ".mjb")
OFFLINE_HINT = (
    "set MENAGERIE_ROOT to a folder in Menagerie layout (one folder per robot, e.g. "
    "MENAGERIE_ROOT=../shared/models), or allow network access so the mujoco_menagerie package can "
    "download it once into its cache"
)


class ModelError(MjpodError):
    """A model spec that cannot be loaded; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A compiled model and where it came from (streaming and sidecars need the origin)."""

    spec: str
    name: str
    source: str  # "file", "bundled" or "menagerie"
    path: Path
    model: mujoco.MjModel


def bundled_scenes() -> dict[str, Path]:
    """The scenes shipped inside the package, by name."""
    folder = resources.files(SCENES_PACKAGE)
    return {Path(f.name).stem: Path(str(f)) for f in folder.iterdir() if f.name.endswith(".xml")}


def load(spec: str) -> LoadedModel:
    """Compile `spec`: a path to an MJCF/MJB file, a bundled scene name, or `robot[/entry]`."""
    spec = spec.strip()
    if not spec:
        raise ModelError("empty model spec: give a file path, a bundled scene or a Menagerie robot")
    path = Path(spec).expanduser()
    if path.is_file():
        return LoadedModel(spec, path.stem, "file", path, _compile(path, spec))
    if path.suffix.lower() in MODEL_SUFFIXES or spec.startswith(("/", ".", "~")):
        raise ModelError(_missing_file_message(spec, path))
    scenes = bundled_scenes()
    if spec in scenes:
        return LoadedModel(spec, spec, "bundled", scenes[spec], _compile(scenes[spec], spec))
    return _load_menagerie(spec, scenes)


def _compile(path: Path, spec: str) -> mujoco.MjModel:
    try:
        if path.suffix.lower() == ".mjb":
            return mujoco.MjModel.from_binary_path(str(path))
        return mujoco.MjModel.from_xml_path(str(path))
    except ValueError as err:
        raise ModelError(
            f"MuJoCo could not compile {spec!r} ({path}):\n  {err}\n"
            "Fix the model file (the message above names the element), or check it with "
            "`python -m mujoco.viewer --mjcf` on a machine with a display."
        ) from None


def _missing_file_message(spec: str, path: Path) -> str:
    where = path.resolve()
    hint = ""
    if where.parent.is_dir():
        near = difflib.get_close_matches(path.name, [p.name for p in where.parent.iterdir()], n=3)
        if near:
            hint = f" Close matches in {where.parent}: {', '.join(near)}."
    return f"model file {spec!r} not found (looked for {where}).{hint} Check the path, or run `mjpod models`."


def _load_menagerie(spec: str, scenes: dict[str, Path]) -> LoadedModel:
    robot_name, _, entry = spec.partition("/")
    try:
        robot = mujoco_menagerie.get(robot_name)
    except mujoco_menagerie.UnknownRobotError:
        known = list(scenes) + mujoco_menagerie.names()
        near = difflib.get_close_matches(robot_name, known, n=3, cutoff=0.5)
        did_you_mean = f" Did you mean: {', '.join(near)}?" if near else ""
        raise ModelError(
            f"unknown model {spec!r}: not a file, not a bundled scene ({', '.join(sorted(scenes))}) "
            f"and not a Menagerie robot.{did_you_mean} `mjpod models` lists what can be loaded."
        ) from None
    try:
        entry_point = robot.entry(entry or None)
    except mujoco_menagerie.UnknownEntryPointError:
        raise ModelError(
            f"Menagerie robot {robot_name!r} has no entry point {entry!r}; "
            f"available: {', '.join(robot.entry_names)}"
        ) from None
    try:
        folder = robot.path(progress=None)
    except mujoco_menagerie.MenagerieError as err:
        root = os.environ.get("MENAGERIE_ROOT")
        tried = f"MENAGERIE_ROOT={root}" if root else "a download into the mujoco_menagerie cache"
        raise ModelError(
            f"Menagerie robot {spec!r} is not available here (tried {tried}: {err}). Fix: {OFFLINE_HINT}."
        ) from None
    path = folder / entry_point.file
    if not path.is_file():
        raise ModelError(
            f"Menagerie robot {spec!r}: {path} is missing. The folder for {robot_name!r} is incomplete; "
            f"restore it or {OFFLINE_HINT}."
        )
    return LoadedModel(spec, f"{robot_name}/{entry_point.name}", "menagerie", path, _compile(path, spec))


@dataclasses.dataclass(frozen=True)
class Listing:
    """One loadable model for `mjpod models`."""

    name: str
    source: str
    entries: tuple[str, ...]
    available: bool


def listing() -> list[Listing]:
    """Every bundled scene and Menagerie robot, with whether it loads without network."""
    rows = [Listing(name, "bundled", (), True) for name in sorted(bundled_scenes())]
    root = os.environ.get("MENAGERIE_ROOT")
    cache = mujoco_menagerie.Cache()
    for robot in mujoco_menagerie.robots():
        local = (Path(root) / robot.name).is_dir() if root else cache.is_cached(robot)
        rows.append(Listing(robot.name, "menagerie", robot.entry_names, local))
    return rows
