"""restore: image restoration with a diffusion prior.

Public entry points (imported lazily so that ``import restore`` stays fast):

- ``restore.sample(prior, shape, sampler=..., steps=..., seed=...)``  unconditional samples
- ``restore.solve(y, A, prior, method=..., sigma_y=..., steps=..., seed=...)``  a point estimate
  (one image per input, PSNR-tuned settings, may average several chains)
- ``restore.sample_posterior(y, A, prior, method=..., sigma_y=..., samples=K, seed=...)``  K posterior
  samples per input (the sampling settings checked against closed-form posteriors, never averaged)
- ``restore.solve_blind(y, prior, kernel_size=31, method="diffpir", sigma_y=...)``  blind deblurring:
  (image, kernel) with the kernel estimated from y itself (`restore.blind`)
- ``restore.load_prior(name_or_path)``  the default prior or a checkpoint
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "sample": ("restore.sampling", "sample"),
    "solve": ("restore.guidance", "solve"),
    "sample_posterior": ("restore.guidance", "sample_posterior"),
    "load_prior": ("restore.models.registry", "load_prior"),
    "solve_blind": ("restore.blind", "solve_blind"),
}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'restore' has no attribute {name!r}")


__all__ = ["sample", "solve", "sample_posterior", "solve_blind", "load_prior", "__version__"]
