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
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "provision: installed ${#packages[@]} system packages"
