"""compose.yaml against the Compose specification's schema (check-jsonschema ships it vendored)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]


def test_compose_file_validates_against_the_compose_spec():
    result = subprocess.run([*CHECK, str(ROOT / "compose.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_mistake(tmp_path):
    """Guards the check itself: a misspelt key (`port:`) must fail, not pass silently."""
    broken = tmp_path / "compose.yaml"
    broken.write_text((ROOT / "compose.yaml").read_text().replace("    ports:\n", "    port:\n", 1))
    result = subprocess.run([*CHECK, str(broken)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "'port' was unexpected" in result.stdout
