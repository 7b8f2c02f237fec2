"""Model specs resolve, and every way they fail says what was tried and how to fix it."""

import os
import socket

import mujoco
import pytest

from mjpod import models


def test_bundled_scenes_compile_and_the_contact_scene_is_contact_rich():
    scenes = models.bundled_scenes()
    assert {"pendulum", "box_drop", "bin"} <= set(scenes)
    bin_scene = models.load("bin")
    assert bin_scene.source == "bundled"
    mjd = mujoco.MjData(bin_scene.model)
    for _ in range(400):  # 1.6 s: the bodies have landed
        mujoco.mj_step(bin_scene.model, mjd)
    assert bin_scene.model.nbody - 1 >= 40  # many free bodies
    assert mjd.ncon >= 40


def test_menagerie_robot_loads_offline_from_menagerie_root(panda_available):
    if not panda_available:
        pytest.skip("MENAGERIE_ROOT has no franka_emika_panda")
    lm = models.load("franka_emika_panda/mjx_scene")
    assert lm.source == "menagerie"
    assert lm.name == "franka_emika_panda/mjx_scene"
    assert lm.model.nu == 8 and lm.path.name == "mjx_scene.xml"


def test_path_spec_loads_a_file(tmp_path):
    path = tmp_path / "one.xml"
    path.write_text('<mujoco><worldbody><body><freejoint/><geom size=".1"/></body></worldbody></mujoco>')
    lm = models.load(str(path))
    assert lm.source == "file" and lm.model.nq == 7


def test_mjb_file_loads(tmp_path):
    path = tmp_path / "pendulum.mjb"
    mujoco.mj_saveModel(models.load("pendulum").model, str(path), None)
    assert models.load(str(path)).model.nu == 2


def test_missing_file_names_the_path_and_close_matches(tmp_path):
    (tmp_path / "robot.xml").write_text("<mujoco/>")
    with pytest.raises(models.ModelError) as err:
        models.load(str(tmp_path / "robto.xml"))
    msg = str(err.value)
    assert "robto.xml" in msg and "not found" in msg and "robot.xml" in msg


def test_compile_error_carries_mujocos_message(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text('<mujoco><worldbody><geom type="sphere" size="-1"/></worldbody></mujoco>')
    with pytest.raises(models.ModelError) as err:
        models.load(str(path))
    msg = str(err.value)
    assert "could not compile" in msg and str(path) in msg and "size" in msg.lower()


def test_unknown_robot_suggests_close_matches():
    with pytest.raises(models.ModelError) as err:
        models.load("franka_emika_pnda")
    msg = str(err.value)
    assert "franka_emika_panda" in msg and "mjpod models" in msg


def test_unknown_entry_point_lists_the_real_ones():
    with pytest.raises(models.ModelError) as err:
        models.load("franka_emika_panda/nope")
    assert "mjx_scene" in str(err.value)


def test_menagerie_unreachable_offline_gives_the_menagerie_root_hint(monkeypatch, tmp_path):
    # A real refused connection: a port on loopback that nothing listens on.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("MENAGERIE_ROOT", raising=False)
    monkeypatch.setenv("MENAGERIE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MENAGERIE_BASE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(models.ModelError) as err:
        models.load("unitree_go2")
    msg = str(err.value)
    assert "unitree_go2" in msg and "MENAGERIE_ROOT" in msg and "not available" in msg


def test_menagerie_root_without_the_robot_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("MENAGERIE_ROOT", str(tmp_path))
    with pytest.raises(models.ModelError) as err:
        models.load("franka_emika_panda")
    assert f"MENAGERIE_ROOT={tmp_path}" in str(err.value)


def test_listing_marks_offline_availability(monkeypatch, tmp_path, panda_available):
    if not panda_available:
        pytest.skip("MENAGERIE_ROOT has no franka_emika_panda")
    root = tmp_path / "models"
    root.mkdir()
    (root / "franka_emika_panda").symlink_to(os.path.join(os.environ["MENAGERIE_ROOT"], "franka_emika_panda"))
    monkeypatch.setenv("MENAGERIE_ROOT", str(root))
    rows = {r.name: r for r in models.listing()}
    assert rows["bin"].available and rows["bin"].source == "bundled"
    assert rows["franka_emika_panda"].available
    assert not rows["unitree_go2"].available
