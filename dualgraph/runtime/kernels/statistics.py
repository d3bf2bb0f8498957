"""Kernels of the statistics family (see `ir/ops/statistics.py`): reductions, selections, scans.

Reduced dims arrive as PyTorch gives them (None, an int, a tuple); `None` and `()` mean every dim.
Where NumPy would warn for PyTorch's well-defined results (0/0 -> nan in `var` of one element,
log(0) -> -inf), the warning is silenced: the value is the documented answer.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .common import vector_norm

_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}


def _axes(dim: Any, ndim: int) -> tuple:
    """Reduced dims as a tuple of non-negative axes; `()` for a 0-d input. A dim out of range
    raises, so that the op's meta function explains it in PyTorch's words."""
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        _check_dim(d, ndim)
    return tuple(d % ndim for d in dims) if ndim else ()


def _check_dim(dim: Any, ndim: int) -> None:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"dim {dim} out of range")


def _count(shape: tuple, axes: tuple) -> int:
    return math.prod(shape[a] for a in axes)


# Reductions and scans over inf/NaN or overflowing values (cumsum of [inf, -inf]): NumPy warns,
# PyTorch is silent; see kernels/__init__.
QUIET = frozenset({'prod', 'dist', 'cumsum', 'cumprod', 'std', 'std_mean', 'var', 'var_mean', 'logsumexp', 'softmax', 'log_softmax'})


def kernels(xp: Any) -> dict[str, Callable]:
    def reduce_with(method: str):
        def kernel(x, dim=(), keepdim=False):
            return getattr(x, method)(axis=_axes(dim, x.ndim), keepdims=keepdim)
        return kernel

    def prod(x, dim=None, keepdim=False, dtype=None):
        return x.prod(axis=_axes(dim, x.ndim), keepdims=keepdim)

    def arg(pick):
        def kernel(x, dim=None, keepdim=False):
            if x.ndim == 0:
                _axes(dim, 0)
                return xp.zeros((), xp.int64)
            if dim is None:
                return pick(x.reshape(-1)).reshape((1,) * x.ndim if keepdim else ())
            return pick(x, axis=dim, keepdims=keepdim)
        return kernel

    def median_all(x):
        if x.size == 0:
            nan = np.nan if x.dtype.kind == "f" else np.iinfo(x.dtype).min
            return xp.asarray(nan, dtype=x.dtype)
        s = xp.sort(x.reshape(-1))  # NaNs sort last: if there is one, the median is nan
        mid = s[(s.size - 1) // 2]
        return xp.where(xp.isnan(s[-1]), s[-1], mid) if x.dtype.kind == "f" else mid

    def median(x, dim=-1, keepdim=False):
        _check_dim(dim, x.ndim)
        if x.ndim == 0:
            return x.copy(), xp.zeros((), xp.int64)
        n = x.shape[dim]
        if n == 0:
            raise IndexError("median over an empty dim")
        mid = [slice(None)] * x.ndim
        mid[dim] = slice((n - 1) // 2, (n - 1) // 2 + 1)
        # The stable order puts equal values in index order: the same index PyTorch returns.
        index = xp.argsort(x, axis=dim, kind="stable")[tuple(mid)]
        if x.dtype.kind == "f":
            nan = xp.isnan(x)
            index = xp.where(nan.any(axis=dim, keepdims=True),
                             xp.argmax(nan, axis=dim, keepdims=True), index)
        values = xp.take_along_axis(x, index, axis=dim)
        if not keepdim:
            values, index = xp.squeeze(values, dim), xp.squeeze(index, dim)
        return values, index

    def mode(x, dim=-1, keepdim=False):
        _check_dim(dim, x.ndim)
        if x.ndim == 0:
            return x.copy(), xp.zeros((), xp.int64)
        dim %= x.ndim
        moved = xp.moveaxis(x, dim, -1)
        lead, n = moved.shape[:-1], moved.shape[-1]
        rows = moved.reshape(-1, n)
        s = xp.sort(rows, axis=1)
        starts = xp.ones(s.shape, dtype=bool)
        starts[:, 1:] = s[:, 1:] != s[:, :-1]
        # Number the runs of equal values, globally across rows, and count each run's length.
        run = xp.cumsum(starts, axis=1) - 1 + (xp.arange(rows.shape[0]) * n)[:, None]
        counts = xp.bincount(run.reshape(-1), minlength=rows.size)[run]
        best = xp.take_along_axis(s, xp.argmax(counts, axis=1)[:, None], axis=1)
        last = n - 1 - xp.argmax((rows == best)[:, ::-1], axis=1)
        values, index = best[:, 0].reshape(lead), last.reshape(lead)
        if keepdim:
            values, index = xp.expand_dims(values, dim), xp.expand_dims(index, dim)
        return values, index

    def moments(x, dim, correction, keepdim):
        """(variance, mean) over `dim` with divisor N - correction (never below 0)."""
        axes = _axes(dim, x.ndim)
        n = _count(x.shape, axes)
        with np.errstate(**_QUIET):
            mean = x.sum(axis=axes, keepdims=True) / n
            centered = x - mean
            var = (centered * centered).sum(axis=axes, keepdims=keepdim) / max(0, n - correction)
        return var, (mean if keepdim else mean.reshape(var.shape))

    def var(x, dim=None, correction=1, keepdim=False):
        return moments(x, dim, correction, keepdim)[0]

    def std(x, dim=None, correction=1, keepdim=False):
        return xp.sqrt(var(x, dim, correction, keepdim))

    def var_mean(x, dim=None, correction=1, keepdim=False):
        return moments(x, dim, correction, keepdim)

    def std_mean(x, dim=None, correction=1, keepdim=False):
        v, mean = moments(x, dim, correction, keepdim)
        return xp.sqrt(v), mean

    def norm_over(x, ord, axes, keepdim):
        return vector_norm(xp, x, ord, axes, keepdim)

    def dist(a, b, p=2.0):
        d = a - b
        return norm_over(d, p, tuple(range(d.ndim)), False)

    def logsumexp(x, dim=None, keepdim=False):
        axes = _axes(dim, x.ndim)
        if _count(x.shape, axes) == 0:  # an empty sum: log(0)
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
            out = xp.full(shape, -math.inf, dtype=x.dtype)
            return out if keepdim else out.reshape([d for i, d in enumerate(shape)
                                                    if i not in axes])
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or an inf) along a slice: no shift
        with np.errstate(**_QUIET):
            out = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        return out if keepdim else out.reshape([d for i, d in enumerate(x.shape)
                                                if i not in axes])

    def scan(fn):
        def kernel(x, dim=None, dtype=None, reverse=False):
            if dim is None:
                raise TypeError("missing dim")
            _check_dim(dim, x.ndim)
            if x.ndim == 0:
                return x.copy()
            if reverse:
                return xp.ascontiguousarray(xp.flip(fn(xp.flip(x, dim), axis=dim), dim))
            return fn(x, axis=dim)
        return kernel

    def logical(fn):
        def kernel(x, dim=None, keepdim=False):
            out = fn(x, axis=_axes(dim, x.ndim), keepdims=keepdim)
            return out.astype(xp.uint8) if x.dtype == xp.uint8 else out  # PyTorch keeps uint8
        return kernel

    def softmax_parts(x, dim):
        m = x.max(axis=dim, keepdims=True)
        with np.errstate(**_QUIET):
            shifted = x - m  # the largest becomes 0: exp cannot overflow
            return shifted, xp.exp(shifted).sum(axis=dim, keepdims=True)

    def softmax(x, dim=None, dtype=None):
        _check_dim(dim, x.ndim)
        if x.ndim == 0 or x.size == 0:
            return xp.ones_like(x)
        shifted, total = softmax_parts(x, dim)
        with np.errstate(**_QUIET):
            return xp.exp(shifted) / total

    def log_softmax(x, dim=None, dtype=None):
        _check_dim(dim, x.ndim)
        if x.ndim == 0 or x.size == 0:
            return xp.zeros_like(x)
        shifted, total = softmax_parts(x, dim)
        with np.errstate(**_QUIET):
            return shifted - xp.log(total)

    def layer_norm(x, eps=1e-5):
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=-1, keepdims=True)
        return centered / xp.sqrt(var + eps)

    def rms_norm(x, eps=1e-6):
        return x / xp.sqrt((x * x).mean(axis=-1, keepdims=True) + eps)

    table = {"prod": prod, "amax": reduce_with("max"), "amin": reduce_with("min"),
             "max_all": lambda x: x.max(), "min_all": lambda x: x.min(),
             "argmax": arg(xp.argmax), "argmin": arg(xp.argmin), "median_all": median_all,
             "median": median, "mode": mode, "var": var, "std": std, "var_mean": var_mean,
             "std_mean": std_mean, "dist": dist,
             "logsumexp": logsumexp, "cumsum": scan(xp.cumsum), "cumprod": scan(xp.cumprod),
             "all": logical(xp.all), "any": logical(xp.any), "softmax": softmax,
             "log_softmax": log_softmax, "layer_norm": layer_norm, "rms_norm": rms_norm}
    if xp.__name__ == "numpy":  # the CPU runs the row-wise ops as one generated loop per row
        from ..row_kernels import row_kernel
        for name in ROW_WISE:
            table[name] = row_kernel(name, table[name])
    return table


# ops whose CPU kernel is their Rows loop
ROW_WISE = ("softmax", "log_softmax", "logsumexp", "layer_norm", "rms_norm")
