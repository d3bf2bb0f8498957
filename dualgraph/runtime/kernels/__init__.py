"""Kernels written once against the array namespace `xp` (NumPy or CuPy), one module per op
family (as `ir/ops/` has one module of op records per family).

Each family module defines `kernels(xp) -> {op name: callable(*arrays_or_scalars, **attrs)}` and
may define `plain(xp)`: kernels for calls without attributes where a library function serves
directly, saving the eager fast path a Python call. A family's `QUIET` names the kernels whose
floating-point results may be inf or NaN (log(0), 1/0, exp(1000), inf - inf): PyTorch returns
those silently where NumPy warns, so on NumPy `build` wraps exactly those kernels in
`common.quiet` (NumPy's warnings off for the call, the caller's error state untouched); the
others run bare, at no cost. A family's `OUT` names the kernels that accept `out=` (an array of
the result's shape and dtype that they fill and return; memory planning writes into planned
buffers through it) and `WORKSPACE` the bytes per output element of a temporary a kernel
allocates while it runs. Inputs arrive already cast to the op's compute
dtype (the dtype rule in `ir` decides), so kernels only compute. Every module in this package is
a family; a backend overrides an entry only where its library differs.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from typing import Any, Callable

from .common import quiet

# NumPy's floating-point warnings raised inside dualgraph's own code (a bare kernel's overflow
# in add, inf - inf in sub): PyTorch returns inf/NaN silently, so these are ignored — a filter
# costs nothing until a warning is raised, and it matches only warnings attributed to
# dualgraph's modules, so the user's own NumPy code still warns. (Under warnings-as-errors set
# after import, eager re-runs a kernel that raised one quietly: dualgraph/eager.py.)
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"dualgraph(\.|$)",
                        message=r"(overflow|invalid value|divide by zero|underflow) "
                                r"encountered")


def _families() -> list:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "common")
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def _warns(xp: Any) -> bool:
    """Whether the library reports floating-point errors as warnings (NumPy; CuPy does not)."""
    return getattr(xp, "__name__", "") == "numpy"


def _quieted(family: Any, xp: Any, kernels: dict, check: bool = False) -> dict:
    names = getattr(family, "QUIET", ())
    unknown = set(names) - set(kernels)
    if check and unknown:
        raise ValueError(f"{family.__name__}.QUIET names no kernel of the family: {unknown}")
    if not _warns(xp):
        return kernels
    return {name: quiet(k) if name in names else k for name, k in kernels.items()}


def build(xp: Any) -> dict[str, Callable]:
    """The kernel table for one array library: every family's kernels, merged."""
    table: dict[str, Callable] = {}
    for family in _families():
        for name, kernel in _quieted(family, xp, family.kernels(xp), check=True).items():
            if name in table:
                raise ValueError(f"kernel {name!r} is defined by two families")
            table[name] = kernel
    return table


def plain_kernels(xp: Any) -> dict[str, Callable]:
    """Kernels for calls without attributes (see the module docstring)."""
    table: dict[str, Callable] = {}
    for family in _families():
        if hasattr(family, "plain"):
            table.update(_quieted(family, xp, family.plain(xp)))
    return table


def out_kernels(xp: Any) -> frozenset:
    """The names of the kernels (and their plain forms) that accept `out=`, from each family's
    `OUT`; a name that is not one of the family's kernels is refused."""
    names: set = set()
    for family in _families():
        declared = set(getattr(family, "OUT", ()))
        unknown = declared - set(family.kernels(xp))
        if unknown:
            raise ValueError(f"{family.__name__}.OUT names no kernel of the family: {unknown}")
        names |= declared
    return frozenset(names)


def workspace() -> dict:
    """Kernel name -> bytes per output element of the temporary it allocates (`WORKSPACE`)."""
    table: dict = {}
    for family in _families():
        table.update(getattr(family, "WORKSPACE", {}))
    return table
