"""The package keeps its layers (docs/architecture.md): import-linter checks the real import graph
against the contracts in pyproject.toml, so an upward import or an import cycle between layers fails here."""

from pathlib import Path

from importlinter import cli

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_every_import_follows_the_layers():
    assert cli.lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == 0
