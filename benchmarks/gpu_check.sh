#!/usr/bin/env bash
# One prepared GPU check (issue 15), under 8 minutes on one GPU:
#   1. the device-agnostic tests on the device   (PYRO_VAE_TEST_DEVICE=DEVICE pytest -m "not slow" ...)
#   2. benchmarks/step_overhead.py --device DEVICE at batch 128 and 1024 (hand-written PyTorch,
#      idiomatic Pyro, pyro-vae; block-paired ratios)
#   3. one MNIST epoch with each train.precision (32, bf16, 16), then a table of the three.
#
# Usage:
#   benchmarks/gpu_check.sh                       # on CUDA, MNIST from DATA_ROOT (default shared/data, ../shared/data)
#   benchmarks/gpu_check.sh --device cpu --tiny   # the same steps, small, on the CPU: checks the script itself
# Environment: PYTHON (default .venv/bin/python, else python3), DATA_ROOT (folder holding MNIST/raw),
#   OUT (where the runs go; default a new temporary folder), GPU_CHECK_DEVICE (instead of --device).
set -uo pipefail

DEVICE="${GPU_CHECK_DEVICE:-cuda}"
TINY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --device=*) DEVICE="${1#--device=}"; shift ;;
    --tiny) TINY=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --device DEVICE, --tiny)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.." || exit 2
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if ! "$PYTHON" -c "import pyro_vae.models" 2>/dev/null; then
  echo "== installing pyro-vae into $PYTHON (editable, no dependencies)"
  "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e . || exit 2
fi
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}"
START=$(date +%s)
"$PYTHON" -c "import torch; print('== torch', torch.__version__, '| cuda available:', torch.cuda.is_available(),
      '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"

# 1. tests -----------------------------------------------------------------------------------------
TESTS=(tests/test_device.py tests/test_linear_gaussian.py
       tests/test_training.py::test_fitting_digits_raises_the_validation_elbo_by_a_clear_margin)
echo "== 1. device-agnostic tests on $DEVICE"
PYRO_VAE_TEST_DEVICE="$DEVICE" timeout 300 "$PYTHON" -m pytest -m "not slow" -q -p no:cacheprovider "${TESTS[@]}" \
  > "$OUT/tests.log" 2>&1
TESTS_RC=$?
tail -n 15 "$OUT/tests.log"
TESTS_LINE=$(grep -E "passed|failed|error" "$OUT/tests.log" | tail -n 1)

# 2. step overhead ---------------------------------------------------------------------------------
echo "== 2. step overhead on $DEVICE"
if [ "$TINY" = 1 ]; then
  STEP_ARGS=(--batch-sizes 16,32 --steps 3 --repeats 2 --warmup 2)
else
  STEP_ARGS=(--batch-sizes 128,1024 --steps 50 --repeats 10 --warmup 20)
fi
timeout 240 "$PYTHON" benchmarks/step_overhead.py --device "$DEVICE" --no-memory "${STEP_ARGS[@]}" \
  > "$OUT/step_overhead.md" 2> "$OUT/step_overhead.err"
STEP_RC=$?
grep -v "^USDT" "$OUT/step_overhead.md"
[ $STEP_RC -ne 0 ] && tail -n 5 "$OUT/step_overhead.err"

# 3. one epoch per precision -----------------------------------------------------------------------
ROOT="${DATA_ROOT:-}"
if [ -z "$ROOT" ]; then
  for candidate in shared/data ../shared/data; do
    [ -d "$candidate/MNIST/raw" ] && ROOT="$candidate" && break
  done
fi
if [ "$TINY" = 1 ] || [ -z "$ROOT" ] || [ ! -d "$ROOT/MNIST/raw" ]; then
  [ "$TINY" = 0 ] && echo "note: no MNIST/raw under DATA_ROOT, shared/data or ../shared/data: the epochs run on digits"
  DATA=(examples/configs/digits.toml --set data.limit=400 --set eval.samples=50)
  WHAT="digits (400 examples)"
else
  DATA=(examples/configs/mnist.toml --set "data.root=\"$ROOT\"" --set eval.samples=1000)
  WHAT="MNIST"
fi
echo "== 3. one $WHAT epoch per precision on $DEVICE"
ROWS=()
for precision in 32 bf16 16; do
  run="$OUT/epoch-$precision"
  rm -rf "$run"
  timeout 180 "$PYTHON" -m pyro_vae fit "${DATA[@]}" --set train.epochs=1 --set "train.precision=\"$precision\"" \
    --device "$DEVICE" --out "$run" --no-pictures --quiet > "$run.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    ROWS+=("$("$PYTHON" - "$run" "$precision" <<'EOF'
import csv, json, sys
run, precision = sys.argv[1], sys.argv[2]
summary = json.load(open(f"{run}/summary.json"))
row = list(csv.DictReader(open(f"{run}/metrics.csv")))[-1]
print(f"| {precision} | {float(row['seconds']):.1f} | {float(row['train_elbo']):.3f} | {summary['test_elbo']:.3f} | "
      f"{summary['test_log_likelihood']:.3f} |")
EOF
)")
  else
    ROWS+=("| $precision | failed (exit $rc): $(tail -n 1 "$run.log") | | | |")
  fi
done

# the table ----------------------------------------------------------------------------------------
echo
echo "## GPU check: device $DEVICE, $(date -u +%Y-%m-%d), $(( $(date +%s) - START )) s"
echo
echo "- tests (${#TESTS[@]} files or tests, -m 'not slow'): ${TESTS_LINE:-no result} (exit $TESTS_RC)"
echo "- step overhead: exit $STEP_RC; headline ratios:"
grep -E "^- batch [0-9]+: \(c\)" "$OUT/step_overhead.md" | sed 's/^/  /'
echo
echo "| precision | epoch seconds ($WHAT) | train elbo | test elbo | test log-likelihood |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "logs and runs: $OUT"
[ $TESTS_RC -eq 0 ] && [ $STEP_RC -eq 0 ]
