"""Elementwise kernels: arithmetic, unary math, comparisons."""

from __future__ import annotations

from typing import Any, Callable

from .common import sigmoid as stable_sigmoid


# Kernels whose float results may be inf/NaN (1/0, log(0), sqrt(-1), exp(1000), sin(inf)): run
# without NumPy's warnings (see kernels/__init__). add, sub and mul warn only for inf - inf,
# 0 * inf or overflow at the float range's end; they stay bare, the eager hot path's cost.
QUIET = frozenset({'div', 'pow', 'reciprocal', 'exp', 'log', 'sqrt', 'sin', 'cos', 'sigmoid'})


def kernels(xp: Any) -> dict[str, Callable]:
    def add(a, b, alpha=1):
        return xp.add(a, b) if alpha == 1 else xp.add(a, xp.multiply(b, alpha))

    def sub(a, b, alpha=1):
        return xp.subtract(a, b) if alpha == 1 else xp.subtract(a, xp.multiply(b, alpha))

    def div(a, b, rounding_mode=None):
        if rounding_mode is None:
            return xp.true_divide(a, b)
        from .math import rounded_divide
        return rounded_divide(xp, a, b, rounding_mode, "div")

    def sigmoid(x):
        return stable_sigmoid(xp, x)

    def relu(x):
        # PyTorch's clamp_min(x, 0): x unless x < 0, so -0.0 stays -0.0 and NaN stays NaN
        return xp.where(x < 0, x.dtype.type(0), x)

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
