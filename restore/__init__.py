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
- ``restore.keep_freed_memory()``  glibc keeps large freed blocks for reuse: about 2x faster networks
  on CPU, at the price of a resident size that stays near its peak (the restoration commands turn it on)
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
    "keep_freed_memory": ("restore.allocator", "keep_freed_memory"),
}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'restore' has no attribute {name!r}")


__all__ = ["sample", "solve", "sample_posterior", "solve_blind", "load_prior", "keep_freed_memory", "__version__"]
