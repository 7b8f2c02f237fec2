#!/usr/bin/env bash
# Runs one build step with an extra CA trusted by apt, pip, uv, Python and curl, for builds behind a
# TLS-intercepting proxy: the build's secret `ca` (`make image CA_CERT=/path/ca.pem`, or
# `docker build --secret id=ca,src=/path/ca.pem`), mounted by the RUN step at /run/secrets/ca.
# Without the secret the step runs as it is. The bundle lives in a temporary file that is removed
# when the step ends, so nothing of it stays in the image.
#   with-ca.sh COMMAND [ARG...]
set -euo pipefail
secret="${MJPOD_CA_SECRET:-/run/secrets/ca}"
if [[ ! -s "$secret" ]]; then
  exec "$@"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# the base's own roots (when it has them) plus the given CA: the proxy's CA alone would do behind
# the proxy, but a bundle keeps any host that is not intercepted working too
cat /etc/ssl/certs/ca-certificates.crt "$secret" >"$tmp/bundle.pem" 2>/dev/null || cat "$secret" >"$tmp/bundle.pem"
printf 'Acquire::https::CAInfo "%s";\n' "$tmp/bundle.pem" >"$tmp/apt.conf"
export SSL_CERT_FILE="$tmp/bundle.pem" REQUESTS_CA_BUNDLE="$tmp/bundle.pem" PIP_CERT="$tmp/bundle.pem" \
  CURL_CA_BUNDLE="$tmp/bundle.pem" APT_CONFIG="$tmp/apt.conf"
"$@"
