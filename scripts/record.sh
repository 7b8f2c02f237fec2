#!/usr/bin/env bash
# Offscreen MP4 recording, as `make record` and `docker compose run record` run it: `mjpod record`
# with its options passed through; videos go to $MJPOD_WORKSPACE/videos (/workspace/videos in the
# container, ./videos on the host with make) unless --out says otherwise.
set -euo pipefail
out="${MJPOD_WORKSPACE:+$MJPOD_WORKSPACE/videos}"
out="${out:-videos}"
mkdir -p "$out"
# docker stop (tini -g) and Ctrl-C signal the whole process group: mjpod record gets the signal
# itself and finishes its MP4; this script only waits for it (a trap defers until the command ends)
# instead of dying first and ending the container under it.
trap : TERM INT
status=0
mjpod record "$@" || status=$?
if [[ -n "${MJPOD_IN_CONTAINER:-}" ]]; then chown -R --reference="$out" "$out" 2>/dev/null || true; fi
exit "$status"
