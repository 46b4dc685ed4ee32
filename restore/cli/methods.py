"""The guidance methods as the command line sees them (``restore.guidance.METHODS``).

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

import importlib

DEFAULTS = {
    "deblur": ("diffpir", "dps", "pigdm", "ddrm"),
    "sr": ("ddrm", "ddnm", "diffpir", "pigdm", "dps"),
    "inpaint": ("ddrm", "ddnm", "diffpir", "pigdm", "dps"),
    "denoise": ("ddrm", "diffpir", "ddnm", "pigdm", "dps"),
    "colorize": ("ddnm", "ddrm", "diffpir", "pigdm", "dps"),
}


def guidance():
    """The `restore.guidance` module, or a clear error when this installation lacks it."""
    try:
        return importlib.import_module("restore.guidance")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("restore.guidance"):
            raise ValueError("restore.guidance (the solvers) is not available in this installation") from None
        raise


def registry() -> dict:
    return dict(getattr(guidance(), "METHODS", {}))


def default_method(task: str, names=None) -> str:
    names = list(registry()) if names is None else list(names)
    for m in DEFAULTS[task]:
        if m in names:
            return m
    if not names:
        raise ValueError("no restoration methods are registered in restore.guidance.METHODS")
    return names[0]


def check_method(name: str) -> str:
    names = list(registry())
    if name not in names:
        raise ValueError(f"unknown method {name!r} (choose from {', '.join(names)}; see 'restore methods')")
    return name


def _default_option(method: str, A, name: str, fallback):
    """Option ``name`` of ``method`` for operator ``A`` as ``solve`` would use it (tuned per task),
    from the plain DEFAULTS table on an installation without ``guidance.defaults``."""
    g = guidance()
    if hasattr(g, "defaults") and method in registry():
        return g.defaults(method, A).get(name, fallback)
    return dict(getattr(g, "DEFAULTS", {}).get(method, {})).get(name, fallback)


def default_steps(method: str, A=None):
    """The method's default number of steps for operator ``A`` (tuned per task), None without steps (pinv)."""
    return _default_option(method, A, "steps", None)


def default_samples(method: str, A=None) -> int:
    """How many chains the CLI's point estimate (no --samples: `restore.solve`) averages: the method's
    tuned ``average`` for operator ``A`` (e.g. several DDRM chains for SR, where their mean beats one
    in PSNR), else 1."""
    return int(_default_option(method, A, "average", 1))


def _first_line(text) -> str:
    text = (text or "").strip()
    return text.splitlines()[0].strip() if text else ""


def _field(entry, *names):
    for n in names:
        if isinstance(entry, dict) and n in entry:
            return entry[n]
        if not isinstance(entry, dict) and hasattr(entry, n):
            return getattr(entry, n)
    return None


def summary(name: str, entry) -> dict:
    """What the registry says about a method, in a fixed shape for printing and --json."""
    desc = _field(entry, "description", "summary", "title")
    if not desc:
        fn = _field(entry, "fn", "function", "solve") or (entry if callable(entry) else None)
        desc = _first_line(getattr(fn, "__doc__", "")) or _first_line(getattr(entry, "__doc__", ""))
    info = {"name": name, "description": _first_line(desc) if isinstance(desc, str) else ""}
    for key, aliases in (("noisy measurements", ("noise", "handles_noise")),
                         ("needs an SVD", ("svd", "needs_svd", "requires_svd"))):
        v = _field(entry, *aliases)
        if v is not None and not callable(v):
            info[key] = ("yes" if v else "no") if isinstance(v, bool) else v
    steps = default_steps(name)
    info["default steps"] = steps if steps is not None else "-"
    return info
