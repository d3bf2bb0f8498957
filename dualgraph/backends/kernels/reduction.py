"""Reduction kernels (`sum`, `mean`) and `matmul`."""

from __future__ import annotations

from typing import Any, Callable

from .common import axis


def kernels(xp: Any) -> dict[str, Callable]:
    def reduce_sum(x, dim=None, keepdim=False, dtype=None):
        return x.sum(axis=axis(dim), keepdims=keepdim)

    def reduce_mean(x, dim=None, keepdim=False, dtype=None):
        return x.mean(axis=axis(dim), keepdims=keepdim)

    def select(pick):
        def kernel(x, dim=0, keepdim=False):
            idx = xp.expand_dims(pick(x, axis=dim), dim)
            values = xp.take_along_axis(x, idx, axis=dim)
            if not keepdim:
                values, idx = xp.squeeze(values, dim), xp.squeeze(idx, dim)
            return values, idx.astype(xp.int64)
        return kernel

    return {"sum": reduce_sum, "mean": reduce_mean, "matmul": xp.matmul,
            "max": select(xp.argmax), "min": select(xp.argmin)}


def plain(xp: Any) -> dict[str, Callable]:
    return {"sum": xp.ndarray.sum, "mean": xp.ndarray.mean}
