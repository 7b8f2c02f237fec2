#!/usr/bin/env bash
# The appliance's entrypoint: give this container its own SSH host keys, install the caller's
# public key for root, write the container's environment where every SSH session reads it, start
# sshd when a key is there (and, when it stays up with no command, say why not when it is not), then
# run the given command or stay up. `docker stop` lets the jobs running in the container finish first.
#
# Every path and the port can be moved with an environment variable, so the tests run this very
# script with Debian's sshd on a loopback port in a temporary root; the defaults are the container's.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SSHD="${MJPOD_SSHD:-/usr/sbin/sshd}"
SSHD_CONFIG="${MJPOD_SSHD_CONFIG:-$HERE/sshd_config}"
SSH_PORT="${MJPOD_SSH_PORT:-22}"
SSH_LISTEN="${MJPOD_SSH_LISTEN:-}"
HOST_KEY_DIR="${MJPOD_HOST_KEY_DIR:-/etc/ssh}"
AUTHORIZED_KEYS="${MJPOD_AUTHORIZED_KEYS:-/root/.ssh/authorized_keys}"
MOUNTED_KEYS="${MJPOD_AUTHORIZED_KEYS_FILE:-/etc/mjpod/authorized_keys}"
ENV_FILE="${MJPOD_ENV_FILE:-/etc/mjpod/session-env.sh}"
STATE_DIR="${MJPOD_STATE_DIR:-/run/mjpod}"
# seconds docker stop leaves the container's jobs to finish (docker kills everything after its own 10 s)
STOP_GRACE="${MJPOD_STOP_GRACE:-8}"

# What SSH sessions inherit: the GL/CUDA/Warp/venv set-up, never secrets. Names in MJPOD_SSH_ENV
# (space separated) are passed as well, secret-looking or not: naming them is the opt-in.
SESSION_ENV_PATTERN='^(PATH|VIRTUAL_ENV|LD_LIBRARY_PATH|LANG|LC_[A-Z]+|TZ|PYTHONUNBUFFERED|PYOPENGL_PLATFORM|DISPLAY|MUJOCO_[A-Z0-9_]+|NVIDIA_[A-Z0-9_]+|CUDA_[A-Z0-9_]+|WARP_[A-Z0-9_]+|MJPOD_[A-Z0-9_]+|MENAGERIE_[A-Z0-9_]+|MJSTREAM_(HOST|PORT|WEB)|RUNPOD_[A-Z0-9_]+|__EGL_[A-Z0-9_]+|__GLX_[A-Z0-9_]+)$'
SECRET_PATTERN='(KEY|TOKEN|SECRET|PASS|PWD|CREDENTIAL|PRIVATE|AUTH|COOKIE)' # PASS: PASSWORD, PASSPHRASE...
# A value holding a URL with a password in it (postgres://user:pw@host/db) stays out too.
URL_CREDENTIALS='[A-Za-z][A-Za-z0-9+.-]*://[^/@[:space:]]*:[^/@[:space:]]*@'
# Words that are authorized_keys options (man sshd, AUTHORIZED_KEYS FILE FORMAT), alone or `name=value`.
KEY_OPTION='^(restrict|cert-authority|(no-)?(agent-forwarding|port-forwarding|pty|user-rc|x11-forwarding)|no-touch-required|verify-required|(command|environment|expiry-time|from|permitlisten|permitopen|principals|tunnel)=.*)(,.*)?$'

HOST_KEYS=()
SESSION_SETENV=()
SSHD_ARGS=()
SSHD_PID=""

log() { printf 'mjpod-entrypoint: %s\n' "$*" >&2; }

prepare_workspace() {
  [[ -n "${MJPOD_WORKSPACE:-}" ]] || return 0
  mkdir -p "$MJPOD_WORKSPACE/videos" "$MJPOD_WORKSPACE/results" 2>/dev/null ||
    log "warning: cannot create folders in MJPOD_WORKSPACE=$MJPOD_WORKSPACE (read-only mount?)"
}

# The session environment, once as sshd `SetEnv` arguments (every session, interactive or not:
# `ssh host cmd`, VS Code's server) and once as a shell file that /etc/profile.d/mjpod.sh sources
# (login shells, after /etc/profile has reset PATH).
write_session_env() {
  local name value extra=" ${MJPOD_SSH_ENV:-} " tmp
  SESSION_SETENV=()
  mkdir -p "$(dirname "$ENV_FILE")"
  tmp="$(mktemp "$ENV_FILE.XXXXXX")"
  {
    echo "# Written by the mjpod entrypoint at container start: the container's environment for SSH"
    echo "# sessions (secrets and PUBLIC_KEY are left out). Edits are lost at the next start."
    while IFS= read -r name; do
      value="${!name}"
      if [[ "$extra" == *" $name "* ]] ||
        { [[ "$name" =~ $SESSION_ENV_PATTERN ]] && ! [[ "${name^^}" =~ $SECRET_PATTERN ]] &&
          ! [[ "$value" =~ $URL_CREDENTIALS ]]; }; then
        if [[ "$value" == *[\"\\]* || "$value" == *$'\n'* ]]; then
          log "warning: $name is not passed to SSH sessions (quotes, backslashes or newlines in its value)"
          continue
        fi
        printf "export %s='%s'\n" "$name" "${value//\'/\'\\\'\'}"
        SESSION_SETENV+=("\"$name=$value\"")
      fi
    done < <(compgen -e | sort)
  } >"$tmp"
  chmod 600 "$tmp" # only root logs in; nobody else needs the container's environment
  mv -f "$tmp" "$ENV_FILE"
  SESSION_SETENV+=("\"MJPOD_SESSION_ENV=$ENV_FILE\"")
}

# One key per line from a variable's value. Several keys can arrive on one line: Runpod puts all
# of an account's keys into PUBLIC_KEY, and env files cannot hold line breaks. authorized_keys would
# take everything after the first key as its comment, so such a line is split before each further
# key (a type like ssh-ed25519 followed by its AAAA... blob). Options (from="...", restrict, ...) on
# such a line could belong to the key before them or after them: rather than guess, and possibly
# install a key without its restrictions, the line is refused with a message. Windows line ends are
# dropped. $2 names the variable in messages.
split_keys() {
  local line words i keys out
  while IFS= read -r line; do
    line="${line//$'\r'/}"
    read -r -a words <<<"$line"
    keys=0
    for ((i = 0; i + 1 < ${#words[@]}; i++)); do
      [[ "${words[i]}" =~ ^(ssh-|ecdsa-|sk-) && "${words[i + 1]}" == AAAA* ]] && keys=$((keys + 1))
    done
    if ((keys < 2)); then
      printf '%s\n' "$line"
      continue
    fi
    for ((i = 0; i < ${#words[@]}; i++)); do
      if [[ "${words[i],,}" =~ $KEY_OPTION ]]; then
        log "error: a $2 line holds $keys keys and key options (such as from=, restrict): which key the options restrict cannot be told, so none of its keys is installed; put each key with its options on a line of its own (or in a file mounted at $MOUNTED_KEYS)"
        continue 2
      fi
    done
    out=""
    keys=0
    for ((i = 0; i < ${#words[@]}; i++)); do
      if [[ "${words[i]}" =~ ^(ssh-|ecdsa-|sk-) && "${words[i + 1]:-}" == AAAA* ]]; then
        keys=$((keys + 1))
        if ((keys > 1)); then
          printf '%s\n' "$out"
          out=""
        fi
      fi
      out+="${out:+ }${words[i]}"
    done
    printf '%s\n' "$out"
  done <<<"$1"
}

# The keys given to this container, each line as "SOURCE<tab>line": PUBLIC_KEY (Runpod sets it from
# the account's keys), SSH_PUBLIC_KEY, and a mounted file (authorized_keys format, taken as it is).
given_keys() {
  split_keys "${PUBLIC_KEY:-}" PUBLIC_KEY | tagged PUBLIC_KEY
  split_keys "${SSH_PUBLIC_KEY:-}" SSH_PUBLIC_KEY | tagged SSH_PUBLIC_KEY
  if [[ -r "$MOUNTED_KEYS" && -f "$MOUNTED_KEYS" ]]; then tagged "the mounted key file" <"$MOUNTED_KEYS"; fi
}

# Each line of stdin (the last one too, newline or not) as "$1<tab>line".
tagged() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do printf '%s\t%s\n' "$1" "$line"; done
}

# Makes the keys the entrypoint manages in the authorized_keys file sshd reads exactly the valid
# given keys: those it installed at an earlier start and no longer given are removed (a key taken
# out of PUBLIC_KEY stops working at the next start), keys added by hand stay. What it manages is
# listed in $AUTHORIZED_KEYS.mjpod (kept across restarts beside the file). The file is owned by root,
# mode 600, so StrictModes accepts it whoever owned the mounted original. Nothing of a rejected line
# is logged (it may be a private key). Returns 1 when the file ends up holding no key.
install_authorized_keys() {
  local source line n=0 added=0 removed=0 private="" tmp dir managed="$AUTHORIZED_KEYS.mjpod"
  local -a given=()
  local -A is_given=() was_managed=()
  dir="$(dirname "$AUTHORIZED_KEYS")"
  mkdir -p "$dir"
  if [[ -e "$AUTHORIZED_KEYS" && ! -w "$AUTHORIZED_KEYS" ]]; then
    log "$AUTHORIZED_KEYS is read-only: using it as it is (mount your keys at $MOUNTED_KEYS instead to have them installed with the modes sshd requires)"
  else
    chmod 700 "$dir"
    while IFS=$'\t' read -r source line; do
      line="${line%$'\r'}"
      if [[ -n "$private" ]]; then # inside a private key: skip to its END line, say nothing of it
        [[ "$line" == *"END"*"PRIVATE KEY"* ]] && private=""
        continue
      fi
      [[ -z "${line// /}" || "$line" == \#* ]] && continue
      n=$((n + 1))
      if [[ "$line" == *"PRIVATE KEY"* ]]; then
        [[ "$line" == *"BEGIN"* ]] && private=1
        log "error: a PRIVATE key was passed as a public key in $source and is ignored (none of it is logged); pass the .pub file, e.g. PUBLIC_KEY=\"\$(cat ~/.ssh/id_ed25519.pub)\", and treat that private key as exposed"
      elif ! ssh-keygen -l -f - <<<"$line" >/dev/null 2>&1; then
        log "error: ignoring given key $n (in $source): not an SSH public key; it should look like 'ssh-ed25519 AAAA... you@host' (the contents of ~/.ssh/id_ed25519.pub)"
      elif [[ -z "${is_given[$line]:-}" ]]; then
        given+=("$line")
        is_given[$line]=1
      fi
    done < <(given_keys)
    if [[ -f "$managed" ]]; then
      while IFS= read -r line || [[ -n "$line" ]]; do [[ -n "$line" ]] && was_managed[$line]=1; done <"$managed"
    fi
    tmp="$(mktemp "$AUTHORIZED_KEYS.XXXXXX")"
    if [[ -f "$AUTHORIZED_KEYS" ]]; then # what is there and not managed (added by hand) stays
      while IFS= read -r line || [[ -n "$line" ]]; do
        if [[ -z "$line" || -z "${was_managed[$line]:-}" ]]; then
          printf '%s\n' "$line"
        elif [[ -z "${is_given[$line]:-}" ]]; then
          removed=$((removed + 1))
        fi
      done <"$AUTHORIZED_KEYS" >"$tmp"
    fi
    for line in "${given[@]}"; do
      grep -qxF -- "$line" "$tmp" || printf '%s\n' "$line" >>"$tmp"
      [[ -n "${was_managed[$line]:-}" ]] || added=$((added + 1))
    done
    if ((${#given[@]})); then printf '%s\n' "${given[@]}" >"$managed.tmp"; else : >"$managed.tmp"; fi
    chmod 600 "$tmp" "$managed.tmp"
    mv -f "$tmp" "$AUTHORIZED_KEYS"
    mv -f "$managed.tmp" "$managed"
    ((n == 0)) || log "installed $added new key(s) of $n given into $AUTHORIZED_KEYS"
    ((removed == 0)) || log "removed $removed key(s) installed at an earlier start and no longer given"
  fi
  [[ -s "$AUTHORIZED_KEYS" ]] && ssh-keygen -l -f "$AUTHORIZED_KEYS" >/dev/null 2>&1
}

# Generated at first start, never baked into the image: every container gets its own identity, and
# keeps it across restarts (or across re-creation with MJPOD_HOST_KEY_DIR on a volume).
generate_host_keys() {
  local type key
  mkdir -p "$HOST_KEY_DIR"
  for type in ed25519 ecdsa rsa; do
    key="$HOST_KEY_DIR/ssh_host_${type}_key"
    if [[ ! -s "$key" ]]; then
      ssh-keygen -q -t "$type" -N '' -C "mjpod-host" -f "$key"
      log "generated host key $(ssh-keygen -l -f "$key.pub")"
    fi
    HOST_KEYS+=("$key")
  done
}

# sshd reads the container-specific settings first (the first value of a keyword wins), then the
# project's sshd_config; `sshd -T -f $STATE_DIR/sshd_config` shows the result.
write_sshd_config() {
  local key
  mkdir -p "$STATE_DIR"
  {
    echo "# Written by the mjpod entrypoint at container start; the settings are in $SSHD_CONFIG."
    [[ -z "$SSH_LISTEN" ]] || echo "ListenAddress $SSH_LISTEN"
    for key in "${HOST_KEYS[@]}"; do echo "HostKey $key"; done
    echo "AuthorizedKeysFile $AUTHORIZED_KEYS"
    echo "SetEnv ${SESSION_SETENV[*]}"
    echo "Include $SSHD_CONFIG"
  } >"$STATE_DIR/sshd_config"
  SSHD_ARGS=(-f "$STATE_DIR/sshd_config" -p "$SSH_PORT")
}

start_sshd() {
  write_sshd_config
  mkdir -p /run/sshd # privilege separation directory
  if ! "$SSHD" -t "${SSHD_ARGS[@]}"; then
    log "error: sshd rejected its configuration ($STATE_DIR/sshd_config including $SSHD_CONFIG, messages above); not starting it"
    return 1
  fi
  # Its own session: a Ctrl-C in `docker run -it … bash` must not reach sshd.
  setsid "$SSHD" -D -e "${SSHD_ARGS[@]}" &
  SSHD_PID=$!
  mkdir -p "$STATE_DIR"
  printf '%s %s %s\n' "${SSH_LISTEN:-127.0.0.1}" "$SSH_PORT" "$SSHD_PID" >"$STATE_DIR/sshd"
  log "sshd started on port $SSH_PORT (keys only); $(connect_hint)"
}

# JupyterLab, when asked: JUPYTER_TOKEN, or JUPYTER_PASSWORD (used as the token, as Runpod's templates
# do; the login page takes it). It listens on JUPYTER_IP (127.0.0.1 unless told: compose sets 0.0.0.0,
# where Docker delivers the port it publishes on the host's loopback) and JUPYTER_PORT (8888), and serves
# JUPYTER_ROOT (the workspace, where the examples are copied once). The token reaches it in its
# environment, never on a command line or in the log. Its own session, as sshd's.
start_jupyter() {
  [[ -n "${JUPYTER_TOKEN:-}${JUPYTER_PASSWORD:-}" ]] || return 0
  local jupyter="${MJPOD_JUPYTER:-jupyter}" root="${JUPYTER_ROOT:-${MJPOD_WORKSPACE:-/workspace}}"
  local ip="${JUPYTER_IP:-127.0.0.1}" port="${JUPYTER_PORT:-8888}"
  if ! "$jupyter" lab --version >/dev/null 2>&1; then
    log "JupyterLab NOT started: no \`$jupyter lab\` in this environment (pip install jupyterlab; the image has it)"
    return 0
  fi
  mkdir -p "$root"
  [[ -e "$root/examples" || ! -d "$HERE/../examples" ]] || cp -r "$HERE/../examples" "$root/examples"
  JUPYTER_TOKEN="${JUPYTER_TOKEN:-$JUPYTER_PASSWORD}" setsid "$jupyter" lab --allow-root --no-browser \
    --ServerApp.ip="$ip" --ServerApp.port="$port" --ServerApp.port_retries=0 --ServerApp.root_dir="$root" &
  log "JupyterLab started on $ip:$port (token required), serving $root"
}

connect_hint() {
  if [[ -n "${RUNPOD_PUBLIC_IP:-}" && -n "${RUNPOD_TCP_PORT_22:-}" ]]; then
    echo "connect with: ssh root@$RUNPOD_PUBLIC_IP -p $RUNPOD_TCP_PORT_22"
  else
    echo "connect with: ssh -p <published port, 2222 in compose.yaml> root@<host>"
  fi
}

# Whether every process this script sees is the container's: it is the first process of its PID
# namespace, or runs under inits only (tini, docker --init) that are. Run on a host instead (the tests
# run it outside a container too), it must never signal the host's processes.
own_pid_namespace() {
  local pid=$PPID
  (($$ == 1)) && return 0
  while :; do
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" =~ ^(tini|docker-init|dumb-init|catatonit)$ ]] || return 1
    ((pid == 1)) && return 0
    pid="$(sed -n 's/^.*) . \([0-9]*\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null)"
    [[ -n "$pid" ]] || return 1
  done
}

# The jobs to ask to finish, one "TARGET NAME" a line: TARGET is -PGID for a job that leads its
# process group (a terminal's Ctrl-C reaches the whole group too), else its PID. A job is the topmost
# process that can be asked: not this script or its helpers (its process group), not sshd, not a tmux
# or screen server (which would hang up its panes at once), not a shell that ignores SIGTERM (an
# interactive one); its own children are its to end (mjpod record's ffmpeg shares its group with SIGTERM
# blocked, so mjpod closes it rather than lose it to the signal). In the container that is every such
# process: SSH
# sessions' jobs, and those that outlived their session (nohup, setsid, tmux, screen) or never had
# one (docker exec). Elsewhere only what runs under sshd.
jobs_to_stop() {
  local scope=sshd pid pp pg nm up
  local -A ppid=() pgid=() name=() asked=()
  own_pid_namespace && scope=all
  while read -r pid pp pg nm; do
    ppid[$pid]=$pp pgid[$pid]=$pg name[$pid]=$nm
  done < <(ps -e -o pid= -o ppid= -o pgid= -o comm=)
  for pid in "${!name[@]}"; do
    if ((pid == 1 || pid == $$)) || [[ "${pgid[$pid]}" == "${pgid[$$]:-$$}" ]] ||
      [[ "${name[$pid]}" =~ ^(sshd|tmux|screen|SCREEN) ]] || ended "$pid" || ignores_term "$pid"; then
      continue
    fi
    if [[ "$scope" != all ]]; then # under sshd only
      up="${ppid[$pid]}"
      while [[ -n "$up" && "$up" != "$SSHD_PID" && "$up" -gt 1 ]]; do up="${ppid[$up]:-}"; done
      [[ -n "$SSHD_PID" && "$up" == "$SSHD_PID" ]] || continue
    fi
    asked[$pid]=1
  done
  for pid in "${!asked[@]}"; do
    [[ -z "${asked[${ppid[$pid]}]:-}" ]] || continue
    if [[ "${pgid[$pid]}" == "$pid" ]]; then echo "-$pid ${name[$pid]}"; else echo "$pid ${name[$pid]}"; fi
  done
}

# Whether PID has ended (gone, or a zombie waiting for its parent).
ended() {
  local state
  state="$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" || return 0
  [[ -z "$state" || "$state" == Z ]]
}

# Whether PID ignores SIGTERM (interactive shells do): it would not end, so it is not waited for.
ignores_term() {
  local mask
  mask="$(awk '/^SigIgn:/ {print $2}' "/proc/$1/status" 2>/dev/null)" || return 1
  [[ -n "$mask" ]] && (((16#$mask >> 14) & 1))
}

# docker stop: every job in the container (jobs_to_stop) gets SIGTERM, as from Ctrl-C, and up to
# STOP_GRACE seconds to finish (mjpod record closes a playable MP4) before sshd and the container end.
stop_jobs() {
  local target name left deadline pid waiting=() names=()
  while read -r target name; do
    kill -TERM -- "$target" 2>/dev/null || continue
    kill -CONT -- "$target" 2>/dev/null || true # a stopped job (Ctrl-Z) must run to finish
    names+=("$name (${target#-})")
    if [[ "$target" == -* ]]; then
      while read -r pid; do ignores_term "$pid" || waiting+=("$pid"); done < <(pgrep -g "${target#-}")
    else
      waiting+=("$target")
    fi
  done < <(jobs_to_stop)
  ((${#names[@]})) || return 0
  log "asked ${#names[@]} job(s) to finish (up to ${STOP_GRACE} s): ${names[*]}"
  deadline=$((SECONDS + STOP_GRACE))
  while ((SECONDS < deadline)); do
    left=0
    for pid in "${waiting[@]}"; do ended "$pid" || left=$((left + 1)); done
    ((left)) || return 0
    sleep 0.2
  done
  log "warning: $left process(es) still running after ${STOP_GRACE} s (MJPOD_STOP_GRACE)"
}

stop_sshd() {
  [[ -n "$SSHD_PID" ]] || return 0
  kill -TERM "$SSHD_PID" 2>/dev/null || true
  wait "$SSHD_PID" 2>/dev/null || true
  rm -f "$STATE_DIR/sshd"
  SSHD_PID=""
}

# Like the seed's `sshd -D`: stay in the foreground until docker stop (SIGTERM); then the container's
# jobs finish (stop_jobs) and it ends.
stay_up() {
  if [[ -n "$SSHD_PID" ]]; then
    local rc=0
    wait "$SSHD_PID" || rc=$?
    rm -f "$STATE_DIR/sshd"
    log "sshd exited with status $rc"
    exit "$rc"
  fi
  sleep infinity &
  wait $!
}

main() {
  # From the start, so a docker stop mid-start ends it cleanly too.
  trap 'log "stopping"; stop_jobs; stop_sshd; exit 0' TERM INT HUP
  rm -f "$STATE_DIR/sshd"
  prepare_workspace
  write_session_env
  if install_authorized_keys; then
    generate_host_keys
    start_sshd || true
  elif ((!$#)); then # a one-shot command needs no sshd, and no word about it
    log "sshd NOT started: no SSH public key was given. Pass one with -e PUBLIC_KEY=\"\$(cat ~/.ssh/id_ed25519.pub)\" (compose and Runpod read PUBLIC_KEY too), or mount a file of keys at $MOUNTED_KEYS; \`docker exec -it <container> bash\` works meanwhile"
  fi
  start_jupyter
  if (($#)); then
    exec "$@"
  fi
  stay_up
}

main "$@"
