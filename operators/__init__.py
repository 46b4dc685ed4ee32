"""Measurement operators 𝒜 and noise models for image restoration (torch only).

Images are (B, C, H, W) float tensors in [0, 1]; every operator is a `LinearOperator` with forward,
exact adjoint, pseudo-inverse, prox, and (where cheap) an exact `SVD`.
"""
from .base import Compose, LinearOperator
from .batch import batch_dot, per_image
from .blur import BOUNDARIES, Blur, FourierSVD, GaussianBlur, MotionBlur, UniformBlur
from .cg import conjugate_gradient
from .downsample import FILTERS, BicubicSVD, BoxSVD, Downsample, StridedSVD, bicubic_matrix
from .grayscale import BT601, Grayscale, GrayscaleSVD
from .identity import Identity, IdentitySVD
from .inpainting import Inpainting, MaskSVD
from .kernels import as_kernel, gaussian_kernel, load_kernel, motion_kernel, normalize_kernel, uniform_kernel
from .masks import box_mask, freeform_mask, mask_from_file, random_mask
from .noise import GaussianNoise, PoissonNoise, measure, measured_entries
from .random import derive_seed, generator, rand, randn
from .spec import SPEC_KINDS, from_spec, register_spec, to_spec
from .svd import SVD, default_rtol

__all__ = [
    "LinearOperator", "SVD", "Compose", "Identity", "Blur", "GaussianBlur", "UniformBlur", "MotionBlur",
    "Downsample", "Inpainting", "Grayscale", "GaussianNoise", "PoissonNoise", "measure",
    "measured_entries", "to_spec", "from_spec", "register_spec", "SPEC_KINDS",
    "FourierSVD", "BoxSVD", "StridedSVD", "BicubicSVD", "MaskSVD", "GrayscaleSVD", "IdentitySVD",
    "BOUNDARIES", "FILTERS", "BT601",
    "as_kernel", "load_kernel", "normalize_kernel", "gaussian_kernel", "uniform_kernel", "motion_kernel",
    "random_mask", "box_mask", "freeform_mask", "mask_from_file",
    "conjugate_gradient", "batch_dot", "per_image", "default_rtol",
    "randn", "rand", "generator", "derive_seed", "bicubic_matrix",
]
