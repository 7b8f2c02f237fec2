#!/usr/bin/env bash
# Start this machine's Ray node for `mjpod sweep`: rank 0 is the head, every other rank joins it.
# Runpod Instant Clusters set NODE_RANK, NODE_ADDR (this pod's address on the cluster's private
# network) and PRIMARY_ADDR (the head's); on other machines on one private network set them yourself.
# Ray listens on NODE_ADDR only, so keep it a private address (never a public one).
#
# Token authentication is required: the same RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH, a file holding
# it) on every node and where `mjpod sweep` runs. Extra arguments go to `ray start` (e.g. --num-cpus 8).
#   head:    NODE_RANK=0 NODE_ADDR=10.0.0.1 PRIMARY_ADDR=10.0.0.1 scripts/ray-node.sh
#   worker:  NODE_RANK=1 NODE_ADDR=10.0.0.2 PRIMARY_ADDR=10.0.0.1 scripts/ray-node.sh
#   sweep:   mjpod sweep sweep.toml --address 10.0.0.1:6379   (on the head, or any node)
set -euo pipefail
die() { printf 'ray-node: %s\n' "$*" >&2; exit 2; }

[[ -n "${NODE_ADDR:-}" ]] || die "NODE_ADDR is not set: this node's private address (Runpod Instant Clusters set it)"
[[ -n "${PRIMARY_ADDR:-}" ]] || die "PRIMARY_ADDR is not set: the head node's private address"
[[ -n "${RAY_AUTH_TOKEN:-}${RAY_AUTH_TOKEN_PATH:-}" ]] ||
  die "no Ray token: set RAY_AUTH_TOKEN (the same on every node; e.g. python3 -c 'import secrets; print(secrets.token_hex(32))') or RAY_AUTH_TOKEN_PATH"
export RAY_AUTH_MODE=token
rank="${NODE_RANK:-0}"
port="${RAY_PORT:-6379}"
common=(--node-ip-address="$NODE_ADDR" --disable-usage-stats)

if [[ "$rank" == 0 ]]; then
  exec ray start --head --port="$port" --include-dashboard=false "${common[@]}" "$@"
fi
# workers may start before the head: wait for its port (up to RAY_HEAD_WAIT seconds)
deadline=$((SECONDS + ${RAY_HEAD_WAIT:-300}))
until timeout 2 bash -c "exec 3<>/dev/tcp/$PRIMARY_ADDR/$port" 2>/dev/null; do
  ((SECONDS < deadline)) || die "the head $PRIMARY_ADDR:$port did not answer: is rank 0 up, and is the address right?"
  sleep 2
done
exec ray start --address="$PRIMARY_ADDR:$port" "${common[@]}" "$@"
