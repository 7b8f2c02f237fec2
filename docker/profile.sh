# shellcheck shell=sh
# /etc/profile.d/mjpod.sh: login shells (an SSH terminal, VS Code's terminal) get the container's
# environment back after /etc/profile has reset PATH. The entrypoint writes the file at start; sshd
# names it in MJPOD_SESSION_ENV.
mjpod_session_env="${MJPOD_SESSION_ENV:-/etc/mjpod/session-env.sh}"
if [ -r "$mjpod_session_env" ]; then
  # shellcheck source=/dev/null
  . "$mjpod_session_env"
fi
unset mjpod_session_env
