"""Priors: the protocol, analytic priors with exact denoisers, adapters for networks."""
from .base import Prior, PriorBase, as_sigma

__all__ = ["Prior", "PriorBase", "as_sigma"]
