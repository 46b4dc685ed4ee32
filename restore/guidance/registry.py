"""The one registry of guidance methods: what `restore.solve`, `restore.sample_posterior`, the tuned
and sampling tables, the CLI (`restore methods`, ``--method``) and the benchmark all read.

A method is one module that defines ``run(p: Problem, **options) -> x`` and registers itself:

    METHOD = register(Method("name", run, "one-line description", DEFAULTS, noise=True, svd=False))

plus one import line in ``restore/guidance/__init__.py``.  Options a caller passes are checked
against ``run``'s signature before anything runs (`check_options`).
"""
from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Method", "REGISTRY", "register", "get", "check_options"]


@dataclass(frozen=True)
class Method:
    """A guidance method as the rest of the package sees it.

    ``defaults``: the paper settings of ``run``'s options; ``noise``: handles σ_y > 0; ``svd``: needs an
    operator with an SVD; ``fallback``: the method it runs instead (with a warning) when the operator lacks
    what it needs; ``samples``: whether its chains are posterior samples (False for deterministic baselines);
    ``tasks``: the only task kinds it applies to (None: every task).
    """

    name: str
    run: Callable
    description: str
    defaults: dict = field(default_factory=dict)
    noise: bool = True
    svd: bool = False
    fallback: str | None = None
    samples: bool = True
    tasks: tuple[str, ...] | None = None

    @property
    def options(self) -> list[str]:
        """The keyword options ``run`` takes (everything after the problem)."""
        params = list(inspect.signature(self.run).parameters.values())[1:]
        return [q.name for q in params if q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)]


#: name → Method, in registration order
REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` (a name may be registered once; registering the same object again is a no-op)."""
    key = method.name.lower()
    if key in REGISTRY and REGISTRY[key] is not method:
        raise ValueError(f"a guidance method named {key!r} is already registered")
    REGISTRY[key] = method
    return method


def get(name) -> Method:
    """The registered method ``name`` (case-insensitive), or one clear ValueError with a suggestion."""
    key = str(name).lower() if isinstance(name, str) else None
    if key not in REGISTRY:
        close = difflib.get_close_matches(str(name).lower(), list(REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown method {name!r}{hint}; choose one of: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def check_options(method: Method, options: dict) -> None:
    """Refuse (TypeError, as for any unexpected keyword) options ``method.run`` does not take, naming the ones it does."""
    unknown = sorted(set(options) - set(method.options))
    if unknown:
        raise TypeError(f"method {method.name!r} takes no option(s) {', '.join(unknown)}; "
                         f"its options: {', '.join(method.options) or 'none'}")
