"""Hostile and careless specs: every input is bounded before it is used (file size and kind, nesting,
YAML aliases, job counts), and every value that would fail each job is refused before any starts.
The ones that used to eat memory or hang run as a real `mjpod sweep` with its memory capped."""

from __future__ import annotations

import os

import pytest

from mjpod.jobs.sweep import grid, spec
from tests.cli_runner import run_mjpod

MEMORY_MB = 1024  # a dry run needs about 100 MB; the old code grew without end


def expand(text: str, tmp_path, name: str = "s.toml") -> list[grid.Job]:
    path = tmp_path / name
    path.write_text(text)
    return grid.expand(spec.load(path))


def refused(text: str, tmp_path, name: str = "s.toml") -> str:
    with pytest.raises(spec.SpecError) as err:
        expand(text, tmp_path, name)
    return str(err.value)


def dry_run(path, tmp_path):
    return run_mjpod(
        "sweep", str(path), "--dry-run", "--out", str(tmp_path / "out"), memory_mb=MEMORY_MB, timeout=120
    )


def bomb(width: int, levels: int) -> str:
    """`levels` lists of `width` aliases to the list before: width**levels seeds in a few hundred bytes."""
    lines = [f"l0: &l0 [{', '.join(['0'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\ngrid:\n  kind: [rollout]\n  model: [pendulum]\n  seed: *l{levels - 1}\n"


@pytest.mark.parametrize(
    ("width", "levels"), [(10, 9), (40, 5)]
)  # the review's bomb; one as shallow as a spec
def test_a_yaml_alias_bomb_is_refused_before_it_is_built(tmp_path, width, levels):
    """High 1: 512 bytes of nine levels of ten aliases stand for 10**9 seeds; the old code walked and
    quoted them all (its error message held every value) until MemoryError."""
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(width, levels))
    assert len(path.read_bytes()) < 1024
    result = dry_run(path, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "YAML aliases (*name) expand to more than 200,000 values" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


def test_a_yaml_alias_that_holds_itself_is_refused(tmp_path):
    assert "refers to the value that holds it" in refused("grid: &g {seed: [*g]}\n", tmp_path, "s.yaml")


def test_a_grid_of_ten_million_jobs_is_refused_with_its_count_before_it_is_made(tmp_path):
    """High 2: 10**4 seeds x 10**3 nworld were expanded into every job before anything was counted."""
    path = tmp_path / "big.toml"
    seeds = ", ".join(map(str, range(10_000)))
    worlds = ", ".join(map(str, range(1, 1001)))
    path.write_text(
        f"[grid]\nkind = ['rollout']\nmodel = ['pendulum']\nseed = [{seeds}]\nnworld = [{worlds}]\n"
    )
    result = dry_run(path, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr.replace("\n", "")
    assert "makes 10,000,000 jobs, more than the 50,000 one sweep runs" in message
    assert "split it into several specs" in message


def test_a_dry_run_of_many_jobs_shows_the_first_and_counts_the_rest(tmp_path):
    """High 2: a 2x10**5-job --dry-run printed nothing for minutes (one table line per job)."""
    path = tmp_path / "many.toml"
    path.write_text(
        f"[grid]\nkind = ['rollout']\nmodel = ['pendulum']\nseed = [{', '.join(map(str, range(3000)))}]\n"
    )
    result = dry_run(path, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("rollout-")]
    assert len(rows) == 40
    assert "... and 2960 more (2960 rollout on mjc; 2960 to run, 0 done)" in result.stdout


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", "grid: " + "[" * 50_000 + "]" * 50_000 + "\n"),
        ("deep.toml", "out = " + "[" * 50_000 + "]" * 50_000 + "\n"),
        ("deep.toml", "out = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n"),
        ("nested.yaml", "grid: " + "[" * 20 + "]" * 20 + "\n"),  # parses, but deeper than any spec
    ],
)
def test_deep_nesting_is_an_error_not_a_recursion_traceback(tmp_path, name, text):
    """Medium: 50k-deep YAML or TOML nesting raised RecursionError with a traceback."""
    assert "nested too deeply; a spec nests 8 levels at most" in refused(text, tmp_path, name)


def test_a_yaml_key_written_twice_is_refused(tmp_path):
    """Low: YAML keeps the last of two equal keys; the first seed list was dropped without a word."""
    text = "grid:\n  kind: [rollout]\n  model: [pendulum]\n  seed: [0, 1]\n  seed: [2]\n"
    assert "the key 'seed' is written twice: keep one" in refused(text, tmp_path, "s.yaml")


@pytest.mark.parametrize(
    ("target", "why"), [("/dev/zero", "is a character device, not a regular file"), (None, "is a FIFO")]
)
def test_a_spec_that_is_no_regular_file_is_refused_without_reading_it(tmp_path, target, why):
    """Medium: a spec linked to /dev/zero was read whole (memory without end); Low: a FIFO hung."""
    path = tmp_path / "s.toml"
    if target:
        path.symlink_to(target)
    else:
        os.mkfifo(path)
    result = dry_run(path, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert why in result.stderr.replace("\n", " ")


SMALL = "[grid]\nkind = ['{kind}']\nmodel = ['{model}']\n[settings]\n{settings}\n"


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("rollout", "seed = " + "9" * 300, "...9999999999999999999 must be between 0 and 2147483647"),
        ("rollout", "seed = -1", "settings.seed = -1 must be between 0 and 2147483647"),
        (
            "record",
            "width = 100000",
            "settings.width = 100000 must be an even number of pixels from 16 to 8192",
        ),
        ("rollout", "nworld = 100000000", "must be at least 1 and at most 16777216"),
    ],
)
def test_values_that_would_fail_every_job_are_refused(tmp_path, kind, settings, message):
    """Medium: a 300-digit seed made a job id longer than a file name may be (the Ray driver crashed);
    Low: a negative seed and a 100000-pixel width failed every job instead of the spec."""
    text = refused(SMALL.format(kind=kind, model="pendulum", settings=settings), tmp_path)
    assert message in text
    assert len(text) < 400  # the 300 digits are quoted cut short


def test_an_unknown_camera_is_refused_naming_the_models_cameras(tmp_path):
    """Low: the camera was looked up only in the job, so every job failed."""
    text = refused(SMALL.format(kind="record", model="pendulum", settings="camera = 'nope'"), tmp_path)
    assert "a record job (pendulum, mjc, nworld 1): unknown camera 'nope'" in text
    assert "the model's cameras:" in text


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("rollout", "duration = 1e300\nrate = 1e300", "inf samples, more than the 10,000,000 one run makes"),
        ("record", "duration = 1e300\nfps = 1e10", "frames, more than the 10,000,000 one run makes"),
    ],
)
def test_a_duration_times_rate_that_overflows_is_refused(tmp_path, kind, settings, message):
    """Low: the product overflowed in the job (OverflowError), or made a run that would never end."""
    assert message in refused(SMALL.format(kind=kind, model="pendulum", settings=settings), tmp_path)


def test_one_sample_larger_than_a_shard_is_refused(tmp_path):
    """Low: a rollout buffered whole samples beyond shard_mb when one sample was larger."""
    settings = "frames = true\nwidth = 1024\nheight = 1024\nnworld = 8\nshard_mb = 1.0"
    text = refused(SMALL.format(kind="rollout", model="pendulum", settings=settings), tmp_path)
    assert "one sample of every world is 24.0 MiB, more than shard_mb = 1: raise shard_mb" in text


def test_worlds_tiled_beyond_a_video_frame_are_refused(tmp_path):
    settings = f"nworld = 64\nworlds = [{', '.join(map(str, range(64)))}]\nwidth = 2048\nheight = 2048"
    text = refused(SMALL.format(kind="record", model="pendulum", settings=settings), tmp_path)
    assert "a 16384x16384 video frame (64 world(s) of 2048x2048) is more than 8192 pixels a side" in text


def test_fewer_cpus_than_one_are_refused(tmp_path):
    """Medium: cpus = 0.01 let Ray start 10 jobs on 2 cores, against the docs' promise."""
    text = SMALL.format(kind="rollout", model="pendulum", settings="") + "[resources]\ncpus = 0.01\n"
    assert "resources.cpus = 0.01 must be at least 1: a job uses a whole core" in refused(text, tmp_path)


def test_long_values_are_quoted_cut_short(tmp_path):
    """Messages quoted whole values: 200,000 characters of model name came back whole in the error
    (after a traceback: a file name that long cannot even be looked up)."""
    text = refused(SMALL.format(kind="rollout", model="x" * 200_000, settings=""), tmp_path)
    assert "must be printable text of at most 1024 characters" in text and len(text) < 300


def test_job_ids_stay_short_enough_for_a_file_name(tmp_path):
    jobs = expand(SMALL.format(kind="rollout", model="pendulum", settings=f"seed = {2**31 - 1}"), tmp_path)
    assert len(jobs[0].id) < 100
