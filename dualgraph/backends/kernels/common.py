"""Helpers shared by the kernel families."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def axis(dim: Any) -> Any:
    """A PyTorch `dim` (int, tuple, list or None) as a NumPy `axis`."""
    return tuple(dim) if isinstance(dim, list) else dim


def sigmoid(xp: Any, x: Any) -> Any:
    """1 / (1 + exp(-x)), PyTorch's own CPU formula: exact in the tail down to float32's
    exp overflow (sigmoid(-17) = 4.14e-8, sigmoid(-87) = 1.6e-38), then 0 as PyTorch gives; the
    0.5 * (1 + tanh(x / 2)) form cancels to 0 below -17. Half precision is computed in float32,
    as PyTorch does. The overflow of exp(-x) is expected: callers run it quietly."""
    if x.dtype == xp.float16:
        return sigmoid(xp, x.astype(xp.float32)).astype(xp.float16)
    t = xp.negative(x)
    if t.__class__ is not xp.ndarray:  # a 0-d input gives a NumPy scalar: no out=
        return xp.asarray(1.0 / (1.0 + xp.exp(t)), dtype=x.dtype)
    xp.exp(t, out=t)
    xp.add(t, 1.0, out=t)
    return xp.reciprocal(t, out=t)


def full_index(index: tuple) -> tuple:
    """`a[0, 1]` in NumPy yields a scalar copy; `a[0, 1, ...]` yields a 0-d view, as PyTorch."""
    return index if any(i is Ellipsis for i in index) else index + (Ellipsis,)


def vector_norm(xp: Any, x: Any, ord: float, axes: Any, keepdim: bool) -> Any:
    """The p-norm of `x` over `axes` (None: all): max/min of |x| for +-inf, the count of nonzeros
    for 0, and (sum |x|^p)^(1/p) otherwise (warnings for 0 ** negative p are PyTorch's silence)."""
    a = xp.abs(x)
    if ord == math.inf:
        return a.max(axis=axes, keepdims=keepdim)
    if ord == -math.inf:
        return a.min(axis=axes, keepdims=keepdim)
    if ord == 0:
        return (a != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype)
    if ord == 1:
        return a.sum(axis=axes, keepdims=keepdim)
    if ord == 2:
        return xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return (a ** ord).sum(axis=axes, keepdims=keepdim) ** (1.0 / ord)
