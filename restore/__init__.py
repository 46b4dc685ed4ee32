"""restore: image restoration with a diffusion prior.

Public entry points (imported lazily so that ``import restore`` stays fast):

- ``restore.sample(prior, shape, sampler=..., steps=..., seed=...)``  unconditional samples
- ``restore.solve(y, A, prior, method=..., sigma_y=..., steps=..., seed=...)``  posterior samples
- ``restore.load_prior(name_or_path)``  the default prior or a checkpoint
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "sample": ("restore.sampling", "sample"),
    "solve": ("restore.guidance", "solve"),
    "load_prior": ("restore.models.registry", "load_prior"),
}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'restore' has no attribute {name!r}")


__all__ = ["sample", "solve", "load_prior", "__version__"]
