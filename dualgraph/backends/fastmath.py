"""Branch-free float32 exp, log, tanh and erf for Numba kernels that auto-vectorize.

Numba's wheels here ship without SVML, so ``math.exp`` in a loop stays a scalar libm call and
blocks the loop vectorizer.  These replacements are plain arithmetic (range reduction, a
polynomial, a bit-cast to build or split powers of two) with selects instead of branches, so a
``for i in range(n): out[i] = f(x[i])`` loop in an ``njit`` function vectorizes.

Method: each function widens its float32 argument to float64, evaluates the reduction and
polynomial in float64 (relative error ~1e-13 or better), and rounds once to float32.  The single
final rounding makes the float32 result faithful (worst error just over 0.5 ulp), including
gradual underflow into denormals, which float64 represents as normal numbers.  Edge values
(NaN, +-inf, +-0, overflow, underflow) match NumPy's float32 ``np.exp``/``np.log``/``np.tanh``
and ``math.erf`` rounded to float32.

``FAST_FLOAT32`` maps the math-function names used in scalar templates to the jitted functions.
(Generated kernels call libm instead when ``DUALGRAPH_EXACT_MATH=1``; that switch lives in the
code generator.)
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

__all__ = ["FAST_FLOAT32", "fast_exp", "fast_log", "fast_tanh", "fast_erf",
           "bitcast_i64_f64", "bitcast_f64_i64", "bitcast_i32_f32", "bitcast_f32_i32"]


# --- bit-casts (LLVM ``bitcast``: no memory traffic, no libm) -------------------------------

def _make_bitcast(src: types.Type, dst: types.Type, name: str):
    """Build an intrinsic reinterpreting the bits of a ``src`` scalar as a ``dst`` scalar."""

    def impl(typingctx, v):
        if v != src:
            return None
        sig = dst(src)

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(dst))

        return sig, codegen

    impl.__name__ = name
    return intrinsic(impl)


bitcast_i64_f64 = _make_bitcast(types.int64, types.float64, "bitcast_i64_f64")
bitcast_f64_i64 = _make_bitcast(types.float64, types.int64, "bitcast_f64_i64")
bitcast_i32_f32 = _make_bitcast(types.int32, types.float32, "bitcast_i32_f32")
bitcast_f32_i32 = _make_bitcast(types.float32, types.int32, "bitcast_f32_i32")

# Public functions are ordinary dispatchers compiled with the NumPy error model (no
# ZeroDivisionError branch around their divisions); LLVM inlines them into the caller's loop.
# Inlining them at the Numba-IR level instead (inline="always") would compile their divisions
# under the *caller's* error model, whose zero-check branch stops the loop from vectorizing.
# Division-free helpers are inlined at the Numba-IR level.
_jit = numba.njit(cache=False, fastmath=False, error_model="numpy")
_inline = numba.njit(inline="always", cache=False, fastmath=False, error_model="numpy")

_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding and subtracting rounds to an integer


@_inline
def _exp64(y: float) -> float:
    """exp(y) in float64 for y in [-110, 110] (callers clamp); relative error ~1e-15.

    Reduction y = k*ln2 + r with |r| <= ln2/2 (k by the 1.5*2**52 rounding trick), exp(r) by
    its Taylor polynomial to degree 11 (remainder < 6e-15 on |r| <= 0.347), 2**k by writing k
    into a float64's exponent field.
    """
    kf = (y * _LOG2E + _ROUND_MAGIC) - _ROUND_MAGIC
    r = y - kf * _LN2
    p = 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = bitcast_i64_f64((np.int64(kf) + np.int64(1023)) << np.int64(52))
    return p * scale


@_jit
def fast_exp(x: np.float32) -> np.float32:
    """float32 exp(x): NaN->NaN, +inf->inf, -inf->0, inf above ~88.72, gradual underflow."""
    xd = np.float64(x)
    yc = min(max(xd, -110.0), 110.0)        # exp(110) overflows float32, exp(-110) -> 0
    res = np.float32(_exp64(yc))
    return x if x != x else res


_SQRT2 = 1.4142135623730951


@_jit
def fast_log(x: np.float32) -> np.float32:
    """float32 log(x): log(0)=-inf, log(x<0)=NaN, log(inf)=inf, denormals exact-ish.

    x widened to float64 (denormals become normal), split into 2**e * m with m in
    [sqrt(1/2), sqrt(2)) from its bits; log(m) = 2*atanh(s), s = (m-1)/(m+1), by the odd series
    to s**13 (|s| <= 0.1716, remainder < 1e-12 relative).
    """
    xd = np.float64(x)
    pos = xd > 0.0
    xs = xd if pos else 1.0                 # keep the bit path finite; edges selected below
    xs = xs if xs != math.inf else 1.0
    bits = bitcast_f64_i64(xs)
    e = (bits >> np.int64(52)) - np.int64(1023)
    m = bitcast_i64_f64((bits & np.int64(0x000FFFFFFFFFFFFF)) | np.int64(0x3FF0000000000000))
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + np.int64(1) if big else e
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = 2.0 / 13.0
    p = p * z + 2.0 / 11.0
    p = p * z + 2.0 / 9.0
    p = p * z + 2.0 / 7.0
    p = p * z + 2.0 / 5.0
    p = p * z + 2.0 / 3.0
    p = p * z + 2.0
    res = np.float64(e) * _LN2 + s * p
    res = res if pos else (-math.inf if xd == 0.0 else math.nan)
    res = math.inf if xd == math.inf else res
    out = np.float32(res)
    return x if x != x else out


@_jit
def fast_tanh(x: np.float32) -> np.float32:
    """float32 tanh(x): keeps signed zero, tanh(+-inf)=+-1, tiny x -> x, NaN->NaN.

    |x| < 0.01: odd Taylor polynomial to x**7 (remainder < 3e-20 relative).  Otherwise
    1 - 2/(exp(2|x|)+1) in float64 with |x| clamped to 20 (tanh(20) is 1 in float32), sign
    restored by a select.
    """
    xd = np.float64(x)
    a = abs(xd)
    ac = min(a, 20.0)
    big = 1.0 - 2.0 / (_exp64(2.0 * ac) + 1.0)
    big = -big if xd < 0.0 else big
    z = xd * xd
    small = xd * (1.0 + z * (-1.0 / 3.0 + z * (2.0 / 15.0 + z * (-17.0 / 315.0))))
    res = small if a < 0.01 else big
    out = np.float32(res)
    return x if x != x else out


# erf on [1, 4]: Chebyshev least-squares fit of math.erf (numpy.polynomial.Chebyshev.fit, degree
# 22, 40001 Chebyshev-spaced points) converted to the power basis in t = (|x| - 2.5) / 1.5;
# max abs error of the Horner evaluation 7.4e-14 (measured against math.erf).
_ERF_HI = (0.9995930479825607, 0.0032674263471819467, -0.012252848797324419,
           0.02818155208386762, -0.04365077375735957, 0.046453616828305164,
           -0.03187655342803142, 0.009267538030552077, 0.006680706193335398,
           -0.00962149854561582, 0.004543994609373811, 0.000443048167023056,
           -0.0018265008706985673, 0.0009163836149660065, 5.211536188733099e-05,
           -0.00028682871760057893, 0.00011915556064444024, 2.4730317172631866e-05,
           -3.678045168156108e-05, 4.705369454477314e-06, 5.117864966342555e-06,
           -1.0776788599948027e-06, -2.9150143908036084e-07)

# erf on [0, 1]: Maclaurin series erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)),
# n = 0..13 (remainder < 6e-12 relative at x = 1); coefficients of x*P(x^2).
_ERF_LO = tuple(2.0 / math.sqrt(math.pi) * (-1.0) ** n / (math.factorial(n) * (2 * n + 1))
                for n in range(14))


def _horner_source(name: str, coefs: tuple, var: str) -> str:
    """Source of a function evaluating sum(coefs[i] * var**i) by Horner's rule, unrolled."""
    lines = [f"def {name}({var}):", f"    p = {coefs[-1]!r}"]
    lines += [f"    p = p * {var} + {c!r}" for c in reversed(coefs[:-1])]
    lines.append("    return p")
    return "\n".join(lines)


def _unrolled(name: str, coefs: tuple):
    """Compile a fully unrolled Horner evaluation of the power-basis polynomial ``coefs``."""
    ns: dict = {}
    exec(compile(_horner_source(name, coefs, "t"), f"<fastmath {name}>", "exec"), ns)
    return _inline(ns[name])


_erf_hi_poly = _unrolled("_erf_hi_poly", _ERF_HI)
_erf_lo_poly = _unrolled("_erf_lo_poly", _ERF_LO)


@_inline  # division-free; too large for LLVM's inliner, so inlined at the Numba-IR level
def fast_erf(x: np.float32) -> np.float32:
    """float32 erf(x): erf(+-0)=+-0, erf(+-inf)=+-1, NaN->NaN, tiny x -> 2x/sqrt(pi).

    |x| <= 1: x times the Maclaurin polynomial in x**2; 1 < |x| < 4: Chebyshev fit of erf;
    |x| >= 4: 1 (erf(4) = 1 - 1.5e-8 rounds to 1 in float32).  Sign restored by a select.
    """
    xd = np.float64(x)
    a = abs(xd)
    lo = xd * _erf_lo_poly(min(a, 1.0) * min(a, 1.0))
    ac = min(max(a, 1.0), 4.0)
    hi = _erf_hi_poly((ac - 2.5) * 0.6666666666666666)
    hi = 1.0 if a >= 4.0 else hi
    hi = -hi if xd < 0.0 else hi
    res = lo if a <= 1.0 else hi
    out = np.float32(res)
    return x if x != x else out


FAST_FLOAT32: dict = {
    "exp": fast_exp,
    "log": fast_log,
    "tanh": fast_tanh,
    "erf": fast_erf,
}
"""Math-function name in scalar templates -> jitted branch-free float32 implementation."""
