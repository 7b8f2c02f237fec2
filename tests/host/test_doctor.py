"""`mjpod doctor` on this box for real, and with each known misconfiguration it must name and fix."""

import sys

import pytest

from mjpod.host import doctor
from tests import nvidia_smi
from tests.cli_runner import run_mjpod


def run_doctor(*args: str, **env: str):
    return run_mjpod("doctor", *args, **env)


def test_healthy_cpu_box_passes_and_reports_what_it_found():
    proc = run_doctor()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for check in ("NVIDIA driver", "EGL vendor", "GL renderer", "Warp", "ffmpeg", "disk"):
        assert check in out
    assert "llvmpipe" in out  # the GL renderer it really got


def test_capabilities_without_graphics_is_a_failure_with_the_fix():
    proc = run_doctor(NVIDIA_DRIVER_CAPABILITIES="compute,utility")
    assert proc.returncode == 1
    assert (
        "lacks graphics" in proc.stdout
        and "NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics" in proc.stdout
    )


def test_egl_device_id_out_of_range():
    count = doctor.egl_device_count()
    assert count and count >= 1
    proc = run_doctor(MUJOCO_EGL_DEVICE_ID=str(count + 3))
    assert proc.returncode == 1
    assert f"MUJOCO_EGL_DEVICE_ID={count + 3} is out of range" in proc.stdout


def test_frame_wider_than_offwidth_is_explained():
    proc = run_doctor("--model", "box_drop", "--width", "1920", "--height", "1080")
    assert "exceeds box_drop's offscreen buffer 1280x720" in proc.stdout
    assert 'offwidth="1920"' in proc.stdout


@pytest.mark.parametrize(
    ("message", "fix_part"),
    [
        (
            "RuntimeError: Cannot initialize a EGL device display. This likely means that your EGL driver "
            "does not support the PLATFORM_DEVICE extension",
            "NVIDIA_DRIVER_CAPABILITIES",
        ),
        (
            "ImportError: Cannot use EGL rendering platform. The PYOPENGL_PLATFORM environment variable is set "
            "to 'glx'",
            "PYOPENGL_PLATFORM=egl",
        ),
        ("OSError: libEGL.so.1: cannot open shared object file", "libegl1"),
        (
            "RuntimeError: The MUJOCO_EGL_DEVICE_ID environment variable must be an integer between 0 and 0",
            "out of range",
        ),
        ("mujoco.FatalError: gladLoadGL error", "README's troubleshooting"),
    ],
)
def test_known_gl_failures_map_to_their_fixes(message, fix_part):
    assert fix_part in doctor.explain_gl_error(message)


def test_old_driver_for_this_warp_is_a_failure(monkeypatch):
    from mjpod.host import sysinfo

    monkeypatch.setattr(
        sysinfo, "nvidia_gpus", lambda: [sysinfo.Gpu("NVIDIA H100 80GB HBM3", "550.54.15", 81559)]
    )
    finding = doctor.check_driver()
    assert finding.status == "fail" and "needs R580+" in finding.detail and "550.54.15" in finding.detail
    assert "make image WARP_CUDA=12" in finding.fix
    monkeypatch.setattr(
        sysinfo, "nvidia_gpus", lambda: [sysinfo.Gpu("NVIDIA H100 80GB HBM3", "580.65.06", 81559)]
    )
    assert doctor.check_driver().status == "ok"


@pytest.mark.parametrize(
    ("version", "driver"),
    [("1.19.0", 580), ("1.18.1", 580), ("1.19.0+cu12", 525), ("1.17.2", 525), ("1.20.0.dev20260101", 580)],
)
def test_driver_needed_by_each_warp_wheel(version, driver):
    """The image's WARP_CUDA=12 build installs a +cu12 wheel: doctor must not fail it on an R550 host."""
    assert doctor.warp_min_driver(version) == driver


def test_without_imageio_ffmpeg_doctor_warns_what_is_lost_and_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # `import imageio_ffmpeg` raises ImportError
    finding = doctor.check_ffmpeg()
    assert finding.status == "warn" and "pip install imageio-ffmpeg" in finding.fix
    assert "recording" in finding.detail and "encode and record sections" in finding.detail


def doctor_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """check -> (status, first line of the detail), from doctor's table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 3 and cells[0] and cells[0] != "check":
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_an_nvidia_box_rendering_in_software_fails_with_each_cause_named(tmp_path, has_cuda):
    """A real `nvidia-smi` CSV (tests/nvidia_smi.py) on a box whose EGL is Mesa and whose Warp has no
    CUDA: the three NVIDIA-only checks must fail through the real CLI, not only with the probe patched."""
    if has_cuda:
        pytest.skip("this box has a working GPU; the fake nvidia-smi stands for a misconfigured one")
    proc = run_doctor(**nvidia_smi.on_path(tmp_path / "bin"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = doctor_rows(proc.stdout)
    status, detail = rows["NVIDIA driver"]
    assert status == "ok" and detail.startswith("1 x NVIDIA H100 80GB HBM3, driver 580.65.06"), detail
    assert rows["EGL vendor"][0] == "fail" and "no NVIDIA EGL vendor file" in rows["EGL vendor"][1]
    assert (
        rows["GL renderer"][0] == "fail"
        and "software rendering on an NVIDIA box: llvmpipe" in rows["GL renderer"][1]
    )
    assert rows["Warp"] == ("fail", "NVIDIA GPU present but Warp sees no CUDA device (cpu)")
    assert "3 problem(s): EGL vendor, GL renderer, Warp" in proc.stderr
