"""The Docker-facing Make targets: `make -n` shows the docker command each would run (GPU flag,
volumes, loopback-only ports), and without Docker they stop with what is missing and how to fix it.
Also shellcheck over every shell script the image and the targets run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mjpod.jobs.bench import BenchConfig

ROOT = Path(__file__).resolve().parents[2]
KEY = "/home/me/.ssh/id_ed25519.pub"


def make(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def dry(*args: str, **env: str) -> str:
    """`make -n ARGS` with a key named (ARGS may name another: make takes a variable's last setting)."""
    result = make("-n", "SSH_PUBKEY=" + KEY, *args, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def docker_lines(out: str) -> list[str]:
    lines = (" ".join(line.split()) for line in out.replace("\\\n", " ").splitlines())
    return [line for line in lines if line.startswith("docker ")]


def build_line(out: str) -> str:
    (cmd,) = docker_lines(out.replace("DOCKER_BUILDKIT=1 docker ", "docker "))
    return cmd


def test_image_builds_with_buildkit_and_the_build_args():
    out = dry("image", "IMAGE=docker.io/me/mjpod", "TAG=0.1", "CA_CERT=")
    assert "DOCKER_BUILDKIT=1 docker build" in out  # a CLI older than 23 builds with BuildKit only then
    assert "scripts/check-docker.sh --build" in out
    cmd = build_line(out)
    assert cmd.startswith("docker build -t docker.io/me/mjpod:0.1 ")
    assert "--build-arg WARP_CUDA=13" in cmd and '--build-arg MENAGERIE_ROBOTS="franka_emika_panda"' in cmd
    assert "--secret" not in cmd and "BASE_IMAGE" not in cmd and "UV_IMAGE" not in cmd
    assert cmd.endswith(" .")
    cu12 = build_line(dry("image", "WARP_CUDA=12"))
    assert "--build-arg WARP_CUDA=12" in cu12
    assert "--build-arg BASE_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04" in cu12


def test_a_proxy_ca_reaches_the_build_as_a_secret():
    """Not a build arg: a secret never lands in the image or its history."""
    cmd = build_line(dry("image", "CA_CERT=/etc/corp/proxy-ca.pem"))
    assert "--secret id=ca,src=/etc/corp/proxy-ca.pem" in cmd
    assert "proxy-ca" not in cmd.split("--secret")[0]
    assert "--secret id=ca,src=/etc/ssl/x.pem" in build_line(dry("image", SSL_CERT_FILE="/etc/ssl/x.pem"))


def test_base_debian_builds_from_stand_ins_without_any_registry():
    out = dry("image", "BASE=debian", "CA_CERT=")
    assert "scripts/debian-base.sh mjpod-base:bookworm" in out
    uv_version = re.search(r"^ARG UV_VERSION=(\S+)", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert f"scripts/uv-image.sh mjpod-uv:{uv_version} {uv_version}" in out
    cmd = build_line(out)
    for arg in (
        "BASE_IMAGE=mjpod-base:bookworm",
        f"UV_IMAGE=mjpod-uv:{uv_version}",
        "PYTHON_VERSION=/usr/bin/python3.11",
        'MENAGERIE_ROBOTS=""',  # no GitHub: robots come from a mounted MENAGERIE_ROOT
    ):
        assert f"--build-arg {arg}" in cmd, cmd
    bad = make("-n", "image", "BASE=ubuntu")
    assert bad.returncode != 0 and "BASE must be cuda or debian, not 'ubuntu'" in bad.stderr


def test_bench_in_the_container_mounts_results_and_the_workspace():
    out = dry("bench", "WHERE=container", "BENCH_ARGS=--quick")
    assert "bench: in the container, image mjpod:latest" in out
    (cmd,) = docker_lines(out)
    assert cmd.startswith("docker run --rm ")
    assert "--gpus all" in cmd
    assert "-v mjpod-workspace:/workspace" in cmd
    assert f"-v {ROOT}/bench/results:/workspace/results" in cmd
    assert cmd.endswith("mjpod:latest scripts/bench.sh --quick")
    assert "scripts/check-docker.sh --gpu" in out


def test_bench_without_docker_or_image_runs_in_the_venv_and_says_so():
    out = dry("bench", "DOCKER=/nonexistent/docker")
    assert "bench: in the local venv .venv (no Docker engine or no image mjpod:latest" in out
    # the Makefile's one shell-side OUT default stays mjpod bench's own (BenchConfig.out)
    assert f".venv/bin/mjpod bench --out {BenchConfig.out}" in out
    assert not docker_lines(out)


def test_bench_rejects_an_unknown_where():
    result = make("-n", "bench", "WHERE=cloud")
    assert result.returncode != 0
    assert "WHERE must be auto, local or container, not 'cloud'" in result.stderr


def test_record_writes_videos_to_the_host():
    out = dry("record", "WHERE=container", "ARGS=--model bin --duration 2")
    assert "record: in the container, image mjpod:latest" in out
    (cmd,) = docker_lines(out)
    assert "--gpus all" in cmd and f"-v {ROOT}/videos:/workspace/videos" in cmd
    assert cmd.endswith("mjpod:latest scripts/record.sh --model bin --duration 2")


@pytest.mark.parametrize("job, script", [("record", "record.sh"), ("serve", "stream.sh")])
def test_record_and_serve_without_docker_run_the_same_script_in_the_venv(job, script):
    out = dry(job, "DOCKER=/nonexistent/docker", "ARGS=--model bin")
    assert f"{job}: in the local venv .venv (no Docker engine or no image mjpod:latest" in out
    assert f'PATH="{ROOT}/.venv/bin:$PATH" scripts/{script} --model bin' in out
    assert not docker_lines(out)


@pytest.mark.ffmpeg
def test_record_in_the_venv_writes_a_video(tmp_path):
    video = tmp_path / "clip.mp4"
    result = make("record", "WHERE=local", f"ARGS=--model pendulum --duration 0.2 --fps 10 -o {video}")
    assert result.returncode == 0, result.stderr
    assert "record: in the local venv" in result.stdout
    assert video.stat().st_size > 0 and video.with_suffix(".json").is_file()


def test_serve_publishes_stream_and_web_on_loopback_only():
    (cmd,) = docker_lines(dry("serve", "WHERE=container", "ARGS=--model bin"))
    assert "-p 127.0.0.1:7000:7000" in cmd and "-p 127.0.0.1:8080:8080" in cmd
    assert " -p 7000" not in cmd and " -p 0.0.0.0" not in cmd
    assert cmd.endswith("scripts/stream.sh --model bin")


def test_shell_is_interactive_with_gpu_and_workspace():
    (cmd,) = docker_lines(dry("shell", "MENAGERIE_ROOT="))
    assert cmd == "docker run --rm -it --gpus all -v mjpod-workspace:/workspace mjpod:latest bash"


@pytest.mark.parametrize("job", ["bench", "record", "serve", "shell"])
def test_the_local_models_are_mounted_read_only_when_set(job, tmp_path):
    """An image built without a registry holds no robot: MENAGERIE_ROOT must reach the container."""
    (cmd,) = docker_lines(dry(job, "WHERE=container", f"MENAGERIE_ROOT={tmp_path}"))
    assert f"-v {tmp_path}:/models:ro -e MENAGERIE_ROOT=/models " in cmd
    (cmd,) = docker_lines(dry(job, "WHERE=container", "MENAGERIE_ROOT="))
    assert "/models" not in cmd


def test_no_gpu_mode_drops_the_gpu_flag_and_check():
    out = dry("shell", "GPUS=")
    assert "--gpus" not in out and "--gpu" not in out


def test_up_passes_the_public_key_and_ports_to_compose():
    out = dry("up", "SSH_PORT=2200").replace("\\\n", " ")
    assert "scripts/check-docker.sh --gpu --compose" in out
    assert f'PUBLIC_KEY="${{PUBLIC_KEY:-$(cat {KEY})}}"' in out
    assert "MJPOD_SSH_BIND=127.0.0.1 MJPOD_SSH_PORT=2200" in out
    assert "docker compose -f compose.yaml -f compose.gpu.yaml up -d appliance" in " ".join(out.split())


def test_up_without_a_gpu_and_with_another_compose():
    out = " ".join(dry("up", "GPUS=", "COMPOSE=docker-compose", "SSH_BIND=0.0.0.0").split())
    assert "--gpu" not in out and "compose.gpu.yaml" not in out
    assert "MJPOD_SSH_BIND=0.0.0.0" in out
    assert "docker-compose -f compose.yaml up -d appliance" in out
    assert "docker-compose -f compose.yaml down" in " ".join(
        dry("down", "GPUS=", "COMPOSE=docker-compose").split()
    )


def test_ssh_does_not_forward_the_ports_compose_already_publishes():
    """compose publishes 127.0.0.1:7000 and :8080 on this host; an ssh -L of the same ports could
    not bind ("Address already in use") and would only add a warning."""
    out = " ".join(dry("ssh").split())
    assert "ssh -p 2222 -o HostKeyAlias=mjpod-local root@127.0.0.1" in out
    assert " -L " not in out


def test_ssh_follows_the_bind_address_and_a_key_that_is_not_a_default_one(tmp_path):
    key = tmp_path / "mjpod_key"
    key.write_text("private")
    out = " ".join(dry("ssh", f"SSH_PUBKEY={key}.pub", "SSH_BIND=10.1.2.3", "SSH_PORT=2201").split())
    assert f"ssh -p 2201 -i {key} -o IdentitiesOnly=yes -o HostKeyAlias=mjpod-local root@10.1.2.3" in out
    everywhere = " ".join(dry("ssh", "SSH_BIND=0.0.0.0").split())
    assert "root@127.0.0.1" in everywhere  # published on all interfaces: this host reaches it on loopback


def test_push_needs_a_registry_name():
    (cmd,) = docker_lines(dry("push", "IMAGE=ghcr.io/me/mjpod", "TAG=0.2"))
    assert cmd == "docker push ghcr.io/me/mjpod:0.2"
    result = make("push")
    assert result.returncode != 0
    assert "IMAGE=mjpod names no registry or account" in result.stderr


def test_gui_uses_the_host_display_with_a_cookie_not_a_host_rule():
    """The socket folder and a copy of your cookie (tests/image/test_gui.py draws through them)."""
    out = dry("gui", "DISPLAY=:1", "GUI_XAUTH=/run/user/7/gui.xauth")
    (cmd,) = docker_lines(out)
    assert "-e DISPLAY=:1" in cmd and "-v /tmp/.X11-unix:/tmp/.X11-unix:ro" in cmd
    assert 'DISPLAY=:1 scripts/x11-access.sh "/run/user/7/gui.xauth"' in out
    assert '-v "/run/user/7/gui.xauth":/tmp/.mjpod-gui.xauth:ro -e XAUTHORITY=/tmp/.mjpod-gui.xauth' in cmd
    assert "-e MUJOCO_GL=glfw" in cmd and "--gpus all" in cmd and " -it " not in cmd  # no terminal here
    assert cmd.endswith('mjpod view --local "bin"')
    result = make("gui", "DISPLAY=")
    assert result.returncode != 0 and "DISPLAY is not set" in result.stderr


def test_gui_refuses_a_display_it_cannot_reach_and_says_where_to_go():
    """ssh -X gives DISPLAY=localhost:10.0: a TCP port on the host, not a socket the container has."""
    result = make("gui", "DISPLAY=localhost:10.0")
    assert result.returncode == 2
    assert "not on DISPLAY=localhost:10.0" in result.stderr and "browser view" in result.stderr


def test_gui_command_line_is_one_mjpod_view_accepts():
    """`mjpod view --local` takes the model as its value; the command make gui prints must get past
    the real CLI's parsing (here it stops at the missing display, the container's step after)."""
    (cmd,) = docker_lines(dry("gui", "DISPLAY=:1", "GUI_MODEL=box_drop", "ARGS=--engine mjc"))
    argv = shlex.split(cmd)
    view = argv[argv.index("mjpod") :]
    assert view == ["mjpod", "view", "--local", "box_drop", "--engine", "mjc"]
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mjpod"), *view[1:]],
        env={**env, "MUJOCO_GL": "glfw", "PYOPENGL_PLATFORM": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = " ".join((result.stdout + result.stderr).split())
    assert "unexpected extra argument" not in out and "requires an argument" not in out
    assert "no display here" in out, out


def test_runpod_targets_call_the_mjpod_command():
    out = dry("runpod-up", "IMAGE=docker.io/me/mjpod", "RUNPOD_GPU=NVIDIA H100 80GB HBM3").replace(
        "\\\n", " "
    )
    assert ".venv/bin/mjpod runpod up --image docker.io/me/mjpod:latest" in out
    assert '--gpu "NVIDIA H100 80GB HBM3"' in out and f"--key {KEY}" in out and "--warp-cuda 13" in out
    assert ".venv/bin/mjpod runpod down --name mjpod" in dry("runpod-down")
    assert ".venv/bin/mjpod runpod ssh --name mjpod --exec" in dry("runpod-ssh")


@pytest.mark.parametrize(
    "target", ["image", "shell", "record-container", "serve-container", "push", "up", "bench-container"]
)
def test_without_docker_the_targets_say_what_to_install(target):
    result = make(target, "DOCKER=/nonexistent/docker", "IMAGE=docker.io/me/mjpod")
    assert result.returncode != 0
    assert "Docker is not installed here ('/nonexistent/docker' is not on PATH)" in result.stderr
    assert "https://docs.docker.com/engine/install/" in result.stderr
    assert "make bench WHERE=local" in result.stderr


def test_shell_scripts_pass_shellcheck():
    scripts = sorted([*(ROOT / "docker").glob("*.sh"), *(ROOT / "scripts").glob("*.sh")])
    assert len(scripts) >= 8
    result = subprocess.run(
        [str(Path(sys.executable).parent / "shellcheck"), *map(str, scripts)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_bench_script_writes_into_the_workspace(tmp_path):
    """In the container results go to $MJPOD_WORKSPACE/results (bench/results is mounted there)."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "bench.sh"), "--help"],
        env={
            **os.environ,
            "MJPOD_WORKSPACE": str(tmp_path),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "results").is_dir()
    assert "--out" in result.stdout
