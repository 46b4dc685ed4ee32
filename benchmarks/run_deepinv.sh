#!/usr/bin/env bash
# Solver-only comparison (issue 8): deepinv 0.5's DPS / DiffPIR / DDRM with OUR prior and operators
# against our dps / diffpir / ddrm at the same step counts, on the first 3 images of the main
# benchmark's image folder (run benchmarks/run_bench.sh first: its rows for our methods are reused).
# Needs deepinv importable (see benchmarks/README.md for the separate venv on a CPU-only machine).
set -euo pipefail
cd "$(dirname "$0")/.."
MAIN=${MAIN:-benchmarks/results/tuned128}
OUT=${OUT:-benchmarks/results/deepinv128}
mkdir -p "$OUT"
# our rows for these images/tasks/methods are copied, not recomputed
[ -f "$OUT/results.csv" ] || python - "$MAIN/results.csv" "$OUT/results.csv" <<'PY'
import sys
from restore.bench import results as R
rows = R.read_rows(sys.argv[1])
images = sorted({r["image"] for r in rows})[:3]
keep = [r for r in rows if r["image"] in images and r["method"] in ("dps", "diffpir", "ddrm")
        and r["task"] in ("gauss-deblur", "sr4", "inpaint-box", "denoise")]
R.write_rows(sys.argv[2], keep)
PY
exec restore bench --data "$MAIN/data" --limit 3 \
  --task gauss-deblur,sr4,inpaint-box,denoise \
  --method dps,dinv-dps,diffpir,dinv-diffpir,ddrm,dinv-ddrm \
  --steps dinv-dps=200,dinv-diffpir=100,dinv-ddrm=20 \
  --crop "${CROP:-128}" --prior "${PRIOR:-default}" --seed 0 --out "$OUT"
