#!/usr/bin/env bash
# Installs the system packages mjpod needs, on Debian or Ubuntu. The Dockerfile runs it at build
# time and CI runs it on its Debian machine, so this install step is exercised on every change.
#
#   docker/provision.sh            GL/EGL runtime (glvnd + Mesa for CPU machines), make, git
#   docker/provision.sh --python   also a system Python with venv (for bare CUDA base images)
#   docker/provision.sh --dry-run  resolve and print the package list, install nothing
set -euo pipefail

packages=(
  # glvnd loaders: NVIDIA's driver plugs in through these; Mesa's EGL (llvmpipe) is the CPU fallback
  libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0
  libegl-mesa0 libgl1-mesa-dri
  ca-certificates make git procps
  # the appliance: sshd for VS Code Remote-SSH, the client for tests and tunnels, tini as PID 1
  openssh-server openssh-client tini
  # X11 client libraries GLFW loads for `make gui` (mjpod view --local on the host's display)
  libx11-6 libxrandr2 libxinerama1 libxcursor1 libxi6
)
# Headless Chromium: the browser-view tests (mjpod serve --web) drive it through chromedriver.
# Debian packages it as a deb. Ubuntu (the image's nvidia/cuda base) has no chromium deb, only
# transitional packages that install the snap, which cannot work in a container build, so there
# it is skipped: the appliance itself never needs a browser.
browser=(chromium chromium-driver)
dry_run=0
for arg in "$@"; do
  case "$arg" in
    --python) packages+=(python3 python3-venv python3-pip python3-dev) ;;
    --dry-run) dry_run=1 ;;
    *) echo "usage: $0 [--python] [--dry-run]" >&2; exit 2 ;;
  esac
done

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq

# Whether apt can install PACKAGE here as a real deb (not missing, virtual, or a snap stub).
deb_available() {
  local candidate
  candidate="$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
  [[ -n "$candidate" && "$candidate" != "(none)" && "$candidate" != *snap* ]]
}
missing=()
for pkg in "${browser[@]}"; do deb_available "$pkg" || missing+=("$pkg"); done
if ((${#missing[@]} == 0)); then
  packages+=("${browser[@]}")
else
  echo "provision: skipping headless Chromium: no deb for ${missing[*]} here (Ubuntu ships it only as a snap); only the browser-view test (tests/stream/test_web.py) needs it" >&2
fi

if ((dry_run)); then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
# Packages must not start services here (openssh-server would start sshd on port 22): the entrypoint
# or the tests start sshd themselves. Debian's policy-rc.d hook says no while this runs.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "provision: installed ${#packages[@]} system packages"
