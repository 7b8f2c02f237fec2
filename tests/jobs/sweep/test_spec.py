"""Sweep specs: the grid expands as written, ids are stable, and every bad spec is refused by name."""

from __future__ import annotations

import pytest

from mjpod.jobs.sweep import grid, spec
from tests.jobs.sweep import specs


def expand(text: str, tmp_path, name: str = "s.toml") -> list[grid.Job]:
    path = tmp_path / name
    path.write_text(text)
    return grid.expand(spec.load(path))


def test_grid_is_the_product_with_gains_only_where_they_apply(tmp_path):
    found = expand(specs.GAINS, tmp_path)
    # comfree: 3 stiffnesses x 2 seeds; mjc ignores gains: 2 seeds, not 6 copies
    assert len(found) == 3 * 2 + 2
    mjc = [j for j in found if j.params["engine"] == "mjc"]
    assert all("comfree_stiffness" not in j.params and "device" not in j.params for j in mjc)
    comfree = [j for j in found if j.params["engine"] == "comfree"]
    assert sorted({j.params["comfree_stiffness"] for j in comfree}) == [0.1, 0.2, 0.4]
    assert all(j.params["duration"] == 0.5 and j.params["rate"] == 50.0 for j in found)  # settings, defaults
    assert len({j.id for j in found}) == len(found)


def test_ids_come_from_the_parameters(tmp_path):
    first = [j.id for j in expand(specs.GAINS, tmp_path)]
    assert first == [j.id for j in expand(specs.GAINS, tmp_path)]  # the same spec gives the same ids
    # a default written out is the same job; a changed value is another
    assert first == [
        j.id for j in expand(specs.GAINS.replace("duration = 0.5", "duration = 0.5\nrate = 50.0"), tmp_path)
    ]
    changed = [j.id for j in expand(specs.GAINS.replace("duration = 0.5", "duration = 0.6"), tmp_path)]
    assert not set(first) & set(changed)
    assert first[0].startswith("rollout-box_drop-mjc-n1-s0-")


def test_resources_follow_the_device(tmp_path):
    found = expand(specs.GAINS, tmp_path)
    comfree = next(j for j in found if j.params["engine"] == "comfree")
    mjc = next(j for j in found if j.params["engine"] == "mjc")
    assert comfree.request(cluster_has_gpus=True) == {"CPU": 2.0, "GPU": 0.5}
    assert comfree.request(cluster_has_gpus=False) == {"CPU": 2.0, "GPU": 0.0}  # device auto: cpu there
    assert mjc.request(cluster_has_gpus=True) == {"CPU": 2.0, "GPU": 0.0}  # mjc never takes a GPU


def test_yaml_reads_as_toml(tmp_path):
    yaml_text = """
grid:
  kind: [rollout]
  model: [box_drop]
  engine: [mjc, comfree]
  comfree_stiffness: [0.1, 0.2, 0.4]
  seed: [0, 1]
settings: {duration: 0.5}
resources: {cpus: 2, gpus: 0.5}
"""
    assert [j.id for j in expand(yaml_text, tmp_path, "s.yaml")] == [
        j.id for j in expand(specs.GAINS, tmp_path)
    ]


def test_union_of_grids_and_relative_model_paths(tmp_path):
    (tmp_path / "scene.xml").write_text('<mujoco><worldbody><geom size=".1"/></worldbody></mujoco>')
    found = expand(
        '[[grid]]\nkind = ["bench"]\nmodel = ["pendulum"]\n[[grid]]\nkind = ["record"]\nmodel = ["scene.xml"]\n',
        tmp_path,
    )
    assert [j.kind for j in found] == ["bench", "record"]
    assert found[1].params["model"] == str(tmp_path / "scene.xml")
    assert found[1].id.startswith("record-scene-mjc-")


BAD = [
    ("[grid]\nkind = ['record']\nmodle = ['bin']\n", "grid.modle", "did you mean 'model'"),
    ("[grid]\nkind = ['record']\nmodel = ['no_such_robot']\n", "no_such_robot", "cannot be loaded"),
    ("[grid]\n", "grid is empty", "give at least one key"),
    ("[grid]\nkind = ['record']\nmodel = []\n", "grid.model is empty", "at least one value"),
    ("[grid]\nkind = ['record']\nmodel = 'bin'\n", "grid.model must be a list", "model = ['bin']"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\n[settings]\nduration = [1, 2]\n", "settings.duration is a list",
     "move it to [grid]"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\nsensors = [true]\n", "grid.sensors cannot be swept", "[settings]"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\n[settings]\nmodel = 'bin'\n", "both in [settings] and in grid",
     "keep one"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\n[settings]\nrate = 10\n", "settings.rate is read by rollout",
     "remove it"),
    ("[grid]\nmodel = ['bin']\n", "kind is missing", "kind = "),
    ("[grid]\nkind = ['render']\nmodel = ['bin']\n", "grid.kind = 'render'", "record, rollout, bench"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\nnworld = ['8']\n", "grid.nworld = '8'", "an integer"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\nnworld = [0]\n", "grid.nworld = 0", "at least 1"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\n[resources]\ngpu = 1\n", "resources.gpu", "did you mean 'gpus'"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\n[settings]\nworlds = [0, 2]\n", "settings.worlds [0, 2]",
     "simulate more"),
    ("[grid]\nkind = ['record']\nmodel = ['bin']\n[sweep]\n", "unknown top-level key 'sweep'", "grid, settings"),
    # camera data: each new key checked against its values, the job's engine and the model
    ("[grid]\nkind = ['rollout']\nmodel = ['box_drop']\n[settings]\nimages = ['rgb', 'normals']\n",
     "settings.images = ['rgb', 'normals']", "rgb, depth, segmentation"),
    ("[grid]\nkind = ['rollout']\nmodel = ['box_drop']\n[settings]\nimages = ['depth']\ncameras = ['side', 'top']\n",
     "a rollout job (box_drop, mjc, nworld 1): cameras: no camera 'top'", "the model's cameras: side"),
    ("[grid]\nkind = ['rollout']\nmodel = ['box_drop']\nengine = ['mjc', 'mjwarp']\n[settings]\nrenderer = 'batch'\n"
     "images = ['rgb']\n", "a rollout job (box_drop, mjc, nworld 1): renderer = batch draws a Warp engine's "
     "worlds, and this job's engine is mjc", "[[grid]] table"),
    ("[grid]\nkind = ['record']\nmodel = ['box_drop']\n[settings]\nrenderer = 'batch'\n",
     "a record job (box_drop, mjc, nworld 1): renderer = batch", "sweep mjwarp or comfree"),
    ("[grid]\nkind = ['rollout']\nmodel = ['box_drop']\n[settings]\ncameras = ['side']\n",
     "cameras is set but images is empty", "set images"),
    ("[grid]\nkind = ['rollout']\nmodel = ['box_drop']\n[settings]\ncameras = [true]\n",
     "settings.cameras = True must be a name or an id", "name or an id"),
    ("[grid]\nkind = ['rollout']\nmodel = ['box_drop']\n[settings]\nformat = 'zarr'\n",
     "settings.format = 'zarr'", "npz, hdf5"),
    ("[grid]\nkind = ['record']\nmodel = ['box_drop']\n[settings]\nimages = ['rgb']\n",
     "settings.images is read by rollout jobs only", "remove it"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "names", "fix"), BAD, ids=[b[1] for b in BAD])
def test_bad_specs_are_refused_naming_the_key_and_the_fix(tmp_path, text, names, fix):
    with pytest.raises(spec.SpecError) as err:
        expand(text, tmp_path)
    assert names in str(err.value) and fix in str(err.value), str(err.value)


def test_every_key_is_documented():
    from pathlib import Path

    from mjpod.jobs.sweep.keys import KEYS, RESOURCE_KEYS

    doc = (Path(__file__).resolve().parents[3] / "docs" / "sweep.md").read_text()
    assert [k for k in [*KEYS, *RESOURCE_KEYS] if f"`{k}`" not in doc] == []
