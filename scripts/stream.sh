#!/usr/bin/env bash
# Stream a running simulation, as `make serve` and `docker compose --profile serve up serve` run it:
# `mjpod serve` with the stream on 7000 and the browser view on 8080, options passed through.
# In a container the server listens on all of the container's interfaces, because Docker's port
# publishing arrives on them; the host publishes the ports on 127.0.0.1 only (compose.yaml, make
# serve). Beyond loopback mjpod serve needs a token: in the container it makes one (unless
# MJSTREAM_TOKEN is set) and prints the ready link, as Jupyter does. Outside a container mjpod serve
# keeps its own default, 127.0.0.1 (or MJSTREAM_HOST).
# MJSTREAM_PORT and MJSTREAM_WEB move the ports inside; options given later win.
set -euo pipefail
args=(--port "${MJSTREAM_PORT:-7000}" --web "${MJSTREAM_WEB:-8080}")
if [[ -n "${MJPOD_IN_CONTAINER:-}" && " $* " != *" --host "* ]]; then
  args+=(--host 0.0.0.0)
fi
exec mjpod serve "${args[@]}" "$@"
