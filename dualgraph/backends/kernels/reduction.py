"""Reduction kernels (`sum`, `mean`) and `matmul`."""

from __future__ import annotations

from typing import Any, Callable

from .common import axis


def kernels(xp: Any) -> dict[str, Callable]:
    def reduce_sum(x, dim=None, keepdim=False, dtype=None):
        return x.sum(axis=axis(dim), keepdims=keepdim)

    def reduce_mean(x, dim=None, keepdim=False, dtype=None):
        return x.mean(axis=axis(dim), keepdims=keepdim)

    return {"sum": reduce_sum, "mean": reduce_mean, "matmul": xp.matmul}


def plain(xp: Any) -> dict[str, Callable]:
    return {"sum": xp.ndarray.sum, "mean": xp.ndarray.mean}
