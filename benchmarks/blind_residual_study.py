"""The fit check's residual against what the estimate is worth (issue 14, session 12; benchmarks/BLIND.md).

Per training case, the shipped estimate (`restore.blind.estimate_blur`, σ_y 0.01), the E-step residual the
check compares with its threshold (`reliability.estep_residual`), the E-step's PSNR with k̂ and with the
delta (the fall-back), and the check's verdict.  Kinds: ``photo`` (400² valid crops of ImageNet training
photos, Levin kernel (i mod 8) + 1, as blind_starts.py --mode photo), ``crop`` (160² CBSD432 crops × the 8
Levin + 4 Lai kernels), ``sharp`` / ``sharpphoto`` (the same crops unblurred: every estimate there is wrong).

    OMP_NUM_THREADS=1 python benchmarks/blind_residual_study.py photo 12,13,14 >> rows.jsonl
    OMP_NUM_THREADS=1 python benchmarks/blind_residual_study.py sharp 106005,106020 >> rows.jsonl
"""
import sys, json, torch
sys.path.insert(0, "benchmarks")
import blind_starts as B
import restore, restore.blind as rb, operators as ops
from blind import valid_crop, crop_kernels, psnr_upto_shift, DATA
from restore.blind.reliability import estep_residual, kernel_problem
from restore.blind.deconv import denoised_deconvolution
from operators.kernel_fit import is_delta, delta_kernel
torch.set_num_threads(1)
prior = restore.load_prior("default")
kind, ids = sys.argv[1], sys.argv[2].split(",")
kernels = crop_kernels()
def cases():
    if kind == "photo":
        paths = B.photos(400)
        for i in map(int, ids):
            img = torch.from_numpy(B.cv2.imread(str(paths[i]), B.cv2.IMREAD_GRAYSCALE) / 255.0)
            yield paths[i].stem, img, [kernels[i % 8]], 400
    elif kind in ("crop", "sharp"):
        for cid in ids:
            img = torch.from_numpy(B.cv2.imread(str(next((DATA / "train" / "CBSD432").glob(f"{cid}.*"))), B.cv2.IMREAD_GRAYSCALE) / 255.0)
            ks = kernels if kind == "crop" else [("delta", torch.ones(1, 1, dtype=torch.float64))]
            yield cid, img, ks, 160
    else:  # sharp photos
        paths = B.photos(400)
        for i in map(int, ids):
            img = torch.from_numpy(B.cv2.imread(str(paths[i]), B.cv2.IMREAD_GRAYSCALE) / 255.0)
            yield paths[i].stem, img, [("delta", torch.ones(1, 1, dtype=torch.float64))], 400
for cid, img, ks, side in cases():
    for name, k in ks:
        x, yv = valid_crop(img, k, side)
        yv = ops.GaussianNoise(0.01)(yv, seed=sum(map(ord, cid + name)))
        y = (torch.round(yv.clamp(0, 1) * 255) / 255).float()
        n = 31 if name == "delta" else (k.shape[0] | 1)
        kb = rb.estimate_blur(y[0], prior, n, 0.01, "reflect")
        g = rb.luma(y[0])
        prob = kernel_problem(g, kb, prior, 0.01, "reflect")
        r = estep_residual(g, kb, prior, 0.01, "reflect") if not is_delta(kb) else None
        xo = denoised_deconvolution(y[0], kb, prior, 0.01, boundary="reflect")
        xd = denoised_deconvolution(y[0], delta_kernel(n), prior, 0.01, boundary="reflect")
        row = {"kind": kind, "img": cid, "k": name, "side": side, "input": psnr_upto_shift(y, x),
               "psnr": psnr_upto_shift(xo[None], x), "fallback_psnr": psnr_upto_shift(xd[None], x),
               "resid": r, "problem": prob}
        print(json.dumps(row), flush=True)
