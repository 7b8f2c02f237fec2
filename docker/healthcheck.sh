#!/usr/bin/env bash
# Docker HEALTHCHECK: when the entrypoint started sshd, sshd must be running (not gone, not stopped)
# and listening on its port. It looks at /proc instead of connecting: a probe connection that says
# nothing would leave a "kex_exchange_identification" line in sshd's log every 30 s.
# Without a key there is no sshd to check, and the container is healthy as long as it runs.
set -euo pipefail
state="${MJPOD_STATE_DIR:-/run/mjpod}/sshd"
[[ -f "$state" ]] || exit 0
read -r _ port pid <"$state"
run_state="$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$pid/stat" 2>/dev/null || true)"
case "$run_state" in
  "" | Z | X) echo "sshd (pid $pid) is not running" >&2; exit 1 ;;
  T | t) echo "sshd (pid $pid) is stopped (state $run_state): it cannot accept connections" >&2; exit 1 ;;
esac
# /proc/net/tcp and tcp6: local address HEX_IP:HEX_PORT in column 2, state in column 4 (0A: LISTEN)
hex_port="$(printf '%04X' "$port")"
if ! { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true; } |
  awk -v port=":$hex_port" '$4 == "0A" && substr($2, length($2) - 4) == port { found = 1 } END { exit !found }'; then
  echo "sshd (pid $pid) runs, but nothing listens on port $port" >&2
  exit 1
fi
echo "sshd (pid $pid) listens on port $port"
