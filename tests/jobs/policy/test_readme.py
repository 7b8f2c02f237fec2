"""The README's policy example runs as written: its PD law, in `mjpod record`'s loop on the bundled
pendulum, holds every world near the pose it names."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mjpod import models
from mjpod.engines import EngineConfig, make
from mjpod.jobs import policy as policies

README = Path(__file__).resolve().parents[3] / "README.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return next(b for b in blocks if b.startswith("# controllers/pd.py"))


def test_the_readme_pd_example_holds_the_pendulum(tmp_path):
    (tmp_path / "controllers").mkdir()
    (tmp_path / "controllers" / "pd.py").write_text(example())
    mjm = models.load("pendulum").model
    policy = policies.load(f"{tmp_path}/controllers/pd.py:act", mjm, 4)
    config = policies.engine_config(EngineConfig(nworld=4, ctrl="hold"))
    with policies.drive(make("mjc", mjm, config), policy) as run:
        run.step(1000)  # 2 s
        qpos = run.observe()["qpos"]
    target = np.array([0.5, -0.3])
    assert np.abs(qpos - target).max() < 0.15, qpos
    assert np.abs(mjm.key_qpos[0] - target).max() > 0.5  # it started far from there
