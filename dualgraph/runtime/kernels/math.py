"""Kernels of the math family (`ir/ops/math.py`): unary math, rounding, remainders, clamping,
selection, logical and bitwise ops, NaN tests, lerp, addcmul/addcdiv and addmm.

Inputs arrive cast to the op's compute dtype; a Python scalar beside an array is turned into a
0-d array of that dtype first (`scalar_like`), so integer scalars wrap as PyTorch's do instead of
NumPy 2's OverflowError, and every kernel returns exactly the op's result dtype.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...ir.types import result_type


def _is_array(x: Any) -> bool:
    return hasattr(x, "dtype") and hasattr(x, "shape")


def scalar_like(xp: Any, s: Any, like: Any) -> Any:
    """`s` as a 0-d array of `like`'s dtype when `s` is a Python scalar and `like` an array."""
    if _is_array(s) or not _is_array(like):
        return s
    return xp.asarray(s).astype(like.dtype)


def _pair(xp: Any, a: Any, b: Any) -> tuple:
    return scalar_like(xp, a, b), scalar_like(xp, b, a)


def _integer(a: Any, b: Any) -> bool:
    return (a if _is_array(a) else b).dtype.kind in "biu"


def check_divisor(xp: Any, b: Any, op_name: str) -> None:
    """Integer division by zero raises in PyTorch (NumPy would warn and give 0)."""
    if bool((b == 0).any() if _is_array(b) else b == 0):
        raise RuntimeError(f"{op_name}(): ZeroDivisionError")


def rounded_divide(xp: Any, a: Any, b: Any, mode: str, op_name: str = "div") -> Any:
    """`div(a, b, rounding_mode=mode)`: the quotient rounded down ("floor") or toward zero."""
    a, b = _pair(xp, a, b)
    if not _integer(a, b):
        if mode == "floor":
            return xp.floor_divide(a, b)  # Python's floor division, as PyTorch's
        return xp.trunc(xp.true_divide(a, b))
    check_divisor(xp, b, op_name)
    q = xp.floor_divide(a, b)
    if mode == "trunc":
        # Floor and truncation differ where the exact quotient is negative and not whole.
        q = q + ((a - q * b != 0) & ((a < 0) != (b < 0)))
    return q


# Kernels whose float results may be inf/NaN where NumPy warns and PyTorch is silent
# (acos(2), atanh(1), log2(0), exp2(1000) ...): see kernels/__init__.
QUIET = frozenset({'acos', 'acosh', 'asin', 'atanh', 'cosh', 'sinh', 'exp2', 'expm1', 'fmod', 'remainder', 'frac', 'hypot', 'lerp', 'log10', 'log1p', 'log2', 'rsqrt', 'square', 'tan', 'addcdiv', 'addcmul', 'addmm'})

# Kernels that accept `out=` (see elementwise.OUT): the ufuncs, and addmm (matmul into `out`).
OUT = frozenset({'log1p', 'expm1', 'log2', 'log10', 'exp2', 'tan', 'asin', 'acos', 'atan',
                 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'square', 'addmm'})


def kernels(xp: Any) -> dict[str, Callable]:
    table: dict[str, Callable] = {}
    table.update(_unary_kernels(xp))
    table.update(_binary_kernels(xp))
    table.update(_selection_kernels(xp))
    table.update(_composite_kernels(xp))
    return table


def _unary_kernels(xp: Any) -> dict[str, Callable]:
    def keep_ints(fn):
        """Rounding an integer tensor is a copy (PyTorch keeps the dtype)."""
        return lambda x: fn(x) if x.dtype.kind == "f" else x.copy()

    def round_(x, decimals=0):
        if x.dtype.kind != "f":
            return x.copy()
        if not decimals:
            return xp.rint(x)  # half to even
        scale = 10.0 ** abs(decimals)  # a Python float: the product stays in x's dtype
        return xp.rint(x * scale) / scale if decimals > 0 else xp.rint(x / scale) * scale

    def float_test(fn, default: bool):
        """NaN/inf tests: integers and bools are never NaN or infinite."""
        return lambda x: fn(x) if x.dtype.kind == "f" else xp.full(x.shape, default, dtype=bool)

    def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
        out = x.copy()
        if x.dtype.kind != "f":
            return out
        info = xp.finfo(x.dtype)
        out[xp.isnan(x)] = nan
        out[x == xp.inf] = info.max if posinf is None else posinf
        out[x == -xp.inf] = info.min if neginf is None else neginf
        return out

    return {
        "rsqrt": lambda x: xp.reciprocal(xp.sqrt(x)), "log1p": xp.log1p, "expm1": xp.expm1,
        "log2": xp.log2, "log10": xp.log10, "exp2": xp.exp2, "tan": xp.tan,
        "asin": xp.arcsin, "acos": xp.arccos, "atan": xp.arctan, "sinh": xp.sinh,
        "cosh": xp.cosh, "asinh": xp.arcsinh, "acosh": xp.arccosh, "atanh": xp.arctanh,
        "square": xp.square,
        "ceil": keep_ints(xp.ceil), "floor": keep_ints(xp.floor), "trunc": keep_ints(xp.trunc),
        "frac": lambda x: x - xp.trunc(x), "round": round_,
        "isnan": float_test(xp.isnan, False), "isinf": float_test(xp.isinf, False),
        "isfinite": float_test(xp.isfinite, True),
        "isposinf": float_test(lambda x: x == xp.inf, False),
        "isneginf": float_test(lambda x: x == -xp.inf, False),
        "nan_to_num": nan_to_num, "logical_not": xp.logical_not, "bitwise_not": xp.invert,
    }


def _binary_kernels(xp: Any) -> dict[str, Callable]:
    def paired(fn):
        return lambda a, b: fn(*_pair(xp, a, b))

    def fmod(a, b):
        a, b = _pair(xp, a, b)
        if _integer(a, b):
            check_divisor(xp, b, "fmod")
        return xp.fmod(a, b)

    def remainder(a, b):
        a, b = _pair(xp, a, b)
        if _integer(a, b):
            check_divisor(xp, b, "remainder")
            return xp.remainder(a, b)  # NumPy's integer remainder follows Python's sign rule
        mod = xp.fmod(a, b)
        # Python's sign rule: a nonzero remainder takes the divisor's sign (-0.0 stays -0.0).
        return xp.where((mod != 0) & ((mod < 0) != (b < 0)), mod + b, mod)

    def first_on_ties(fn):
        """Equal floats (-0.0 and 0.0) give the first input, as PyTorch (NumPy gives the
        second)."""
        def pick(a, b):
            a, b = _pair(xp, a, b)
            out = fn(a, b)
            return xp.where(a == b, a, out) if out.dtype.kind == "f" else out
        return pick

    def keep_x_on_ties(fn):
        """clamp_min/clamp_max with a tensor bound: x where x equals the bound (-0.0 against 0
        stays -0.0, as PyTorch's), NaN from either side."""
        def clamp(x, bound):
            x, bound = _pair(xp, x, bound)
            out = fn(x, bound)
            return xp.where(x == bound, x, out) if out.dtype.kind == "f" else out
        return clamp

    table = {"fmod": fmod, "remainder": remainder}
    for name, fn in (("maximum", xp.maximum), ("minimum", xp.minimum), ("fmax", xp.fmax),
                     ("fmin", xp.fmin)):
        table[name] = first_on_ties(fn)
    for name, fn in (("atan2", xp.arctan2), ("hypot", xp.hypot), ("copysign", xp.copysign),
                     ("clamp_min", keep_x_on_ties(xp.maximum)),
                     ("clamp_max", keep_x_on_ties(xp.minimum)),
                     ("logical_and", xp.logical_and), ("logical_or", xp.logical_or),
                     ("logical_xor", xp.logical_xor), ("bitwise_and", xp.bitwise_and),
                     ("bitwise_or", xp.bitwise_or), ("bitwise_xor", xp.bitwise_xor)):
        table[name] = paired(fn)
    return table


def _selection_kernels(xp: Any) -> dict[str, Callable]:
    def clamp(x, min=None, max=None):
        # PyTorch's vectorized clamp: max(min, x) then min(max, .) returning x unless it is
        # beyond a bound, so x equal to a bound (-0.0 against 0) and NaN x pass unchanged.
        if min is not None:
            x = xp.where(x < min, scalar_like(xp, min, x), x)
        if max is not None:
            x = xp.where(x > max, scalar_like(xp, max, x), x)
        return x

    def clamp_tensor(x, lo, hi):
        # max(x, min) then min(., max): where min > max the result is max, as in PyTorch; a NaN
        # bound gives NaN, and x equal to a bound is x itself (-0.0 stays -0.0).
        lo, hi = scalar_like(xp, lo, x), scalar_like(xp, hi, x)
        t = xp.maximum(x, lo)
        if t.dtype.kind == "f":
            t = xp.where(x == lo, x, t)
        out = xp.minimum(t, hi)
        return xp.where(t == hi, t, out) if out.dtype.kind == "f" else out

    def where(cond, a, b):
        if cond.dtype != bool:
            cond = cond.astype(bool)  # a (deprecated) uint8 condition
        if not _is_array(a) and not _is_array(b):
            dtype = result_type([a, b]).np  # two scalars: the dtype PyTorch gives them
            a, b = xp.asarray(a).astype(dtype), xp.asarray(b).astype(dtype)
        return xp.where(cond, *_pair(xp, a, b))

    return {"clamp": clamp, "clamp_tensor": clamp_tensor, "where": where}


def _composite_kernels(xp: Any) -> dict[str, Callable]:
    def like_dtype(value, array):
        """A scalar multiplier cast as PyTorch casts it: truncated for integer tensors."""
        return int(value) if array.dtype.kind in "biu" else value

    def lerp(a, b, w):
        diff = b - a
        # Interpolate from the nearer end, so that w = 0 gives a and w = 1 gives b exactly.
        if not _is_array(w):
            return a + w * diff if abs(w) < 0.5 else b - diff * (1 - w)
        return xp.where(xp.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))

    def addcmul(x, t1, t2, value=1):
        prod = xp.multiply(t1, t2)
        if value != 1:
            prod = xp.multiply(prod, like_dtype(value, prod))
        return xp.add(x, prod)

    def addcdiv(x, t1, t2, value=1):
        if value != 1:
            t1 = xp.multiply(t1, like_dtype(value, t1))
        return xp.add(x, xp.true_divide(t1, t2))

    def addmm(x, m1, m2, beta=1, alpha=1, out=None):
        # The eager runtime runs the shape rule only when a kernel fails: fail where NumPy's
        # matmul and broadcasting would accept what addmm refuses (1-D matrices, a 3-D input).
        if m1.ndim != 2 or m2.ndim != 2 or x.ndim > 2:
            raise ValueError("addmm expects 2-D matrices and an input of at most 2 dims")
        beta, alpha = like_dtype(beta, m1), like_dtype(alpha, m1)
        prod = xp.matmul(m1, m2, out=out)
        if alpha != 1:
            prod = xp.multiply(prod, alpha, out=out)
        if np.broadcast_shapes(x.shape, prod.shape) != prod.shape:
            raise ValueError("addmm: the input does not broadcast to the product's shape")
        if beta == 0:
            return prod  # beta = 0 ignores the input, NaNs included
        return xp.add(prod, x if beta == 1 else x * beta, out=out)

    return {"lerp": lerp, "addcmul": addcmul, "addcdiv": addcdiv, "addmm": addmm}
