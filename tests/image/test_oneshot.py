"""One-shot containers: `docker run IMAGE COMMAND` runs the command instead of staying up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.image.conftest import IMAGE, TAG, make

pytestmark = pytest.mark.image


def test_doctor_names_the_gl_renderer_it_really_got(docker, image):
    """No GPU here: EGL must fall back to Mesa's llvmpipe, and doctor must say so, not guess. A
    one-shot command with no key gets no word about sshd (before: on every run)."""
    result = docker.run("run", "--rm", "-e", "COLUMNS=250", image, "mjpod", "doctor")
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert "llvmpipe" in rows["GL renderer"], result.stdout
    assert "MUJOCO_GL=egl" in rows["GL renderer"]
    assert "sshd" not in result.stderr, result.stderr


def test_bench_quick_in_the_container_with_the_models_mounted_read_only(docker_env, image, tmp_path):
    """`make bench` in the container mounts MENAGERIE_ROOT read-only (an image built without a
    registry holds no robot), and results land in OUT on the host."""
    models = Path(os.environ.get("MENAGERIE_ROOT", ""))
    if not (models / "franka_emika_panda").is_dir():
        pytest.skip("no local Menagerie models (../shared/models or MENAGERIE_ROOT)")
    skip = " ".join(f"--skip {s}" for s in ("contact", "stream", "encode", "record", "batch"))
    result = make(
        "bench",
        "WHERE=container",
        "GPUS=",
        f"IMAGE={IMAGE}",
        f"TAG={TAG}",
        f"OUT={tmp_path}",
        f"MENAGERIE_ROOT={models}",
        f"BENCH_ARGS=--quick --engine mjc {skip}",
        env=docker_env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "bench: in the container, image mjpod:test" in result.stdout
    assert f"-v {models}:/models:ro -e MENAGERIE_ROOT=/models" in " ".join(result.stdout.split())
    (report,) = tmp_path.glob("bench-*-quick.json")
    rows = json.loads(report.read_text())["results"]
    panda = [r for r in rows if r["model"].startswith("franka_emika_panda")]
    assert {r["section"] for r in panda} >= {"seed", "render", "physics"}, rows
    assert all(r["value"] > 0 for r in panda)
