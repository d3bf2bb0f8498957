"""Kernels of the activation ops (`ir/ops/activations.py`), written against `xp`."""

from __future__ import annotations

import math
from typing import Any, Callable

from .common import sigmoid as stable_sigmoid, special_function

_SQRT_2_PI = math.sqrt(2.0 / math.pi)


# Activations of inf/NaN inputs (NumPy warns, PyTorch is silent): see kernels/__init__.
QUIET = frozenset({'gelu', 'gelu_backward', 'silu', 'softplus', 'elu', 'log_sigmoid'})


def kernels(xp: Any) -> dict[str, Callable]:
    erf = special_function(xp, "erf", keep_dtype=False)

    def gelu(x, approximate="none"):
        if approximate == "tanh":
            inner = (x + 0.044715 * x * x * x) * _SQRT_2_PI
            return (0.5 * x * (1.0 + xp.tanh(inner))).astype(x.dtype, copy=False)
        return (x * 0.5 * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))).astype(x.dtype, copy=False)

    def gelu_backward(g, x, approximate="none"):
        if approximate == "tanh":
            t = xp.tanh((x + 0.044715 * x * x * x) * _SQRT_2_PI)
            d_inner = _SQRT_2_PI * (1.0 + 3 * 0.044715 * x * x)
            d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner
        else:
            cdf = 0.5 * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))
            d = cdf + x * xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
        return (g * d).astype(xp.result_type(g, x), copy=False)

    def silu(x):
        return (x * stable_sigmoid(xp, x)).astype(x.dtype, copy=False)

    def softplus(x, beta=1.0, threshold=20.0):
        z = x * beta
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(z > threshold, x, soft).astype(x.dtype, copy=False)

    def leaky_relu(x, negative_slope=0.01):
        return xp.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)

    def elu(x, alpha=1.0):
        return xp.where(x > 0, x, xp.expm1(xp.minimum(x, 0)) * alpha).astype(x.dtype, copy=False)

    def log_sigmoid(x):
        return (xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))).astype(x.dtype, copy=False)

    table = {"gelu": gelu, "gelu_backward": gelu_backward, "silu": silu, "softplus": softplus,
             "leaky_relu": leaky_relu, "elu": elu, "log_sigmoid": log_sigmoid}
    if xp.__name__ == "numpy":  # the CPU runs the composite ones as one generated loop each
        from ..fusion import eager_kernel
        for name in GENERATED:
            table[name] = eager_kernel(name, table[name])
    return table


GENERATED = ("gelu", "gelu_backward", "silu", "softplus", "leaky_relu", "elu", "log_sigmoid")
# ^ ops whose CPU kernel is their template's loop
