"""Kernels written once against the array namespace `xp` (NumPy or CuPy), one module per op
family (as `ir/ops/` has one module of op records per family).

Each family module defines `kernels(xp) -> {op name: callable(*arrays_or_scalars, **attrs)}` and
may define `plain(xp)`: kernels for calls without attributes where a library function serves
directly, saving the eager fast path a Python call. Inputs arrive already cast to the op's compute
dtype (the dtype rule in `ir` decides), so kernels only compute. Every module in this package is
a family; a backend overrides an entry only where its library differs.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable


def _families() -> list:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "common")
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def build(xp: Any) -> dict[str, Callable]:
    """The kernel table for one array library: every family's kernels, merged."""
    table: dict[str, Callable] = {}
    for family in _families():
        for name, kernel in family.kernels(xp).items():
            if name in table:
                raise ValueError(f"kernel {name!r} is defined by two families")
            table[name] = kernel
    return table


def plain_kernels(xp: Any) -> dict[str, Callable]:
    """Kernels for calls without attributes (see the module docstring)."""
    table: dict[str, Callable] = {}
    for family in _families():
        if hasattr(family, "plain"):
            table.update(family.plain(xp))
    return table
