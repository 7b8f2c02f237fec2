#!/usr/bin/env bash
# Docker HEALTHCHECK: when the entrypoint started sshd, sshd must answer with its SSH banner.
# Without a key there is no sshd to check, and the container is healthy as long as it runs.
set -euo pipefail
state="${MJPOD_STATE_DIR:-/run/mjpod}/sshd"
[[ -f "$state" ]] || exit 0
read -r addr port _ <"$state"
[[ "$addr" == "0.0.0.0" || "$addr" == "::" ]] && addr=127.0.0.1
if ! exec 3<>"/dev/tcp/$addr/$port"; then
  echo "sshd is not accepting connections on $addr:$port" >&2
  exit 1
fi
banner=""
read -r -t 5 banner <&3 || true
exec 3>&-
if [[ "$banner" != SSH-2.0-* ]]; then
  echo "no SSH banner from $addr:$port (got '${banner:0:40}')" >&2
  exit 1
fi
echo "sshd answers on $addr:$port"
