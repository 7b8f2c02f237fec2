#!/usr/bin/env bash
# The GPU check: every GPU figure the project's claims rest on, from ONE command that ends inside
# 8 minutes wall on an H100, Warp kernel compiles included (docs/gpu-runbook.md says how to run it).
#
#   scripts/gpu-check.sh [--rehearse] [OUT]          (make gpu-check, make gpu-check-rehearsal)
#
# OUT (default: $OUT, else build/gpu-check; it must hold no bench result yet) receives, as each step
# ends, at most six files: the
# bench JSON (rewritten after every figure, so a killed run keeps what it measured), plot and transcript
# named for the GPU (bench-<gpu>.json/.png/.txt), each figure beside its target with how every step
# ended (bench-<gpu>-targets.md), and this whole log (bench-<gpu>-check.log). Every step runs under its
# own time limit, so one slow step cannot eat the others; the limits add up to the check's 450 s:
#   preflight    the Python modules the check imports, named with their package when one is missing
#   doctor       mjpod doctor: every check of the box with its fix (problems are logged, not fatal)
#   gate         scripts/gpu_gate.py (not in a rehearsal): the check stops at once unless doctor's NVIDIA
#                driver, GL renderer and Warp checks pass, so GL draws on the NVIDIA driver and Warp has CUDA
#   warm-up      the Warp kernels of every model and engine below compiled by parallel processes into
#                the one kernel cache that every later step (and mjwarp-testspeed) loads from
#   seed-render  the seed loop and render-only on the Panda mjx_scene at 320x240 (NVIDIA EGL)
#   physics-*    mjwarp beside mjwarp-testspeed (same model, nworld, nstep, buffers) at nworld 1024 and
#                8192, on the Panda mjx_scene and on bin
#   contact      comfree beside mjwarp on a settled bin pile at nworld 1024, 4096 and 8192
#   batch        batch render at 64x64, 8192 worlds, beside mjwarp-testspeed --function=render
#   gpu-tests    pytest -m gpu tests/gpu, with whatever time the steps before left
#   report       mjpod bench-report: the plot redrawn, every figure beside its target
#
# --rehearse runs the same steps on Warp's cpu device with tiny sizes (CI runs it in a Python holding
# only what the staging provides: tests/scripts/test_gpu_check.py). The GPU run never uses Warp's cpu
# device: the staged Warp has no CPU compiler. The check runs PYTHON (default python3) with the
# checkout's app/ on PYTHONPATH: no venv and no install, as on the GPU machine after
# `source /root/stage/env.sh`. GPU_CHECK_BUDGET_<step>=SECONDS (physics_bin for physics-bin) changes a
# step's limit.
set -uo pipefail # not -e: a step that fails or runs out of time is logged and the next one runs

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rehearse=0
if [ "${1:-}" = --rehearse ]; then
  rehearse=1
  shift
fi
case "${1:-}" in -*)
  echo "usage: scripts/gpu-check.sh [--rehearse] [OUT]" >&2
  exit 2
  ;;
esac
out=${1:-${OUT:-$root/build/gpu-check}}
mkdir -p "$out" && out=$(cd "$out" && pwd)
earlier=("$out"/bench-* "$out"/gpu-check.log)
for f in "${earlier[@]}"; do
  if [ -e "$f" ]; then # the check appends to its result file: one from another run would mix in
    echo "gpu-check: $out already holds $(basename "$f"); give an empty folder (or move those files away)" >&2
    exit 2
  fi
done
work=$(mktemp -d)
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$root/app${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export MUJOCO_GL=${MUJOCO_GL:-egl} COLUMNS=${COLUMNS:-160}
cd "$root" || exit 2
log="$out/gpu-check.log"
: >"$log"
exec > >(tee -a "$log") 2>&1
tee_pid=$!
# shellcheck disable=SC2329 # run by the EXIT trap
finish() { # the log complete before the command returns, the scratch folder gone
  exec 1>&- 2>&-
  wait "$tee_pid" 2>/dev/null
  rm -rf "$work"
}
trap finish EXIT

if [ "$rehearse" = 1 ]; then
  what="REHEARSAL: every step on Warp's cpu device with tiny sizes"
  device=cpu scale=4 seconds=0.1 nstep=(5 5 5)
  physics_nworld=(2) contact_nworld=(2) batch_nworld=(2)
else
  what="GPU check"
  device=cuda:0 scale=1 seconds=3 nstep=(300 200 300) # physics, contact, batch (testspeed's frames)
  physics_nworld=(1024 8192) contact_nworld=(1024 4096 8192) batch_nworld=(8192)
fi
export WARP_DEVICE=$device
deadline=$((450 * scale)) # seconds for the whole check (the rehearsal's CPU gets 4x)
mjpod=("$PYTHON" -m mjpod)
bench=("${mjpod[@]}" bench --out "$out" --append --device "$device" --seconds "$seconds")
nworlds() { printf -- '--nworld\n%s\n' "$@"; }
mapfile -t physics_nworld < <(nworlds "${physics_nworld[@]}")
mapfile -t contact_nworld < <(nworlds "${contact_nworld[@]}")
mapfile -t batch_nworld < <(nworlds "${batch_nworld[@]}")

steps="$work/steps.md"
printf '\n## How each step ended\n\n| step | took | limit | how it ended |\n| --- | --- | --- | --- |\n' >"$steps"
failed=0

limit() { # limit STEP SECONDS: the step's time limit (GPU_CHECK_BUDGET_<step> overrides), within what is left
  local var="GPU_CHECK_BUDGET_${1//-/_}" left=$((deadline - SECONDS))
  local want=$((${!var:-$2} * scale))
  echo $((want < left ? want : left))
}

step() { # step NAME LIMIT COMMAND...: COMMAND under LIMIT seconds; logs and tabulates how it ended
  local name=$1 limit=$2 start=$SECONDS rc how
  shift 2
  if [ "$limit" -le 0 ]; then
    rc=125 how="not run: the check's ${deadline}s were spent"
  else
    echo
    echo "=== ${start}s: $name (limit ${limit}s): $*"
    timeout -k 5 "$limit" "$@"
    rc=$?
    case $rc in
      0) how=ok ;;
      124 | 137) how="STOPPED at its ${limit}s limit (what it measured until then is kept)" ;;
      *) how="failed (exit $rc)" ;;
    esac
  fi
  echo "=== $name: $how after $((SECONDS - start))s"
  echo "| $name | $((SECONDS - start))s | ${limit}s | $how |" >>"$steps"
  [ "$rc" = 0 ] || failed=1
  return "$rc"
}

echo "mjpod $what: $(date -u +%FT%TZ) on $(hostname), results in $out"
echo "python: $PYTHON ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])'))"

if ! step preflight 60 "$PYTHON" - <<'PY'
"""Import what the check imports; name each missing module with the package that provides it."""
import importlib
import sys

PACKAGES = {  # staged by ../shared/device/stage.sh, or in the GPU machine's image (the rest)
    "mujoco": "mujoco", "mujoco_warp": "mujoco-warp", "mujoco_warp.testspeed": "mujoco-warp",
    "warp": "warp-lang", "OpenGL": "pyopengl", "glfw": "glfw", "numpy": "numpy", "typer": "typer",
    "rich": "rich", "matplotlib": "matplotlib", "PIL": "pillow", "pytest": "pytest", "absl": "absl-py",
    "etils": "etils",
}
MJPOD = ("mjpod.cli", "mjpod.host.doctor", "mjpod.jobs.bench.runner", "mjpod.render.batch",
         "mjpod.engines.comfree", "mjpod.jobs.bench.targets")
missing = []
for name in (*PACKAGES, *MJPOD):
    try:
        importlib.import_module(name)
    except ImportError as err:
        top = (err.name or name).split(".")[0]
        missing.append(f"{name}: needs {top} (package {PACKAGES.get(top, top)}): {err}")
if missing:
    print("the GPU check cannot run: missing Python modules\n  " + "\n  ".join(missing))
    print("stage them: ../shared/device/stage.sh PACKAGE==VERSION (an extra part), docs/gpu-runbook.md")
    sys.exit(2)
from mjpod.engines import warp_setup
from mjpod.host import sysinfo

warp_setup.init()
import warp

print("versions:", ", ".join(f"{k} {v}" for k, v in sysinfo.versions().items()))
print(f"Warp kernel cache (one for every step and mjwarp-testspeed): {warp.config.kernel_cache_dir}")
PY
then
  exit 2
fi

step doctor "$(limit doctor 25)" "${mjpod[@]}" doctor
if [ "$rehearse" = 0 ] && ! step gate "$(limit gate 20)" "$PYTHON" scripts/gpu_gate.py; then
  echo "the GPU check stops here: this is not the GPU machine (the reason and the fix are above)"
  exit 3
fi

# The kernels every measured step needs, compiled by parallel processes (one model and engine set each)
# into the shared cache: compiles then overlap instead of adding up, and the timed steps load them.
warm="$work/warm-up.sh"
i=0
for extra in "--only physics --engine mjwarp --model franka_emika_panda/mjx_scene" \
  "--only physics --engine mjwarp --engine comfree --model bin" \
  "--only batch --model bin --size 64x64"; do
  i=$((i + 1))
  printf '%q ' "${mjpod[@]}" bench --out "$work/warm-$i" --device "$device" --nworld 1 --nstep 2 \
    --seconds 0.1 --no-testspeed >>"$warm"
  echo "$extra >$(printf %q "$work/warm-$i.log") 2>&1 &" >>"$warm"
done
echo 'wait' >>"$warm"
step warm-up "$(limit warm-up 120)" bash "$warm"
tail -n 2 "$work"/warm-*.log

step seed-render "$(limit seed-render 30)" "${bench[@]}" --only seed --only render \
  --model franka_emika_panda/mjx_scene --size 320x240
step physics-panda "$(limit physics-panda 45)" "${bench[@]}" --only physics --engine mjwarp \
  --model franka_emika_panda/mjx_scene "${physics_nworld[@]}" --nstep "${nstep[0]}" --testspeed
step physics-bin "$(limit physics-bin 60)" "${bench[@]}" --only physics --engine mjwarp \
  --model bin "${physics_nworld[@]}" --nstep "${nstep[0]}" --testspeed
step contact "$(limit contact 60)" "${bench[@]}" --only contact --contact-scene bin \
  "${contact_nworld[@]}" --nstep "${nstep[1]}"
step batch "$(limit batch 40)" "${bench[@]}" --only batch --model bin "${batch_nworld[@]}" \
  --size 64x64 --nstep "${nstep[2]}" --testspeed

report=15
step gpu-tests $((deadline - SECONDS - report * scale)) "$PYTHON" -m pytest -q -m gpu tests/gpu -p no:cacheprovider

jsons=("$out"/bench-*.json)
json=${jsons[0]}
if [ -e "$json" ]; then
  step report "$(limit report "$report")" "${mjpod[@]}" bench-report "$json"
  cat "$steps" >>"${json%.json}-targets.md"
  mv "$log" "${json%.json}-check.log" # named for the GPU like the rest (tee writes on into it)
else
  echo "no bench figures were written: nothing to report"
  failed=1
fi
echo
echo "mjpod $what done in ${SECONDS}s; $([ "$failed" = 0 ] && echo "every step ok" || echo "NOT every step ok (see above)")"
ls -l "$out"
exit "$failed"
