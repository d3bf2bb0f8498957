"""Tensor methods and `dualgraph.*` functions, one module per op family (as `ir/ops/` and
`runtime/kernels/` are), so a family is added without editing shared files.

Each module here may define `class Methods` (a mixin with `__slots__ = ()` whose methods become
Tensor methods) and `__all__` (functions exported as `dualgraph.<name>`). Modules must not import
`dualgraph.tensor` at import time (Tensor is built from these mixins): import it inside functions.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

_MODULES = [importlib.import_module(f"{__name__}.{m.name}")
            for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)]


def mixins() -> tuple:
    """The `Methods` mixins of every family, in module-name order."""
    return tuple(m.Methods for m in _MODULES if hasattr(m, "Methods"))


def public() -> dict[str, Any]:
    """{name: function} of everything the families export to the `dualgraph` namespace."""
    out: dict[str, Any] = {}
    for m in _MODULES:
        for name in getattr(m, "__all__", ()):
            if name in out:
                raise ValueError(f"dualgraph.{name} is exported by two method families")
            out[name] = getattr(m, name)
    return out
