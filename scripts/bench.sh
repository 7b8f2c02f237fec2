#!/usr/bin/env bash
# The benchmark, as `make bench` and `docker compose run bench` run it: `mjpod bench` with results in
# the workspace (the container's /workspace/results, a bind mount of bench/results with make), or in
# mjpod bench's own default folder outside a container. Options pass through; a later --out wins.
set -euo pipefail
out=()
if [[ -n "${MJPOD_WORKSPACE:-}" ]]; then
  out=(--out "$MJPOD_WORKSPACE/results")
  mkdir -p "$MJPOD_WORKSPACE/results"
fi
# docker stop (tini -g) and Ctrl-C signal the whole process group: mjpod bench gets the signal
# itself and finishes; this script only waits for it (a trap defers until the command ends)
# instead of dying first and ending the container under it.
trap : TERM INT
status=0
mjpod bench "${out[@]}" "$@" || status=$?
# Files written by the container's root belong to whoever owns the mounted folder on the host.
if [[ -n "${MJPOD_IN_CONTAINER:-}" && -n "${MJPOD_WORKSPACE:-}" ]]; then
  chown -R --reference="$MJPOD_WORKSPACE/results" "$MJPOD_WORKSPACE/results" 2>/dev/null || true
fi
exit "$status"
