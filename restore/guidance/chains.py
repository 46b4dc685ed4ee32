"""The chain engine behind `restore.solve` and `restore.sample_posterior`: run J independent
posterior chains of one method per image, in memory-bounded groups, and return them stacked.

    run_chains(method, y, A, prior, sigma_y, chains=J, seed, options) → (J·B, C, H, W), row j·B + b

Chain j of image b draws all its noise from the generator seeded ``chain_seed(s_b, j)``
(`restore.guidance.base`), so the result does not depend on the batch, nor on the grouping
(`chain_groups`), nor on what the caller does with the rows (average them, or keep them as samples).
"""
from __future__ import annotations

import torch

from .base import Problem, chain_groups
from .registry import Method, check_options


def run_chains(method: Method, y, A, prior, sigma_y, chains: int, seed, options: dict, callback=None,
               schedule=None, start=None) -> torch.Tensor:
    """``chains`` runs of ``method.run(problem, **options)`` per image: (chains·B, C, H, W), chain-major,
    unclamped.  Options the method does not take are refused before anything runs."""
    check_options(method, options)
    first = Problem(y, A, prior, sigma_y, chains, seed, schedule=schedule, callback=callback, start=start)
    seeds = first.seeds  # resolved once (seed=None / a Generator must not re-draw per group)
    pixels = first.image_shape[-2] * first.image_shape[-1]
    parts = []
    for group in chain_groups(chains, first.B, pixels, y.device):
        p = Problem(y, A, prior, sigma_y, len(group), seeds, schedule=schedule, callback=callback, start=start,
                    chains=group)
        with torch.no_grad():
            parts.append(method.run(p, **options).detach())
    return torch.cat(parts) if len(parts) > 1 else parts[0]
