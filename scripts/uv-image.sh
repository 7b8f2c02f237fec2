#!/usr/bin/env bash
# An image holding /uv and /uvx, like Astral's ghcr.io/astral-sh/uv, made from the uv wheel on PyPI
# for where ghcr.io cannot be reached (`make image BASE=debian` passes it as UV_IMAGE).
#
#   scripts/uv-image.sh IMAGE VERSION
#   env: DOCKER (docker), PIP (pip: any pip that reaches PyPI or your index, with its own settings),
#        MJPOD_CACHE (~/.cache/mjpod: the wheel, reused)
set -euo pipefail
image="${1:?usage: $0 IMAGE VERSION}"
version="${2:?usage: $0 IMAGE VERSION}"
DOCKER="${DOCKER:-docker}"
PIP="${PIP:-pip}"
cache="${MJPOD_CACHE:-$HOME/.cache/mjpod}/uv-$version"

if [[ "$("$DOCKER" image inspect --format '{{index .Config.Labels "io.mjpod.uv-version"}}' "$image" 2>/dev/null)" == "$version" ]]; then
  echo "uv-image: $image is up to date (uv $version)"
  exit 0
fi
wheel="$(find "$cache" -maxdepth 1 -name "uv-$version-*.whl" 2>/dev/null | head -n 1 || true)"
if [[ -z "$wheel" ]]; then
  mkdir -p "$cache"
  $PIP download --quiet --no-deps --only-binary=:all: --dest "$cache" \
    --platform "manylinux_2_17_$(uname -m)" --python-version 3.11 "uv==$version"
  wheel="$(find "$cache" -maxdepth 1 -name "uv-$version-*.whl" | head -n 1)"
fi
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
python3 - "$wheel" "$root" "$version" <<'EOF'
import sys, zipfile
from pathlib import Path

wheel, root, version = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
with zipfile.ZipFile(wheel) as whl:
    for name in ("uv", "uvx"):
        target = root / name
        target.write_bytes(whl.read(f"uv-{version}.data/scripts/{name}"))
        target.chmod(0o755)
EOF
tar -C "$root" -cf "$root.tar" uv uvx
trap 'rm -rf "$root" "$root.tar"' EXIT
"$DOCKER" import --change 'ENTRYPOINT ["/uv"]' --change "LABEL io.mjpod.uv-version=$version" "$root.tar" "$image" >/dev/null
echo "uv-image: imported $image (uv $version from $(basename "$wheel"))"
