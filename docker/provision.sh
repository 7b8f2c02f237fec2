#!/usr/bin/env bash
# Installs the system packages mjpod needs, on Debian or Ubuntu. The Dockerfile runs it at build
# time and CI runs it on its Debian machine, so this install step is exercised on every change.
#
#   docker/provision.sh            GL/EGL runtime (glvnd + Mesa for CPU machines), make, git
#   docker/provision.sh --python   also a system Python with venv (for bare CUDA base images)
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
  # headless Chromium: the browser-view tests (mjpod serve --web) drive it through chromedriver
  chromium chromium-driver
)
if [[ "${1:-}" == "--python" ]]; then
  packages+=(python3 python3-venv python3-pip python3-dev)
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Packages must not start services here (openssh-server would start sshd on port 22): the entrypoint
# or the tests start sshd themselves. Debian's policy-rc.d hook says no while this runs.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "provision: installed ${#packages[@]} system packages"
