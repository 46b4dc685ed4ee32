"""The one description of an operator as plain JSON: ``to_spec(A)`` and ``from_spec(spec, x_shape)``.

A *spec* is a dict with an ``"op"`` name and every parameter needed to rebuild the operator exactly —
seeds of random parts included — so it can be stored beside a measurement (``restore simulate``'s
sidecar, a benchmark row) and read back (``--from-json``, `restore.bench`):

    {"op": "blur", "kernel": "gauss", "kernel_size": 19, "kernel_std": 3.0, "boundary": "reflect"}
    {"op": "blur", "kernel": "motion", "kernel_size": 31, "intensity": 0.5, "kernel_seed": 123, "boundary": ...}
    {"op": "blur", "kernel": "uniform", "kernel_size": 9, "boundary": ...}
    {"op": "blur", "kernel": "file" | "estimated" | "array", "values": [[...]], "boundary": ..., "path": ...}
    {"op": "downsample", "factor": 4, "filter": "bicubic"}
    {"op": "inpaint", "mask": "random", "fraction": 0.5, "mask_seed": 7}
    {"op": "inpaint", "mask": "box", "size": [64, 64], "margin": 0, "mask_seed": 7}
    {"op": "inpaint", "mask": "file", "path": "mask.png"}    /   {"op": "inpaint", "mask": "array", "values": ...}
    {"op": "identity"}    {"op": "grayscale", "weights": [...]}    {"op": "compose", "factors": [spec, ...]}

Recipes that depend on the image size (masks) are built for ``x_shape``; file paths are read by the
caller's ``read_file(path, x_shape)`` hook where given (the CLI's validating readers), else by
`operators.masks.mask_from_file`.  An operator built by `from_spec` remembers its spec, so
``to_spec(from_spec(s)) == s``; one built directly describes itself exactly (kernel and mask values).

A new operator adds its kind in its own file with one call:

    register_spec("name", MyOperator, encode=lambda A: {...}, decode=lambda spec, x_shape, read_file: MyOperator(...))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .base import Compose, LinearOperator
from .blur import Blur, GaussianBlur, MotionBlur, UniformBlur
from .downsample import Downsample
from .grayscale import Grayscale
from .identity import Identity
from .inpainting import Inpainting
from .masks import box_mask, mask_from_file, random_mask

__all__ = ["to_spec", "from_spec", "register_spec", "SPEC_KINDS"]

#: the attribute where `from_spec` leaves the spec an operator was built from
SPEC_ATTR = "_spec"


@dataclass(frozen=True)
class SpecKind:
    """How one ``"op"`` name is encoded (``encode(A) -> dict``) and decoded (``decode(spec, x_shape, read_file)``)."""

    name: str
    cls: type
    encode: Callable
    decode: Callable


#: op name → SpecKind, in registration order
SPEC_KINDS: dict[str, SpecKind] = {}


def register_spec(name: str, cls: type, encode: Callable, decode: Callable) -> SpecKind:
    """Make operators of class ``cls`` (and subclasses without their own kind) describable as ``{"op": name}``."""
    if name in SPEC_KINDS and SPEC_KINDS[name].cls is not cls:
        raise ValueError(f"an operator spec named {name!r} is already registered")
    SPEC_KINDS[name] = SpecKind(name, cls, encode, decode)
    return SPEC_KINDS[name]


def to_spec(A: LinearOperator) -> dict:
    """The JSON-able description that rebuilds ``A`` exactly (the spec it was built from, if any)."""
    stored = getattr(A, SPEC_ATTR, None)
    if stored is not None:
        return dict(stored)
    for cls in type(A).__mro__:  # the most specific registered class wins (GaussianBlur before Blur)
        for kind in SPEC_KINDS.values():
            if kind.cls is cls:
                return {"op": kind.name, **kind.encode(A)}
    raise ValueError(f"{type(A).__name__} has no spec; register one with operators.spec.register_spec")


def from_spec(spec: dict, x_shape=None, read_file: Optional[Callable] = None) -> LinearOperator:
    """The operator ``spec`` describes, for images of shape ``x_shape`` (needed by size-dependent recipes)."""
    if not isinstance(spec, dict) or spec.get("op") not in SPEC_KINDS:
        op = spec.get("op") if isinstance(spec, dict) else spec
        raise ValueError(f"unknown operator {op!r} (known: {', '.join(SPEC_KINDS)})")
    A = SPEC_KINDS[spec["op"]].decode(spec, x_shape, read_file)
    setattr(A, SPEC_ATTR, dict(spec))
    return A


def _hw(x_shape) -> tuple[int, int]:
    if x_shape is None:
        raise ValueError("this operator description needs the image shape")
    return int(x_shape[-2]), int(x_shape[-1])


# ----------------------------------------------------------------------------- blur
def _blur_encode(A: Blur) -> dict:
    """The recipe of a square named kernel, else the kernel's values."""
    if isinstance(A, GaussianBlur) and isinstance(A.size, int) and isinstance(A.std, (int, float)):
        return {"kernel": "gauss", "kernel_size": A.size, "kernel_std": float(A.std), "boundary": A.boundary}
    if isinstance(A, MotionBlur) and isinstance(A.size, int):
        return {"kernel": "motion", "kernel_size": A.size, "intensity": float(A.intensity), "kernel_seed": A.seed,
                "boundary": A.boundary}
    if isinstance(A, UniformBlur) and isinstance(A.size, int):
        return {"kernel": "uniform", "kernel_size": A.size, "boundary": A.boundary}
    return {"kernel": "array", "values": A.kernel.tolist(), "boundary": A.boundary}


def _blur_decode(spec: dict, x_shape, read_file) -> Blur:
    kind, boundary = spec["kernel"], spec.get("boundary", "circular")
    if kind == "gauss":
        return GaussianBlur(spec["kernel_size"], spec["kernel_std"], boundary=boundary)
    if kind == "motion":
        return MotionBlur(spec["kernel_size"], spec["intensity"], seed=spec["kernel_seed"], boundary=boundary)
    if kind == "uniform":
        return UniformBlur(spec["kernel_size"], boundary=boundary)
    if kind in ("file", "estimated", "array"):
        if "values" in spec:
            return Blur(torch.tensor(spec["values"], dtype=torch.float64), boundary=boundary)
        if kind == "file":
            return Blur(spec["path"], boundary=boundary)
    raise ValueError(f"unknown kernel kind {kind!r} in the operator description")


register_spec("blur", Blur, _blur_encode, _blur_decode)


# ----------------------------------------------------------------------------- the others
def _mask_decode(spec: dict, x_shape, read_file) -> Inpainting:
    kind = spec["mask"]
    if kind == "random":
        return Inpainting(random_mask(_hw(x_shape), spec["fraction"], seed=spec["mask_seed"]))
    if kind == "box":
        size = spec["size"]
        return Inpainting(box_mask(_hw(x_shape), tuple(size) if isinstance(size, list) else size,
                                   spec.get("margin", 0), seed=spec["mask_seed"]))
    if kind == "file":
        m = read_file(spec["path"], x_shape) if read_file else mask_from_file(spec["path"], _hw(x_shape))
        return Inpainting(m)
    if kind == "array":
        return Inpainting(torch.tensor(spec["values"], dtype=torch.float64))
    raise ValueError(f"unknown mask kind {kind!r} in the operator description")


def _mask_encode(A: Inpainting) -> dict:
    m = A.mask
    plane = m[0, 0] if bool((m == m[:1, :1]).all()) else None
    if plane is None:
        raise ValueError("an inpainting mask that differs between channels or images has no spec")
    return {"mask": "array", "values": plane.to(torch.int64).tolist()}


register_spec("inpaint", Inpainting, _mask_encode, _mask_decode)
register_spec("downsample", Downsample, lambda A: {"factor": A.factor, "filter": A.filter},
              lambda s, x_shape, rf: Downsample(s["factor"], s["filter"]))
register_spec("identity", Identity, lambda A: {}, lambda s, x_shape, rf: Identity())
register_spec("grayscale", Grayscale, lambda A: {"weights": A.weights.tolist()},
              lambda s, x_shape, rf: Grayscale(s["weights"]) if "weights" in s else Grayscale())


def _compose_decode(spec: dict, x_shape, read_file) -> Compose:
    """Factors listed outermost first, as `Compose(A, B)` = A ∘ B; each is built for the image it acts on."""
    factors, shape = [], x_shape
    for s in reversed(spec["factors"]):
        f = from_spec(s, shape, read_file)
        factors.append(f)
        shape = f.out_shape(shape) if shape is not None else None
    return Compose(*reversed(factors))


register_spec("compose", Compose, lambda A: {"factors": [to_spec(f) for f in A.factors]}, _compose_decode)
