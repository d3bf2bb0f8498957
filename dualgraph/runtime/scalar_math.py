"""The functions the ops' scalar templates may call, as Numba compiles them for one element.

A template (`OpDef.template`, e.g. `"exp({0})"`, `"max({0}, 0)"`) is a Python expression over
one element of each operand, already in the op's compute dtype; generated kernels run
`from dualgraph.runtime.scalar_math import *` and compile the expression with Numba. The NumPy
functions keep their argument's dtype (float32 in, float32 out), so a float32 kernel computes in
float32 like eager; each result is cast to the op's result dtype when the kernel uses it. Python's own `max`, `min`, `abs` and `pow` and the
conditional expression are available too. `fast_*` are the vectorizable float32 approximations
(dualgraph/runtime/fastmath.py) that kernels use unless DUALGRAPH_EXACT_MATH=1.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .fastmath import fast_erf, fast_exp, fast_log, fast_tanh  # noqa: F401

exp, log, sqrt, tanh = np.exp, np.log, np.sqrt, np.tanh
erf, erfc = math.erf, math.erfc
sin, cos, tan = np.sin, np.cos, np.tan
asin, acos, atan = np.arcsin, np.arccos, np.arctan
sinh, cosh = np.sinh, np.cosh
asinh, acosh, atanh = np.arcsinh, np.arccosh, np.arctanh
log1p, expm1, log2, log10, exp2 = np.log1p, np.expm1, np.log2, np.log10, np.exp2
floor, ceil, trunc = np.floor, np.ceil, np.trunc
fmod, atan2, hypot, copysign = np.fmod, np.arctan2, np.hypot, np.copysign
isnan, isinf, isfinite = np.isnan, np.isinf, np.isfinite
sign = np.sign
gcd = np.gcd
round = np.rint  # noqa: A001 - PyTorch's round: half to even, a float result
maximum, minimum, fmax, fmin = np.maximum, np.minimum, np.fmax, np.fmin


@njit(inline="always")
def rsqrt(x):  # noqa: ANN001, ANN201 - Numba infers the types
    """1 / sqrt(x) (in float64 for a float32 x: the kernel rounds once when it stores)."""
    return 1.0 / np.sqrt(x)


@njit(inline="always")
def square(x):  # noqa: ANN001, ANN201
    return x * x


@njit(inline="always")
def frac(x):  # noqa: ANN001, ANN201
    """x - trunc(x), the fractional part with x's sign (PyTorch's frac)."""
    return x - np.trunc(x)


__all__ = [name for name in dir() if not name.startswith("_") and name not in (
    "annotations", "np", "njit", "math")]
