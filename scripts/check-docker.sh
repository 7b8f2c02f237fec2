#!/usr/bin/env bash
# Run by the Make targets that need Docker, before they use it: is the engine reachable, and
# (--gpu) is the NVIDIA Container Toolkit registered, so that `--gpus all` works; (--compose) is
# Compose v2 there. Says what is missing and how to install it.
#   scripts/check-docker.sh [--gpu] [--compose]
set -euo pipefail
DOCKER="${DOCKER:-docker}"
want_gpu=0
want_compose=0
for arg in "$@"; do
  case "$arg" in
    --gpu) want_gpu=1 ;;
    --compose) want_compose=1 ;;
    *) echo "usage: $0 [--gpu] [--compose]" >&2; exit 2 ;;
  esac
done

missing() {
  printf 'mjpod: %s\n' "$@" >&2
  exit 1
}

if ! command -v "$DOCKER" >/dev/null 2>&1; then
  missing "Docker is not installed here ('$DOCKER' is not on PATH)." \
    "  Install Docker Engine (https://docs.docker.com/engine/install/) and re-run." \
    "  Without Docker the local targets work: make bench WHERE=local, make test."
fi
if ! runtimes="$("$DOCKER" info --format '{{json .Runtimes}}' 2>&1)"; then
  missing "the Docker engine is not reachable: $(tail -n 1 <<<"$runtimes")" \
    "  Start it (sudo systemctl start docker) and allow yourself to use it" \
    "  (sudo usermod -aG docker \$USER, then log in again), or point DOCKER_HOST at a running engine."
fi
if ((want_compose)) && ! "$DOCKER" compose version >/dev/null 2>&1; then
  missing "Docker Compose v2 ('$DOCKER compose') is missing." \
    "  Install the docker-compose-plugin package (https://docs.docker.com/compose/install/linux/)."
fi
if ((want_gpu)) && [[ "$runtimes" != *nvidia* && -z "${MJPOD_SKIP_GPU_CHECK:-}" ]]; then
  missing "the NVIDIA Container Toolkit is not registered with Docker (no 'nvidia' runtime in" \
    "  '$DOCKER info'), so '--gpus all' cannot reach the GPU. Install it:" \
    "  https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html" \
    "  then: sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker" \
    "  No GPU on this machine? Add GPUS= to the make command (Mesa EGL, Warp on cpu)." \
    "  GPUs work through CDI or Docker Desktop here? Set MJPOD_SKIP_GPU_CHECK=1."
fi
