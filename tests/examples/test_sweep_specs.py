"""The sweep specs in examples/sweeps stay ready to run: each is dry-run (every key, model and value
checked, the grid expanded), and the one docs/sweep.md shows is the file itself."""

import re
from pathlib import Path

import pytest

from tests.cli_runner import run_mjpod

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "examples" / "sweeps").glob("*.toml"))
# jobs each spec expands to (its grid's product), so a spec that silently lost an axis fails here
JOBS = {"bench.toml": 18, "gains.toml": 24, "videos.toml": 4, "vision.toml": 8}


def test_every_example_spec_is_counted():
    assert sorted(spec.name for spec in SPECS) == sorted(JOBS)


@pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
def test_example_spec_dry_runs(spec, tmp_path):
    result = run_mjpod("sweep", str(spec), "--dry-run", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{JOBS[spec.name]} jobs -> {tmp_path / 'out'} (0 already done)" in result.stdout, result.stdout
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_the_spec_docs_sweep_md_shows_is_examples_gains_toml():
    docs = (ROOT / "docs" / "sweep.md").read_text()
    shown = re.search(r"```toml\n(.*?)```", docs, re.S).group(1)
    assert shown == (ROOT / "examples" / "sweeps" / "gains.toml").read_text()
