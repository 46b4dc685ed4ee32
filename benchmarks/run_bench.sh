#!/usr/bin/env bash
# The committed quality benchmark (issue 8): Set3C (3 images) + the first 5 CBSD68 images,
# 256×256 center crops, DPS/DAPS-style tasks (σ_y = 0.025 on [0, 1]; denoise σ = 25/255),
# every method with ≤ 100 steps (paper defaults: diffpir/ddnm/pigdm 100, ddrm 20, daps 50 levels;
# dps and projection capped at 100 from 1000/200), plus the baselines.
# Resumable: re-running continues where an interrupted run stopped.
#   NPROC=2 benchmarks/run_bench.sh      # shard over 2 processes with torchrun (gloo / nccl)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data/test
OUT=${OUT:-benchmarks/results/bench256}
NPROC=${NPROC:-1}
mkdir -p "$OUT/data"
# Set3C (3) + first 5 CBSD68 (sorted by name), as one folder of symlinks so --limit applies to CBSD68 only
for f in "$DATA"/Set3C/*.png; do ln -sf "$(realpath "$f")" "$OUT/data/Set3C_$(basename "$f")"; done
for f in $(ls "$DATA"/CBSD68/*.png | sort | head -n 5); do ln -sf "$(realpath "$f")" "$OUT/data/CBSD68_$(basename "$f")"; done
ARGS=(--data "$OUT/data"
      --task gauss-deblur,motion-deblur,sr4,inpaint-box,denoise
      --method diffpir,ddnm,ddrm,pigdm,dps,daps,projection,pinv,wiener,rl,tv
      --steps dps=100,projection=100 --crop 256 --prior "${PRIOR:-default}" --seed 0 --out "$OUT")
if [ "$NPROC" -gt 1 ]; then
  exec torchrun --standalone --nproc_per_node "$NPROC" -m restore.cli bench "${ARGS[@]}"
else
  exec restore bench "${ARGS[@]}"
fi
