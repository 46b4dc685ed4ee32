"""Networks: the UNet, preconditioning, checkpoints and the default prior."""
from .network_prior import NetworkPrior
from .precond import Preconditioned
from .registry import load_prior
from .unet import UNet

__all__ = ["UNet", "Preconditioned", "NetworkPrior", "load_prior"]
