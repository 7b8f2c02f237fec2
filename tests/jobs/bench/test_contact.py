"""Bench section `contact` end to end: comfree and mjwarp measured in one run on dense-contact scenes."""

import json

import pytest

from tests.cli_runner import run_mjpod


@pytest.fixture(scope="module")
def contact_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("contact")
    # fmt: off
    proc = run_mjpod("bench", "--quick", "--out", str(out), "--skip", "seed", "--skip", "render",
                     "--skip", "physics", "--nworld", "2", "--nstep", "10", "--seconds", "0.1",
                     "--comfree-stiffness", "0.1,0.2", "--comfree-damping", "0.002", timeout=900)
    # fmt: on
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(next(out.glob("*.json")).read_text())


def test_both_engines_on_both_scenes_in_dense_contact(contact_run):
    _, data = contact_run
    rows = [r for r in data["results"] if r["section"] == "contact"]
    speed = {(r["model"], r["engine"]): r for r in rows if r["unit"] == "world-steps/s"}
    assert set(speed) == {(m, e) for m in ("bin", "primitives") for e in ("mjwarp", "comfree")}
    for r in speed.values():
        assert r["value"] > 0 and r["nworld"] == 2 and r["device"] == "cpu"
        assert r["contacts"] > 100  # a settled pile, not bodies still in the air
    for model in ("bin", "primitives"):  # one buffer size for both engines, so the race is fair
        assert speed[(model, "mjwarp")]["njmax"] == speed[(model, "comfree")]["njmax"]
    assert not any("overflow" in w for w in data["warnings"]), data["warnings"]


def test_the_console_table_shows_contacts_per_world(contact_run):
    proc, data = contact_run
    assert "contacts" in proc.stdout
    row = next(r for r in data["results"] if r["section"] == "contact" and r["engine"] == "comfree")
    line = next(ln for ln in proc.stdout.splitlines() if "world-steps/s" in ln and "comfree" in ln)
    assert f"{row['contacts']:,.0f}" in line


def test_ratio_rows_divide_the_two_figures_of_the_same_run(contact_run):
    _, data = contact_run
    rows = [r for r in data["results"] if r["section"] == "contact"]
    for model in ("bin", "primitives"):
        ratio = next(r for r in rows if r["model"] == model and r["unit"] == "x mjwarp")
        fast = {r["engine"]: r["value"] for r in rows if r["model"] == model and r["unit"] == "world-steps/s"}
        assert ratio["value"] == pytest.approx(fast["comfree"] / fast["mjwarp"])


def test_comfree_gains_from_the_command_line_reach_the_record(contact_run):
    _, data = contact_run
    assert data["config"]["comfree_stiffness"] == [0.1, 0.2]
    assert data["config"]["comfree_damping"] == [0.002]


def test_bad_gains_are_a_clear_error():
    proc = run_mjpod("bench", "--engine", "comfree", "--comfree-stiffness", "stiff", timeout=120)
    assert proc.returncode == 2
    assert "--comfree-stiffness takes numbers separated by commas" in proc.stderr
    proc = run_mjpod("bench", "--engine", "comfree", "--comfree-damping=-1", timeout=120)
    assert proc.returncode == 2
    assert "comfree_damping needs one or more finite numbers >= 0" in proc.stderr
