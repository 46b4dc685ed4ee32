#!/usr/bin/env bash
# One-command GPU recipe: train or continue a shipped prior for at most MINUTES (default 8.5) of wall time.
#   benchmarks/gpu/train.sh MODEL OUT          MODEL: large | default (tiny: CPU rehearsal)
# Env: PACK (data folder from benchmarks/gpu/pack.py, default gpu_pack), DEVICE (cuda), MINUTES (8.5),
#      WORK (training state, default runs/gpu_MODEL), COMPILE=1 (torch.compile), BATCH (override the preset's), PYTHON (python3).  Log: OUT/log.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:?usage: benchmarks/gpu/train.sh MODEL OUT}
OUT=${2:?usage: benchmarks/gpu/train.sh MODEL OUT}
mkdir -p "$OUT"
args=("$MODEL" "$OUT" --pack "${PACK:-gpu_pack}" --device "${DEVICE:-cuda}" --minutes "${MINUTES:-8.5}")
[[ -n "${WORK:-}" ]] && args+=(--work "$WORK")
[[ "${COMPILE:-0}" == 1 ]] && args+=(--compile)
[[ -n "${BATCH:-}" ]] && args+=(--batch "$BATCH")
PYTHONUNBUFFERED=1 "${PYTHON:-python3}" benchmarks/gpu/recipe.py "${args[@]}" 2>&1 | tee -a "$OUT/log.txt"
