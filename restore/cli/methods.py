"""The guidance methods as the command line sees them (the registry, `restore.guidance.registry`).

Per-task defaults (first one present in the registry wins):

| task     | default   | why |
|----------|-----------|-----|
| deblur   | diffpir   | works with the non-periodic (reflect) blur, which has no cheap SVD: its data step is a prox (CG) |
| sr       | ddrm      | bicubic/box downsampling has an exact SVD; DDRM is robust to measurement noise |
| inpaint  | ddrm      | exact (diagonal) SVD, fills large holes coherently, handles noise |
| denoise  | ddrm      | identity operator: DDRM starts the reverse process at the measured noise level |
| colorize | ddnm      | grayscale has an exact SVD; the null-space update keeps the measured luminance exactly |
"""
from __future__ import annotations

DEFAULTS = {
    "deblur": ("diffpir", "dps", "pigdm", "ddrm"),
    "sr": ("ddrm", "ddnm", "diffpir", "pigdm", "dps"),
    "inpaint": ("ddrm", "ddnm", "diffpir", "pigdm", "dps"),
    "denoise": ("ddrm", "diffpir", "ddnm", "pigdm", "dps"),
    "colorize": ("ddnm", "ddrm", "diffpir", "pigdm", "dps"),
}


def guidance():
    """The `restore.guidance` module (imported on first use: the CLI starts without torch work)."""
    from .. import guidance as g
    return g


def registry() -> dict:
    """name → `restore.guidance.registry.Method`, every registered method."""
    from ..guidance.registry import REGISTRY
    return dict(REGISTRY)


def default_method(task: str, names=None) -> str:
    """The first of the task's preferred methods that is registered."""
    names = list(registry()) if names is None else list(names)
    for m in DEFAULTS[task]:
        if m in names:
            return m
    return names[0]


def check_method(name: str) -> str:
    from ..guidance.registry import get
    return get(name).name


def default_steps(method: str, A=None):
    """The method's default number of steps for operator ``A`` (tuned per task), None without steps (pinv)."""
    return guidance().defaults(method, A).get("steps")


def default_samples(method: str, A=None) -> int:
    """How many chains the CLI's point estimate (no --samples: `restore.solve`) averages: the method's
    tuned ``average`` for operator ``A`` (e.g. several DDRM chains for SR, where their mean beats one
    in PSNR), else 1."""
    return int(guidance().defaults(method, A).get("average", 1))


def summary(name: str, m) -> dict:
    """What the registry says about a method, in a fixed shape for printing and --json."""
    steps = default_steps(name)
    info = {"name": name, "description": m.description, "noisy measurements": "yes" if m.noise else "no",
            "needs an SVD": "yes" if m.svd else "no", "default steps": steps if steps is not None else "-"}
    if m.fallback:
        info["falls back to"] = m.fallback
    return info
