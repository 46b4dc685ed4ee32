"""A tiny random-init restore checkpoint for CLI and benchmark tests (fast, deterministic)."""
import torch

from restore.models import Preconditioned, UNet
from restore.models.checkpoint import save_denoiser


def write_tiny_prior(path):
    """Write ``path``.safetensors + ``path``.json: a seeded UNet(base=8, mults=(1, 2), blocks=1)."""
    torch.manual_seed(0)
    return save_denoiser(Preconditioned(UNet(base=8, mults=(1, 2), blocks=1)), path)
