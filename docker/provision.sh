#!/usr/bin/env bash
# Installs the system packages mjpod needs on Debian or Ubuntu: only those missing, with sudo when
# not root, and nothing at all (no sudo, no apt) when every one is there. `make bench` and `make test`
# run it on first use, the Dockerfile at build time, and `make test-image` for its Docker engine.
#
#   docker/provision.sh [ROLE] [--dry-run]
#     run     (default) a host running mjpod: Python with venv, GL/EGL (glvnd loaders, Mesa for CPU
#             machines), make
#     test    what the test suite adds (make test runs run and test): OpenSSH server and client,
#             tini and tmux (the entrypoint run as in a container, with a job in tmux), headless
#             Chromium, a virtual X server for the window tests (xvfb, and xauth for its cookie;
#             screenshots are Xvfb's own framebuffer file, so no screenshot tool), ss (iproute2:
#             which addresses a server listens on)
#     image   the appliance image: GL/EGL, OpenSSH, tini, tmux, make, git (no browser: tests only;
#             Python comes from the base or from uv)
#     docker  make test-image: a Docker engine (Debian's docker.io, unless a dockerd is installed),
#             Compose (docker-compose, unless a compose is there) and mmdebstrap (the stand-in base)
#   --dry-run   resolve and print the role's packages, install nothing
set -euo pipefail

role=run
dry_run=0
for arg in "$@"; do
  case "$arg" in
    run | test | image | docker) role="$arg" ;;
    --dry-run) dry_run=1 ;;
    *) echo "usage: $0 [run|test|image|docker] [--dry-run]" >&2; exit 2 ;;
  esac
done

gl=(
  # glvnd loaders: NVIDIA's driver plugs in through these; Mesa's EGL (llvmpipe) is the CPU fallback
  libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0 libegl-mesa0 libgl1-mesa-dri
  # X11 client libraries GLFW loads for a window (mjpod view --local, make gui)
  libx11-6 libxrandr2 libxinerama1 libxcursor1 libxi6
)
# Headless Chromium: the browser-view tests (mjpod serve --web) drive it through chromedriver.
# Debian packages it as a deb; Ubuntu has only transitional packages that install the snap, which
# cannot work in a container or CI, so there it is skipped (only tests/stream/test_web.py needs it).
browser=()
case "$role" in
  run) packages=(python3 python3-venv ca-certificates make procps "${gl[@]}") ;;
  test)
    packages=(openssh-server openssh-client tini tmux xvfb xauth iproute2)
    browser=(chromium chromium-driver)
    ;;
  # sshd for VS Code Remote-SSH, the client for tunnels, tini as PID 1, procps for the entrypoint,
  # tmux to keep a job running after the SSH session ends (docker stop still lets it finish)
  image) packages=(ca-certificates make git procps openssh-server openssh-client tini tmux "${gl[@]}") ;;
  docker)
    packages=(mmdebstrap iptables)
    command -v dockerd >/dev/null || packages+=(docker.io)
    { command -v docker-compose || docker compose version; } >/dev/null 2>&1 || packages+=(docker-compose)
    ;;
esac

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  echo "provision: no apt here (not Debian or Ubuntu): install the equivalents of ${packages[*]} ${browser[*]} yourself" >&2
  exit 0
fi

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
# a dry run resolves the list for a fresh machine; otherwise only what is missing is installed
needed() { ((dry_run)) || ! installed "$1"; }
missing=()
for pkg in "${packages[@]}"; do if needed "$pkg"; then missing+=("$pkg"); fi; done
want_browser=()
for pkg in "${browser[@]}"; do if needed "$pkg"; then want_browser+=("$pkg"); fi; done
if ((${#missing[@]} + ${#want_browser[@]} == 0)); then
  echo "provision: the system packages for '$role' are installed"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "provision: missing system packages: ${missing[*]} ${want_browser[*]}; run as root: $0 $role (or apt-get install them)" >&2
    exit 1
  fi
  sudo="sudo"
  ((dry_run)) || echo "provision: installing ${missing[*]} ${want_browser[*]} with sudo (apt-get)" >&2
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq

# Whether apt can install PACKAGE here as a real deb (not missing, virtual, or a snap stub).
deb_available() {
  local candidate
  candidate="$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
  [[ -n "$candidate" && "$candidate" != "(none)" && "$candidate" != *snap* ]]
}
unavailable=()
for pkg in "${want_browser[@]}"; do deb_available "$pkg" || unavailable+=("$pkg"); done
if ((${#unavailable[@]})); then
  echo "provision: skipping headless Chromium: no deb for ${unavailable[*]} here (Ubuntu ships it only as a snap); only the browser-view test (tests/stream/test_web.py) needs it" >&2
else
  missing+=("${want_browser[@]}")
fi

if ((dry_run)); then
  printf '%s\n' "${missing[@]}"
  exit 0
fi
((${#missing[@]})) || exit 0
# Packages must not start services here (openssh-server would start sshd on port 22, docker.io
# dockerd): the entrypoint, the tests or make test-image start them. Debian's policy-rc.d hook says
# no while this runs.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "provision: installed ${missing[*]}"
