"""Kernels of the special-function family (`ir/ops/special_math.py`): erf and erfc from SciPy
(CuPy's on the GPU) when installed, imported on first use, else `math.erf`/`math.erfc`
elementwise."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .common import special_function

# log(0), 0 * log(0) and 2 ** 1000 give inf/NaN silently in PyTorch: see kernels/__init__.
QUIET = frozenset({"logit", "xlogy", "ldexp", "sinc"})


def kernels(xp: Any) -> dict[str, Callable]:
    def sinc(x):
        px = x * x.dtype.type(math.pi)
        zero = px == 0
        return xp.where(zero, x.dtype.type(1), xp.sin(px) / xp.where(zero, x.dtype.type(1), px))

    def logit(x, eps=None):
        if eps is not None and eps >= 0:
            lo, hi = x.dtype.type(eps), x.dtype.type(1.0 - eps)
            x = xp.where(x < lo, lo, xp.where(x > hi, hi, x))
        return xp.log(x / (1 - x))

    def xlogy(x, y):
        out = xp.where(xp.asarray(x) == 0, 0, x * xp.log(y))
        return xp.where(xp.isnan(y), y, out).astype(xp.result_type(x, y), copy=False)

    def lcm(a, b):  # PyTorch's |a / gcd * b|: the product wraps first (NumPy's lcm takes abs first)
        g = xp.gcd(a, b)
        zero = g == 0
        return xp.where(zero, 0, xp.abs(a // xp.where(zero, 1, g) * b)).astype(
            xp.result_type(a, b), copy=False)

    return {"gcd": xp.gcd, "lcm": lcm, "erf": special_function(xp, "erf"),
            "erfc": special_function(xp, "erfc"),
            "deg2rad": xp.deg2rad, "rad2deg": xp.rad2deg, "sinc": sinc, "logit": logit,
            "xlogy": xlogy, "ldexp": lambda x, e: x * xp.exp2(e)}
