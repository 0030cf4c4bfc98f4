#!/usr/bin/env bash
# The GPU benchmarks, as run on the device machine (one GPU), from the
# repository root, results under $OUT:
#   bash benchmarks/run_on_gpu.sh sharpness phase high_dimensional networks
# (any subset, in that order): sharpness.json; the full k = 3 phase diagram
# (report under phase_k3/, wall time in phase_k3_seconds); high_dimensional
# .json (with that wall time when measured); networks.json.
# Wheels the machine lacks are installed from .whl/ (see the device notes);
# PyHessian is read from .pyhessian/ when present (not part of this repo).
set -euo pipefail
OUT=${OUT:-/tmp/boundlab-gpu}
mkdir -p "$OUT"
ROOT=$PWD
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$ROOT
else
  export PYTHONPATH=$ROOT
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv
for section in "$@"; do
  echo "== $section $(date -u +%T)"
  cd "$ROOT/benchmarks"
  case "$section" in
    sharpness)
      PYHESSIAN_PATH=$ROOT/.pyhessian python3 sharpness.py \
        --out "$OUT/sharpness.json" ;;
    phase)
      cd "$ROOT"
      start=$(date +%s.%N)
      python3 -m boundlab.cli verify --full \
        --only '^benarous2021\.tensor_pca_k3_exponent$' --no-progress \
        --compile-cache /tmp/xla-cache --out "$OUT/phase_k3"
      python3 -c "import time; print(time.time() - $start)" \
        > "$OUT/phase_k3_seconds"
      echo "phase diagram k=3: $(cat "$OUT/phase_k3_seconds") s" ;;
    high_dimensional)
      extra=()
      if [ -f "$OUT/phase_k3_seconds" ]; then
        extra=(--phase-diagram-seconds "$(cat "$OUT/phase_k3_seconds")")
      fi
      python3 high_dimensional.py "${extra[@]}" \
        --out "$OUT/high_dimensional.json" ;;
    networks)
      python3 networks.py --out "$OUT/networks.json" ;;
    *) echo "unknown section $section" >&2; exit 2 ;;
  esac
done
echo "== done $(date -u +%T)"
