"""Elementwise kernels: arithmetic, unary math, comparisons."""

from __future__ import annotations

from typing import Any, Callable

from .common import sigmoid as stable_sigmoid


# Kernels whose float results may be inf/NaN (1/0, log(0), sqrt(-1), exp(1000), sin(inf)): run
# without NumPy's warnings (see kernels/__init__). add, sub and mul warn only for inf - inf,
# 0 * inf or overflow at the float range's end; they stay bare, the eager hot path's cost.
QUIET = frozenset({'div', 'pow', 'reciprocal', 'exp', 'log', 'sqrt', 'sin', 'cos', 'sigmoid'})

# Kernels (and their `plain` forms) that accept `out=`: a C-contiguous array of the result's
# shape and dtype that they fill and return; memory planning (passes/memory.py) hands them
# planned buffers. Every NumPy ufunc does; the wrappers below pass `out` to their last ufunc.
OUT = frozenset({'add', 'sub', 'mul', 'div', 'pow', 'neg', 'reciprocal', 'exp', 'log', 'sqrt',
                 'tanh', 'sigmoid', 'sin', 'cos', 'sign', 'abs', 'relu',
                 'eq', 'ne', 'lt', 'le', 'gt', 'ge'})

# Bytes per output element of the temporary a kernel allocates while it runs (relu's mask of
# negative elements), counted by memory planning at the node that runs it.
WORKSPACE = {'relu': 1}


def kernels(xp: Any) -> dict[str, Callable]:
    def add(a, b, alpha=1, out=None):
        return xp.add(a, b if alpha == 1 else xp.multiply(b, alpha), out=out)

    def sub(a, b, alpha=1, out=None):
        return xp.subtract(a, b if alpha == 1 else xp.multiply(b, alpha), out=out)

    def div(a, b, rounding_mode=None, out=None):
        if rounding_mode is None:
            return xp.true_divide(a, b, out=out)
        from .math import rounded_divide
        r = rounded_divide(xp, a, b, rounding_mode, "div")
        if out is None:
            return r
        xp.copyto(out, r)
        return out

    def sigmoid(x, out=None):
        return stable_sigmoid(xp, x, out)

    def relu(x, out=None):
        # PyTorch's clamp_min(x, 0): x unless x < 0, so -0.0 stays -0.0 and NaN stays NaN
        # (np.maximum may turn -0.0 into 0.0: its SIMD loops do for float16)
        zero = x.dtype.type(0)
        if out is None:
            return xp.where(x < 0, zero, x)
        negative = x < 0
        xp.copyto(out, x)
        xp.putmask(out, negative, zero)  # faster than copyto(where=), as fast as where
        return out

    return {
        "add": add, "sub": sub, "mul": xp.multiply, "div": div, "pow": xp.power,
        "neg": xp.negative, "reciprocal": xp.reciprocal, "exp": xp.exp, "log": xp.log,
        "sqrt": xp.sqrt, "tanh": xp.tanh, "sigmoid": sigmoid, "sin": xp.sin, "cos": xp.cos,
        "sign": xp.sign, "abs": xp.abs, "relu": relu,
        "eq": xp.equal, "ne": xp.not_equal, "lt": xp.less, "le": xp.less_equal,
        "gt": xp.greater, "ge": xp.greater_equal,
    }


def plain(xp: Any) -> dict[str, Callable]:
    return {"add": xp.add, "sub": xp.subtract, "div": xp.true_divide}
