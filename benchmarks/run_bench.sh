#!/usr/bin/env bash
# The committed quality benchmark (issues 5 and 8): Set3C (3 images) + the first 2 CBSD68 images
# (sorted by name), 128×128 center crops, the six DPS/DAPS-style tasks (σ_y = 0.025 on [0, 1];
# denoise σ = 25/255), every guidance method at its tuned per-task defaults (restore.guidance.tuned,
# chosen on training crops only), plus the baselines.  ≈ 1 h on 2 CPU cores.
# Resumable: re-running continues where an interrupted run stopped.
#   NPROC=2 benchmarks/run_bench.sh      # shard over 2 processes with torchrun (gloo / nccl)
#   CROP=256 NCBSD=68 OUT=benchmarks/results/full benchmarks/run_bench.sh   # the full-size run (GPU)
#   METHODS=dps TASKS=sr4 LIMIT=3 benchmarks/run_bench.sh   # a subset: methods, tasks, first N images
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data/test
OUT=${OUT:-benchmarks/results/tuned128}
NPROC=${NPROC:-1}
NCBSD=${NCBSD:-2}
mkdir -p "$OUT/data"
# Set3C + first NCBSD CBSD68 images, as one folder of symlinks (names keep their set)
for f in "$DATA"/Set3C/*.png; do ln -sf "$(realpath "$f")" "$OUT/data/Set3C_$(basename "$f")"; done
for f in $(ls "$DATA"/CBSD68/*.png | sort | head -n "$NCBSD"); do ln -sf "$(realpath "$f")" "$OUT/data/CBSD68_$(basename "$f")"; done
ARGS=(--data "$OUT/data"
      --task "${TASKS:-gauss-deblur,motion-deblur,sr4,inpaint-box,inpaint-random,denoise}"
      --method "${METHODS:-ddrm,ddnm,pigdm,diffpir,projection,daps,dps,pinv,wiener,rl,tv}"
      --crop "${CROP:-128}" --prior "${PRIOR:-default}" --seed 0 --out "$OUT" ${LIMIT:+--limit "$LIMIT"})
if [ "$NPROC" -gt 1 ]; then
  exec torchrun --standalone --nproc_per_node "$NPROC" -m restore.cli bench "${ARGS[@]}"
else
  exec restore bench "${ARGS[@]}"
fi
