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


def provision_dry_run(tmp_path: Path, packages: str) -> subprocess.CompletedProcess:
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
        ["bash", str(ROOT / "docker" / "provision.sh"), "--dry-run"],
        env={**os.environ, "APT_CONFIG": str(conf)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ubuntu_base_gets_no_snap_only_chromium(tmp_path):
    result = provision_dry_run(tmp_path, UBUNTU)
    assert result.returncode == 0, result.stderr
    packages = result.stdout.split()
    assert "chromium" not in packages and "chromium-driver" not in packages
    assert "skipping headless Chromium" in result.stderr and "snap" in result.stderr
    # what the appliance needs is still there
    for pkg in ("libegl1", "libglvnd0", "libopengl0", "openssh-server", "tini"):
        assert pkg in packages


def test_debian_gets_chromium_for_the_browser_view_test(tmp_path):
    result = provision_dry_run(tmp_path, DEBIAN)
    assert result.returncode == 0, result.stderr
    packages = result.stdout.split()
    assert {"chromium", "chromium-driver"} <= set(packages)
    assert "skipping" not in result.stderr


def test_unknown_option_is_refused():
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "provision.sh"), "--pyhton"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage:" in result.stderr


def test_ci_and_the_image_run_this_same_script():
    """One install step: what CI exercises on every change is what the image build runs."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "bash docker/provision.sh" in ci
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY docker/provision.sh /opt/mjpod/docker/provision.sh" in dockerfile
    assert "RUN bash /opt/mjpod/docker/provision.sh" in dockerfile
