"""docker/provision.sh chooses its packages with the real apt, against a local repository written in
apt's own format (the distributions' archives cannot be reached from here): the image's Ubuntu base,
where Chromium is only a snap stub, must not get it (the build would fail there); Debian, where CI
runs, must."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (shutil.which("apt-get") and os.geteuid() == 0), reason="needs apt and root (apt-get update)"
)

UBUNTU = """\
Package: chromium-browser
Version: 2:1snap1-0ubuntu2
Architecture: all
Filename: pool/chromium-browser.deb
Size: 1
Description: Transitional package - chromium-browser -> chromium snap

Package: chromium-chromedriver
Version: 2:1snap1-0ubuntu2
Architecture: all
Provides: chromium-driver
Depends: chromium-browser
Filename: pool/chromium-chromedriver.deb
Size: 1
Description: Transitional package - chromium-chromedriver -> chromium snap
"""

DEBIAN = """\
Package: chromium
Version: 156.0.8078.79-1~deb12u1
Architecture: all
Filename: pool/chromium.deb
Size: 1
Description: web browser

Package: chromium-driver
Version: 156.0.8078.79-1~deb12u1
Architecture: all
Depends: chromium
Filename: pool/chromium-driver.deb
Size: 1
Description: web browser - WebDriver support
"""


def provision_dry_run(tmp_path: Path, packages: str, role: str = "test") -> subprocess.CompletedProcess:
    """docker/provision.sh --dry-run with apt reading only a local repository holding `packages`."""
    for sub in ("repo", "lists/partial", "cache/archives/partial", "sources.list.d"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "repo" / "Packages").write_text(packages)
    (tmp_path / "status").write_text("")
    (tmp_path / "sources.list").write_text(f"deb [trusted=yes] file:{tmp_path / 'repo'} ./\n")
    conf = tmp_path / "apt.conf"
    conf.write_text(
        f'Dir::Etc::SourceList "{tmp_path / "sources.list"}";\n'
        f'Dir::Etc::SourceParts "{tmp_path / "sources.list.d"}";\n'
        f'Dir::State::Lists "{tmp_path / "lists"}";\n'
        f'Dir::State::status "{tmp_path / "status"}";\n'
        f'Dir::Cache "{tmp_path / "cache"}";\n'
        'Acquire::Languages "none";\n'
    )
    return subprocess.run(
        ["bash", str(ROOT / "docker" / "provision.sh"), role, "--dry-run"],
        env={**os.environ, "APT_CONFIG": str(conf)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ubuntu_gets_no_snap_only_chromium(tmp_path):
    result = provision_dry_run(tmp_path, UBUNTU)
    assert result.returncode == 0, result.stderr
    packages = result.stdout.split()
    assert "chromium" not in packages and "chromium-driver" not in packages
    assert "skipping headless Chromium" in result.stderr and "snap" in result.stderr
    # what the tests need is still there (sshd, the entrypoint as in a container, the X server)
    assert {"openssh-server", "openssh-client", "tini", "tmux", "xvfb", "xauth"} <= set(packages)


def test_debian_gets_chromium_for_the_browser_view_test(tmp_path):
    result = provision_dry_run(tmp_path, DEBIAN)
    assert result.returncode == 0, result.stderr
    packages = result.stdout.split()
    assert {"chromium", "chromium-driver"} <= set(packages)
    assert "skipping" not in result.stderr


def test_the_image_gets_the_appliance_and_no_browser(tmp_path):
    """Chromium is for test machines (348 MB): the appliance needs GL/EGL, sshd and tini."""
    result = provision_dry_run(tmp_path, DEBIAN, role="image")
    assert result.returncode == 0, result.stderr
    packages = set(result.stdout.split())
    assert not {"chromium", "chromium-driver"} & packages
    assert {
        "libegl1",
        "libglvnd0",
        "libopengl0",
        "libegl-mesa0",
        "openssh-server",
        "tini",
        "tmux",
        "procps",
    } <= packages


def test_a_host_gets_python_with_venv_and_gl(tmp_path):
    """`make bench` on a fresh Debian: python3 -m venv needs python3-venv, rendering needs EGL."""
    packages = set(provision_dry_run(tmp_path, DEBIAN, role="run").stdout.split())
    assert {"python3", "python3-venv", "libegl1", "libegl-mesa0", "make"} <= packages
    assert "openssh-server" not in packages and "chromium" not in packages


def test_unknown_option_is_refused():
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "provision.sh"), "--pyhton"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage:" in result.stderr


def as_nobody(*args: str, **env: str) -> subprocess.CompletedProcess:
    """provision.sh as an ordinary user with no sudo (there is none here): it may not install anything."""
    user = ["runuser", "-u", "nobody", "--", "env", *(f"{k}={v}" for k, v in env.items())]
    return subprocess.run(
        [*user, "bash", str(ROOT / "docker" / "provision.sh"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(shutil.which("sudo") is not None, reason="sudo is installed here: it would be asked")
@pytest.mark.parametrize("role", ["run", "test"])
def test_when_everything_is_there_it_needs_no_root_and_does_nothing(role):
    """The quick-start commands run it on first use: on a provisioned machine it must not ask for
    sudo or touch apt (as an ordinary user without sudo, any install attempt fails)."""
    result = as_nobody(role)
    assert result.returncode == 0, result.stderr
    assert f"the system packages for '{role}' are installed" in result.stdout


@pytest.mark.skipif(shutil.which("sudo") is not None, reason="sudo is installed here: it would be asked")
def test_missing_packages_without_root_or_sudo_are_named_with_the_fix(tmp_path):
    """dpkg's database swapped for an empty one: everything is missing, and there is no sudo."""
    (tmp_path / "status").write_text("")
    (tmp_path / "updates").mkdir()
    tmp_path.chmod(0o755)
    result = as_nobody("run", DPKG_ADMINDIR=str(tmp_path))
    assert result.returncode == 1
    assert "missing system packages: python3 python3-venv" in result.stderr
    assert "run as root: " in result.stderr and "provision.sh run" in result.stderr


def test_the_image_and_the_quick_start_commands_run_this_same_script():
    """One install step: the Dockerfile's, and the one `make bench` and `make test` run first (which
    CI runs as the README writes them)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY docker/provision.sh docker/with-ca.sh /opt/mjpod/docker/" in dockerfile
    assert "bash /opt/mjpod/docker/provision.sh image" in dockerfile
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "bench", "test", "WHERE=local", "VENV=/nonexistent/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "bash docker/provision.sh run" in dry.stdout and "bash docker/provision.sh test" in dry.stdout
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "make bench" in ci and "make test" in ci
