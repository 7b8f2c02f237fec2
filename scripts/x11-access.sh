#!/usr/bin/env bash
# make gui: what the container needs to draw on this machine's X server ($DISPLAY), without opening
# that server to everyone (no `xhost +`). FILE gets the cookie your Xauthority holds for $DISPLAY with
# its host part made a wildcard (the container has its own hostname); make gui mounts it read-only
# as the container's XAUTHORITY beside the server's socket (/tmp/.X11-unix). Only for an X server
# that has no cookie (no authentication) is a host rule added, the narrowest there is: local root,
# the container's user (xhost +SI:localuser:root).
#   DISPLAY=:0 scripts/x11-access.sh FILE
set -euo pipefail
file=${1:?usage: DISPLAY=:N $0 FILE}
umask 077 # the cookie is a key to your display: readable by you (and the Docker engine) only
rm -f "$file"
: >"$file"
if command -v xauth >/dev/null 2>&1 && cookie="$(xauth nlist "$DISPLAY" 2>/dev/null)" && [[ -n "$cookie" ]]; then
  # shellcheck disable=SC2001 # every line's first field, the address family: ffff is any host
  sed 's/^..../ffff/' <<<"$cookie" | xauth -q -f "$file" nmerge -
  exit 0
fi
echo "mjpod: no X11 cookie for DISPLAY=$DISPLAY in ${XAUTHORITY:-~/.Xauthority}; letting local root (the container's user) in: xhost +SI:localuser:root" >&2
xhost +SI:localuser:root >/dev/null 2>&1 ||
  echo "mjpod: xhost is missing or was refused: if no window opens, run xhost +SI:localuser:root" >&2
