"""Priors: the protocol, analytic priors with exact denoisers, adapters for networks."""
from .base import Prior, PriorBase, as_sigma
from .analytic import GaussianMixturePrior, GaussianPrior
from .epsilon import EpsilonNetworkPrior

__all__ = ["Prior", "PriorBase", "as_sigma", "GaussianPrior", "GaussianMixturePrior", "EpsilonNetworkPrior"]
