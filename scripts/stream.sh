#!/usr/bin/env bash
# Stream a headless simulation: `scripts/stream.sh [mjpod serve options]`.
# MJSTREAM_HOST / MJSTREAM_PORT / MJSTREAM_TOKEN set the defaults; MJSTREAM_WEB=8080 adds the browser view.
set -euo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}"
mjpod=mjpod
[[ -x .venv/bin/mjpod ]] && mjpod=.venv/bin/mjpod
args=()
[[ -n "${MJSTREAM_WEB:-}" ]] && args+=(--web "$MJSTREAM_WEB")
exec "$mjpod" serve "${args[@]}" "$@"
