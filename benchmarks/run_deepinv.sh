#!/usr/bin/env bash
# Solver-only comparison (issues 8, 19): deepinv 0.5's DPS / DiffPIR / DDRM with OUR prior and operators
# against our dps / diffpir / ddrm at EQUAL network evaluations (20 for DiffPIR and DDRM — the defaults'
# budget —, 100 for DPS), all rows timed in this one run, on the first 3 CBSD68 test images (128² centre
# crops).  Our task defaults (daps) run beside them as a reference.
# Needs deepinv importable (benchmarks/README.md: a separate venv; on these machines torch 2.14.1 and
# torchvision 0.29.1 install from the local wheel store).
#   OMP_NUM_THREADS=1 bash benchmarks/run_deepinv.sh      # tables: $OUT/summary.md, $OUT/one_chain/summary.md
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/test/CBSD68}
OUT=${OUT:-benchmarks/results/deepinv_s11}
common=(--data "$DATA" --limit "${LIMIT:-3}" --crop "${CROP:-128}" --prior "${PRIOR:-default}" --seed 0 --no-plots)
ours_theirs=diffpir,dinv-diffpir,ddrm,dinv-ddrm,dps,dinv-dps
restore bench "${common[@]}" --out "$OUT" --method "$ours_theirs,daps" --task gauss-deblur,inpaint-box,denoise \
  --steps diffpir=20,dinv-diffpir=20,ddrm=20,dinv-ddrm=20,dps=100,dinv-dps=100
# ×4 SR: our tuned defaults average chains (DiffPIR 4, DDRM and DPS 8): ours run steps/chains so that
# deepinv's single chain gets the same number of evaluations ...
restore bench "${common[@]}" --out "$OUT" --method "$ours_theirs,daps" --task sr4 \
  --steps diffpir=5,dinv-diffpir=20,ddrm=3,dinv-ddrm=24,dps=12,dinv-dps=96
# ... and, solver against solver, one chain of ours at deepinv's steps (--average 1: its own folder)
restore bench "${common[@]}" --out "$OUT/one_chain" --method diffpir,ddrm,dps --task sr4 --average 1 \
  --steps diffpir=20,ddrm=24,dps=96
