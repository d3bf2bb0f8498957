"""Helpers shared by the kernel families."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

try:  # NumPy >= 2 keeps its floating-point error state in a context variable
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
    _IGNORE = _make_extobj(all="ignore")
except ImportError:  # pragma: no cover - older NumPy: the public (slower) np.errstate
    _extobj_contextvar = None


def special_function(xp: Any, name: str, keep_dtype: bool = True) -> Callable:
    """`scipy.special.<name>` (CuPy's on the GPU), imported on the first call, since SciPy costs
    most of a second at import; where SciPy is missing, `math.<name>` per element (float64).
    With `keep_dtype` the result has the input's dtype (SciPy computes float16 in float32)."""
    found: list = []

    def resolve() -> Callable:
        try:
            if xp.__name__ == "numpy":
                import scipy.special as sp
            else:
                import cupyx.scipy.special as sp
            return getattr(sp, name)
        except ImportError:
            vec = np.vectorize(getattr(math, name), otypes=[np.float64])
            return lambda x: xp.asarray(vec(xp.asnumpy(x) if hasattr(xp, "asnumpy") else x))

    def fn(x: Any) -> Any:
        if not found:
            found.append(resolve())
        out = found[0](x)
        return out.astype(x.dtype, copy=False) if keep_dtype else out
    fn.__name__ = name
    return fn


def quiet(fn: Callable) -> Callable:
    """`fn` with NumPy's floating-point warnings (divide by zero, overflow, invalid) off for the
    duration of the call only: PyTorch returns inf/NaN silently where NumPy warns (log(0),
    sqrt(-1), 1/0, exp(1000)). The caller's own error state is untouched (the setting lives in
    a context variable, restored on return), so this costs two context-variable writes per call
    and nothing on kernels that are not wrapped. `fn` stays reachable as `__wrapped__`."""
    if _extobj_contextvar is None:  # pragma: no cover
        def run(*args: Any, **kwargs: Any) -> Any:
            with np.errstate(all="ignore"):
                return fn(*args, **kwargs)
    else:
        set_state, reset_state = _extobj_contextvar.set, _extobj_contextvar.reset

        def run(*args: Any, **kwargs: Any) -> Any:
            token = set_state(_IGNORE)
            try:
                return fn(*args, **kwargs)
            finally:
                reset_state(token)
    run.__wrapped__ = fn
    run.__name__ = getattr(fn, "__name__", "kernel")
    return run


def _call(fn: Callable, *args: Any) -> Any:
    return fn(*args)


quiet_call = quiet(_call)
quiet_call.__doc__ = "`fn(*args)` without NumPy's floating-point warnings (see `quiet`)."


def axis(dim: Any) -> Any:
    """A PyTorch `dim` (int, tuple, list or None) as a NumPy `axis`."""
    return tuple(dim) if isinstance(dim, list) else dim


def sigmoid(xp: Any, x: Any, out: Any = None) -> Any:
    """1 / (1 + exp(-x)), PyTorch's own CPU formula: exact in the tail down to float32's
    exp overflow (sigmoid(-17) = 4.14e-8, sigmoid(-87) = 1.6e-38), then 0 as PyTorch gives; the
    0.5 * (1 + tanh(x / 2)) form cancels to 0 below -17. Half precision is computed in float32,
    as PyTorch does. The overflow of exp(-x) is expected: callers run it quietly. `out`: an
    array of x's shape and dtype to write the result into (memory planning)."""
    if x.dtype == xp.float16:
        r = sigmoid(xp, x.astype(xp.float32)).astype(xp.float16)
        return r if out is None else _into(xp, out, r)
    t = xp.negative(x, out=out)
    if t.__class__ is not xp.ndarray:  # a 0-d input gives a NumPy scalar: no out=
        return xp.asarray(1.0 / (1.0 + xp.exp(t)), dtype=x.dtype)
    xp.exp(t, out=t)
    xp.add(t, 1.0, out=t)
    return xp.reciprocal(t, out=t)


def _into(xp: Any, out: Any, r: Any) -> Any:
    xp.copyto(out, r)
    return out


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
