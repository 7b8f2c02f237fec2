#!/usr/bin/env bash
# The base image where no image registry can be reached (CI, air-gapped hosts): Debian from Debian's
# own packages with mmdebstrap, its Python included, imported into Docker as IMAGE. It stands in for
# the nvidia/cuda base (`make image BASE=debian`); GL comes from Mesa, Warp runs on the CPU.
#
#   scripts/debian-base.sh IMAGE
#   env: DOCKER (docker), DEBIAN_SUITE (bookworm), DEBIAN_MIRROR (the one this host's apt uses,
#        else http://deb.debian.org/debian), MJPOD_CACHE (~/.cache/mjpod: the tarball, reused)
#
# The tarball is kept in MJPOD_CACHE and the import is skipped when IMAGE already holds it: re-runs
# on the same machine take a second. Delete the tarball to take newer packages.
set -euo pipefail
image="${1:?usage: $0 IMAGE}"
DOCKER="${DOCKER:-docker}"
suite="${DEBIAN_SUITE:-bookworm}"
cache="${MJPOD_CACHE:-$HOME/.cache/mjpod}"

# The Debian mirror this host's apt uses (deb822 URIs: lines or one-line deb entries).
host_mirror() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
  grep -hoE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    "${files[@]}" 2>/dev/null | grep -oE 'https?://[^[:space:]]+' | sed 's:/$::' | head -n 1
}
mirror="${DEBIAN_MIRROR:-$(host_mirror || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"

# What the base holds: minbase, CA roots and Python (the image's venv is made from it); no manuals,
# docs or translations, in the base nor in what the image installs later (dpkg keeps the excludes).
include=ca-certificates,python3
excludes=('/usr/share/man/*' '/usr/share/doc/*' '/usr/share/info/*' '/usr/share/locale/*' '/usr/share/lintian/*')
key="$(printf '%s\n' "$suite" "$mirror" "$include" "${excludes[@]}" | cat - "$0" | sha256sum | cut -c1-16)"
tarball="$cache/debian-$suite-$key.tar"

if [[ "$("$DOCKER" image inspect --format '{{index .Config.Labels "io.mjpod.base-key"}}' "$image" 2>/dev/null)" == "$key" ]]; then
  echo "debian-base: $image is up to date (Debian $suite from $mirror)"
  exit 0
fi
if [[ ! -s "$tarball" ]]; then
  if ! command -v mmdebstrap >/dev/null; then
    echo "debian-base: mmdebstrap is missing: apt-get install mmdebstrap (or: docker/provision.sh docker)" >&2
    exit 1
  fi
  mkdir -p "$cache"
  dpkgopts=()
  for path in "${excludes[@]}"; do dpkgopts+=(--dpkgopt="path-exclude=$path"); done
  echo "debian-base: building Debian $suite from $mirror into $tarball"
  if ! mmdebstrap --variant=minbase --include="$include" "${dpkgopts[@]}" \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --skip=output/dev \
    "$suite" "$cache/partial-$key.tar" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $mirror-security $suite-security main" \
    >"$cache/mmdebstrap.log" 2>&1; then
    tail -n 40 "$cache/mmdebstrap.log" >&2
    echo "debian-base: mmdebstrap failed (log above, whole in $cache/mmdebstrap.log)" >&2
    exit 1
  fi
  mv -f "$cache/partial-$key.tar" "$tarball"
fi
"$DOCKER" import --change 'CMD ["bash"]' --change "ENV LANG=C.UTF-8" \
  --change "LABEL io.mjpod.base-key=$key io.mjpod.base=debian-$suite" "$tarball" "$image" >/dev/null
echo "debian-base: imported $image (Debian $suite from $mirror, $(du -h "$tarball" | cut -f1) tarball)"
