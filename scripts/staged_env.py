#!/usr/bin/env python3
"""Make a Python that holds only what the lent GPU machine will have, for the GPU check's rehearsal.

    .venv/bin/python scripts/staged_env.py DEST        (prints DEST/bin/python)

The GPU machine gets MuJoCo, mujoco_warp, Warp, PyOpenGL, glfw and the Menagerie package from
../shared/device/stage.sh (unpacked wheels, none of their dependencies), and has numpy, typer, rich,
matplotlib, pillow, pytest, absl-py and etils (with what they need) in its image. DEST is a venv
without pip whose site-packages links exactly those distributions from the Python running this script,
so imageio-ffmpeg, import-linter, the dev tools and every other package of the project's venv are absent,
as they are there. scripts/gpu-check.sh --rehearse runs in it (tests/scripts/test_gpu_check.py).
"""

from __future__ import annotations

import re
import sys
import venv
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

# what ../shared/device/stage.sh stages (its `pin` lines), with --no-deps: their own requirements are not
STAGED = (
    "mujoco",
    "mujoco-core",
    "mujoco-studio",
    "mujoco-warp",
    "warp-lang",
    "pyopengl",
    "glfw",
    "mujoco-menagerie",
)
# what the device image already has (stage.sh leaves these out), each with what it requires
DEVICE_IMAGE = ("numpy", "typer", "rich", "matplotlib", "pillow", "pytest", "absl-py", "etils")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def with_requirements(names: tuple[str, ...]) -> set[str]:
    """`names` and everything they require (extras left out), as installed in this Python."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        name = canonical(todo.pop())
        if name in found:
            continue
        dist = metadata.distribution(name)  # raises when this Python lacks it: the venv is incomplete
        found.add(name)
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return found


def allowed() -> set[str]:
    return {canonical(n) for n in STAGED} | with_requirements(DEVICE_IMAGE)


def top_level(dist: metadata.Distribution) -> set[str]:
    """The entries a distribution puts in site-packages (packages, modules, .libs, its dist-info)."""
    return {Path(f).parts[0] for f in dist.files or () if not str(f).startswith("..")}


def make(dest: Path) -> Path:
    """The venv at `dest` (made afresh) with links to the allowed distributions; returns its python."""
    venv.EnvBuilder(with_pip=False, clear=True, symlinks=True).create(dest)
    site = next(dest.glob("lib/python*/site-packages"))
    for name in sorted(allowed()):
        dist = metadata.distribution(name)
        for entry in sorted(top_level(dist)):
            source = Path(dist.locate_file(entry))
            if source.exists() and not (site / entry).exists():
                (site / entry).symlink_to(source)
    return dest / "bin" / "python"


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(make(Path(sys.argv[1]).absolute()))


if __name__ == "__main__":
    main()
