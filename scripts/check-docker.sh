#!/usr/bin/env bash
# Run by the Make targets that need Docker, before they use it: is the engine reachable, and
# (--gpu) is the NVIDIA Container Toolkit registered, so that `--gpus all` works; (--compose) does
# the compose command (COMPOSE, default `docker compose`) work; (--build) can this docker CLI build
# with BuildKit, which the Dockerfile's RUN --mount needs. Says what is missing and how to install it.
# --pick (make test-image, once, before any test) needs no engine: it prints the docker CLI that
# builds (DOCKER, else another docker on PATH that can, saying so) and the compose command that
# works (COMPOSE, else docker-compose), one a line, or stops with the one message.
#   scripts/check-docker.sh [--gpu] [--compose] [--build] | --pick
set -euo pipefail
DOCKER="${DOCKER:-docker}"
COMPOSE="${COMPOSE:-$DOCKER compose}"
want_gpu=0
want_compose=0
want_build=0
pick=0
for arg in "$@"; do
  case "$arg" in
    --gpu) want_gpu=1 ;;
    --compose) want_compose=1 ;;
    --build) want_build=1 ;;
    --pick) pick=1 ;;
    *) echo "usage: $0 [--gpu] [--compose] [--build] | --pick" >&2; exit 2 ;;
  esac
done

missing() {
  printf 'mjpod: %s\n' "$@" >&2
  exit 1
}

# A docker CLI from 23 on builds through its buildx plugin; without the plugin it silently falls back
# to the legacy builder, which fails only at the Dockerfile's first RUN --mount. Older CLIs carry
# BuildKit themselves (DOCKER_BUILDKIT=1, which make image sets).
major() { # the major version of a docker CLI, 0 when it does not say
  local v
  v="$("$1" version --format '{{.Client.Version}}' 2>/dev/null || true)"
  v="${v%%.*}"
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}
can_build() { # known to: buildx, or a version before 23
  local v
  "$1" buildx version >/dev/null 2>&1 && return 0
  v="$(major "$1")"
  ((v > 0 && v < 23))
}
lacks_buildx() { # known not to: from 23 on, without buildx (a CLI that does not say is let try)
  ! "$1" buildx version >/dev/null 2>&1 && (($(major "$1") >= 23))
}
other_builder() { # another docker CLI on PATH that can build, when DOCKER cannot
  local dir dirs other
  IFS=: read -ra dirs <<<"$PATH" # (not `type -aP`: once docker has run, bash names only its hashed path)
  for dir in "${dirs[@]}"; do
    other="${dir:-.}/docker"
    if [[ -x "$other" && ! "$other" -ef "$(command -v "$DOCKER")" ]] && can_build "$other"; then
      echo "$other"
      return 0
    fi
  done
  return 1
}
cannot_build() {
  local cli hint=() other
  cli="$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null || true)"
  if other="$(other_builder)"; then
    hint=("  or use the docker CLI at $other (version $(major "$other")), which can: make image DOCKER=$other")
  fi
  missing "docker CLI $cli has no buildx plugin, and from version 23 on docker build needs it for" \
    "  BuildKit: without it the legacy builder fails at the Dockerfile's RUN --mount. Install buildx:" \
    "  the docker-buildx-plugin package (Docker's apt repository) or docker-buildx (Debian 13, Ubuntu 24.04)" \
    "${hint[@]}"
}

if ((pick)); then
  docker="$(command -v "$DOCKER")" || missing "Docker is not installed here ('$DOCKER' is not on PATH)."
  if lacks_buildx "$docker"; then
    docker="$(other_builder)" || cannot_build
    echo "mjpod: the docker CLI '$DOCKER' cannot build this Dockerfile (no buildx); using $docker (version $(major "$docker")), which can" >&2
  fi
  # shellcheck disable=SC2086 # COMPOSE is a command line: split on purpose
  if ! $COMPOSE version >/dev/null 2>&1; then
    if command -v docker-compose >/dev/null 2>&1; then
      echo "mjpod: '$COMPOSE' does not run here; using docker-compose" >&2
      COMPOSE="docker-compose"
    else
      missing "Docker Compose ('$COMPOSE') is missing: install the docker-compose-plugin package" \
        "  (https://docs.docker.com/compose/install/linux/), or Debian's docker-compose."
    fi
  fi
  printf '%s\n' "$docker" "$COMPOSE"
  exit 0
fi

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
if ((want_build)) && lacks_buildx "$DOCKER"; then
  cannot_build
fi
if ((want_gpu)) && [[ "$runtimes" != *nvidia* && -z "${MJPOD_SKIP_GPU_CHECK:-}" ]]; then
  missing "the NVIDIA Container Toolkit is not registered with Docker (no 'nvidia' runtime in" \
    "  '$DOCKER info'), so '--gpus all' cannot reach the GPU. Install it:" \
    "  https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html" \
    "  then: sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker" \
    "  No GPU on this machine? Add GPUS= to the make command (Mesa EGL, Warp on cpu)." \
    "  GPUs work through CDI or Docker Desktop here? Set MJPOD_SKIP_GPU_CHECK=1."
fi
