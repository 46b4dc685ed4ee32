"""The refinement's ridge γ, steps and λ (issue 14, session 13; benchmarks/BLIND.md): not adopted.

    OMP_NUM_THREADS=1 python benchmarks/blind_refine_gamma.py 104055,105019 rows.jsonl

255² circular noise-free CBSD432 crops × the 8 Levin kernels: the four-start estimate without refinement, then
each variant's refinement (γ, alternations, λ) from it; per variant the E-step's PSNR and the kernel error.
"""
import json
import sys
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import restore, restore.blind as rb
from blind import DATA, crop_kernels, kernel_error, psnr_upto_shift
from blind_starts import crop_pair, measured
from restore.blind.estimate import ESTIMATE_DEFAULTS, estimate_kernel, level_grid, _alternate, REFINE_LAM
from restore.blind.deconv import denoised_deconvolution
torch.set_num_threads(1)
prior=restore.load_prior("default")
ids=sys.argv[1].split(','); out=sys.argv[2]
kern=[kk for kk in crop_kernels() if kk[0].startswith('levin')]
variants={'ship':(3e-2,3,REFINE_LAM),'g1e-2':(1e-2,3,REFINE_LAM),'g3e-3':(3e-3,3,REFINE_LAM),'g1e-3':(1e-3,3,REFINE_LAM),
          'g1e-2x6':(1e-2,6,REFINE_LAM),'g3e-3x6':(3e-3,6,REFINE_LAM),'g1e-2l3e-5':(1e-2,3,3e-5),'none':(3e-2,0,REFINE_LAM)}
for cid in ids:
    img=torch.from_numpy(cv2.imread(str(next((DATA/'train'/'CBSD432').glob(f'{cid}.*'))),cv2.IMREAD_GRAYSCALE)/255.0)
    for name,k in kern:
        x,yv,bd,size=crop_pair(img,k,'circ'); y=measured(yv,0,cid,name)
        g=rb.luma(y[0])
        with rb.one_thread():
            k0=estimate_kernel(g,size,boundary=bd,**{**ESTIMATE_DEFAULTS,'starts':rb.START_ORDER,'refine':0})
        yl,mask=level_grid(g.to(torch.float64),size,bd,True)
        row={'img':cid,'k':name,'input':psnr_upto_shift(y,x)}
        for v,(gam,n,lam) in variants.items():
            kk=k0
            fit={'gamma':gam,'threshold':ESTIMATE_DEFAULTS['threshold'],'min_piece':ESTIMATE_DEFAULTS['min_piece'],'mask':mask}
            for _ in range(n): kk=_alternate(yl,kk,lam,size,ESTIMATE_DEFAULTS['salient'],fit,init=kk)
            xo=denoised_deconvolution(y[0],kk,prior,0.0,boundary=bd)
            row[v]=[psnr_upto_shift(xo[None],x),kernel_error(kk,k)]
        xo=denoised_deconvolution(y[0],k.double(),prior,0.0,boundary=bd); row['true']=psnr_upto_shift(xo[None],x)
        print(json.dumps(row),flush=True); open(out,'a').write(json.dumps(row)+'\n')
