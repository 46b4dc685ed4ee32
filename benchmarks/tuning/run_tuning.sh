#!/usr/bin/env bash
# The grid search behind restore/guidance/tuned.py (2 CPU cores: ≈ 1 h).  Training images only:
# CBSD432 files 9-10 (the first 8 are the prior's validation crops), 128x128 central crops, the six
# benchmark presets.  Resumable: rows already in tuning.csv are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
T="python benchmarks/tune.py --crop 128 --out benchmarks/tuning/tuning.csv"
$T --method pinv
$T --method daps --grid "steps=25 noise=0,1"
$T --method ddrm --grid "steps=20 eta=0,0.5,0.85,1"
$T --method projection --grid "steps=100 eta=0,1"
$T --method pigdm --grid "steps=50 eta=0,1"
$T --method ddnm --grid "steps=100 eta=0,0.85"
$T --method diffpir --grid "steps=100 zeta=0,0.3,1 lam=7"
$T --method daps --grid "steps=25 noise=0 ode_steps=1" --tasks sr4
$T --method diffpir --grid "steps=100 zeta=1 lam=1,2" --tasks sr4
$T --method dps --grid "steps=200 zeta=1,3" --images 1 --tasks sr4,gauss-deblur,inpaint-box,denoise
$T --method daps --grid "steps=25 noise=0 ode_steps=1" --tasks gauss-deblur,motion-deblur,inpaint-box,inpaint-random,denoise
# SR x4: the posterior mean of M samples (option average=M) at fewer steps per chain, for the methods
# whose single samples lost to pinv on the SR presets (session 3)
$T --method ddrm --grid "steps=10,20 eta=1 average=4,8,16" --tasks sr4
$T --method ddnm --grid "steps=25 average=4,8" --tasks sr4
$T --method pigdm --grid "steps=25 eta=1 average=4,8" --tasks sr4
$T --method projection --grid "steps=25 eta=1 average=4,8" --tasks sr4
$T --method dps --grid "steps=100,200 zeta=3 average=4,8" --images 1 --tasks sr4
$T --method dps --grid "steps=200 zeta=10 average=8" --images 1 --tasks sr4
$T --method ddrm --grid "steps=5 eta=1 average=8,16" --tasks sr4
$T --method diffpir --grid "steps=25 zeta=1 lam=1 average=4,8" --tasks sr4
$T --method daps --grid "steps=25 noise=0 ode_steps=1 average=4,8" --tasks sr4
