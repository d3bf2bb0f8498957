"""Reduction kernels (`sum`, `mean`) and `matmul`."""

from __future__ import annotations

from typing import Any, Callable

from .common import axis


# The mean of nothing is NaN (0/0) and products of large values overflow, silently as in
# PyTorch: see kernels/__init__. `sum` stays bare (it warns only for inf - inf).
QUIET = frozenset({'mean', 'matmul'})

# Kernels that accept `out=` (see elementwise.OUT).
OUT = frozenset({'matmul'})


def kernels(xp: Any) -> dict[str, Callable]:
    def reduce_sum(x, dim=None, keepdim=False, dtype=None):
        return x.sum(axis=axis(dim), keepdims=keepdim)

    def reduce_mean(x, dim=None, keepdim=False, dtype=None):
        if x.size:
            return x.mean(axis=axis(dim), keepdims=keepdim)
        # the mean of nothing is 0/0 = NaN, silently (NumPy's mean warns "Mean of empty slice")
        total = x.sum(axis=axis(dim), keepdims=keepdim)
        return xp.true_divide(total, 0 if total.size else 1)

    def select(pick):
        def kernel(x, dim=0, keepdim=False):
            if x.ndim == 0:  # PyTorch: max(0) of a 0-d tensor is (the value, index 0)
                if dim not in (0, -1):
                    raise IndexError("dim out of range")  # the meta function explains
                return x.copy(), xp.zeros((), xp.int64)
            idx = xp.expand_dims(pick(x, axis=dim), dim)
            values = xp.take_along_axis(x, idx, axis=dim)
            if not keepdim:
                values, idx = xp.squeeze(values, dim), xp.squeeze(idx, dim)
            return values, idx.astype(xp.int64)
        return kernel

    return {"sum": reduce_sum, "mean": reduce_mean, "matmul": xp.matmul,
            "max": select(xp.argmax), "min": select(xp.argmin)}


def plain(xp: Any) -> dict[str, Callable]:
    def mean(x):
        return x.mean() if x.size else xp.true_divide(x.sum(), 0)

    return {"sum": xp.ndarray.sum, "mean": mean}
