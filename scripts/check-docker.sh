#!/usr/bin/env bash
# Run by the Make targets that need Docker, before they use it: is the engine reachable, and
# (--gpu) is the NVIDIA Container Toolkit registered, so that `--gpus all` works; (--compose) does
# the compose command (COMPOSE, default `docker compose`) work; (--build) can this docker CLI build
# with BuildKit, which the Dockerfile's RUN --mount needs. Says what is missing and how to install it.
#   scripts/check-docker.sh [--gpu] [--compose] [--build]
set -euo pipefail
DOCKER="${DOCKER:-docker}"
COMPOSE="${COMPOSE:-$DOCKER compose}"
want_gpu=0
want_compose=0
want_build=0
for arg in "$@"; do
  case "$arg" in
    --gpu) want_gpu=1 ;;
    --compose) want_compose=1 ;;
    --build) want_build=1 ;;
    *) echo "usage: $0 [--gpu] [--compose] [--build]" >&2; exit 2 ;;
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
# COMPOSE is a command line (`docker compose` or `docker-compose`): split on purpose
# shellcheck disable=SC2086
if ((want_compose)) && ! $COMPOSE version >/dev/null 2>&1; then
  missing "Docker Compose ('$COMPOSE') is missing." \
    "  Install the docker-compose-plugin package (https://docs.docker.com/compose/install/linux/)," \
    "  or Debian's docker-compose and pass COMPOSE=docker-compose."
fi
# A docker CLI from 23 on builds through its buildx plugin; without the plugin it silently falls back
# to the legacy builder, which fails only at the Dockerfile's first RUN --mount. Older CLIs carry
# BuildKit themselves (DOCKER_BUILDKIT=1, which make image sets).
major() { # the major version of a docker CLI, 0 when it does not say
  local v
  v="$("$1" version --format '{{.Client.Version}}' 2>/dev/null || true)"
  v="${v%%.*}"
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}
if ((want_build)) && ! "$DOCKER" buildx version >/dev/null 2>&1; then
  cli="$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null || true)"
  if (($(major "$DOCKER") >= 23)); then
    hint=()
    for other in /usr/bin/docker /usr/local/bin/docker; do
      [[ "$(command -v "$DOCKER")" != "$other" && -x "$other" ]] || continue
      v="$(major "$other")"
      if "$other" buildx version >/dev/null 2>&1 || ((v > 0 && v < 23)); then
        hint=("  or use the docker CLI at $other (version $v), which can: make image DOCKER=$other")
        break
      fi
    done
    missing "docker CLI $cli has no buildx plugin, and from version 23 on docker build needs it for" \
      "  BuildKit: without it the legacy builder fails at the Dockerfile's RUN --mount. Install buildx:" \
      "  the docker-buildx-plugin package (Docker's apt repository) or docker-buildx (Debian 13, Ubuntu 24.04)" \
      "${hint[@]}"
  fi
fi
if ((want_gpu)) && [[ "$runtimes" != *nvidia* && -z "${MJPOD_SKIP_GPU_CHECK:-}" ]]; then
  missing "the NVIDIA Container Toolkit is not registered with Docker (no 'nvidia' runtime in" \
    "  '$DOCKER info'), so '--gpus all' cannot reach the GPU. Install it:" \
    "  https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html" \
    "  then: sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker" \
    "  No GPU on this machine? Add GPUS= to the make command (Mesa EGL, Warp on cpu)." \
    "  GPUs work through CDI or Docker Desktop here? Set MJPOD_SKIP_GPU_CHECK=1."
fi
