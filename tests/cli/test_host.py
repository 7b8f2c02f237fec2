"""The `mjpod` command's surface: models listing and clear errors for bad model specs."""

from tests.cli_runner import run_mjpod as mjpod


def test_models_lists_bundled_scenes_and_menagerie_robots(panda_available):
    proc = mjpod("models")
    assert proc.returncode == 0
    for name in ("bin", "box_drop", "pendulum", "franka_emika_panda", "unitree_go2"):
        assert name in proc.stdout
    panda_line = next(line for line in proc.stdout.splitlines() if "franka_emika_panda" in line)
    assert ("yes" in panda_line) == panda_available


def test_bench_with_a_bad_model_path_names_it_and_measures_nothing_for_it(tmp_path):
    proc = mjpod(
        "bench",
        "--quick",
        "--model",
        str(tmp_path / "missing.xml"),
        "--skip",
        "seed",
        "--skip",
        "render",
        "--skip",
        "physics",
        "--skip",
        "contact",  # it runs its own scenes, so it would measure something
        "--skip",
        "policy",  # without an actuated model it measures the bundled pendulum: something
        "--skip",
        "encode",  # synthetic frames: measured whatever the model
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 1
    assert "missing.xml" in proc.stdout and "not found" in proc.stdout
    assert "no figures were measured" in proc.stderr
