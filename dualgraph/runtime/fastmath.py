"""Branch-free float32 exp, log, tanh and erf for Numba kernels that auto-vectorize.

Numba's wheels here ship without SVML, so ``math.exp`` in a loop stays a scalar libm call and
blocks the loop vectorizer.  These replacements are plain arithmetic (range reduction, a
polynomial, a bit-cast to build or split powers of two) with selects instead of branches, so a
``for i in range(n): out[i] = f(x[i])`` loop in an ``njit`` function vectorizes.

Method: exp and erf work in float32 throughout (eight lanes per AVX2 instruction).  exp is a
Cody-Waite reduction with fused multiply-adds, a degree-5 polynomial and an exactly rounded
``1 + r`` (worst error 0.78 ulp over all float32); erf is an odd polynomial near zero and
``1 - poly`` beyond 1, one Horner evaluation with per-element coefficients (worst 1.12 ulp).
log and tanh widen their float32 argument to float64, evaluate the reduction and polynomial in float64 (relative error ~1e-13 or better) and
round once to float32, which makes them faithful (worst error just over 0.5 ulp), including
gradual underflow into denormals, which float64 represents as normal numbers.  Edge values (NaN,
+-inf, +-0, overflow, underflow) match NumPy's float32 ``np.exp``/``np.log``/``np.tanh`` and
``math.erf`` rounded to float32.  The errors are measured against float64 over every float32
exponent by tests/test_fastmath.py.

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

__all__ = ["FAST_FLOAT32", "fma32", "fast_exp", "fast_log", "fast_tanh", "fast_erf",
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


@intrinsic
def fma32(typingctx, a, b, c):
    """a * b + c in float32 with one rounding (LLVM ``fma``: one instruction with FMA3)."""
    if not (a == b == c == types.float32):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float32(types.float32, types.float32, types.float32), codegen


_F32 = np.float32
_LOG2E_F = _F32(_LOG2E)
_ROUND_MAGIC_F = _F32(12582912.0)           # 1.5 * 2**23
_LN2_HI_F = _F32(_LN2)                      # ln 2 = _LN2_HI_F + _LN2_LO_F to ~2**-50
_LN2_LO_F = _F32(_LN2 - float(_LN2_HI_F))
# (exp(r) - 1 - r) / r**2 on |r| <= ln2/2: least-squares Chebyshev fit, degree 5, coefficients
# rounded to float32; the exp it gives has relative error 7.4e-10 (0.006 ulp) before rounding.
_EXP_P = tuple(_F32(c) for c in (0.5, 0.1666666716337204, 0.041666463017463684,
                                  0.0083332983776927, 0.001393373473547399,
                                  0.00019899393373634666))
_EXP_LO_F, _EXP_HI_F = _F32(-104.0), _F32(89.0)  # exp(-104) rounds to 0, exp(89) overflows
_ONE_F = _F32(1.0)
_BIAS_F = np.int32(127)
_MANT_F = np.int32(23)


@_inline
def _pow2_f32(k: np.int32) -> np.float32:
    """2**k as a float32 for -126 <= k <= 127, written straight into the exponent field."""
    return bitcast_i32_f32(np.int32((k + _BIAS_F) << _MANT_F))


@_inline
def fast_exp(x: np.float32) -> np.float32:
    """float32 exp(x) computed in float32: NaN->NaN, +inf->inf, -inf->0, gradual underflow.

    x = k*ln2 + r with |r| <= ln2/2 (k by the 1.5*2**23 rounding trick, r by two FMAs against
    a two-part ln 2, exact to ~2**-50), exp(r) = 1 + r + r**2 * P(r) with the sum 1 + r kept
    exact by Fast2Sum, then 2**k applied as two power-of-two factors so that k in [-150, 128]
    needs no special case (overflow to inf and rounding into denormals happen in the last
    multiply, once).  Worst error over all float32 inputs: 0.78 ulp, just below the denormal
    boundary (benchmarks/fastmath_accuracy.py).
    """
    c0, c1, c2, c3, c4, c5 = _EXP_P
    xc = min(max(x, _EXP_LO_F), _EXP_HI_F)
    kf = (xc * _LOG2E_F + _ROUND_MAGIC_F) - _ROUND_MAGIC_F
    r = fma32(kf, -_LN2_HI_F, xc)
    r = fma32(kf, -_LN2_LO_F, r)
    p = fma32(fma32(fma32(fma32(fma32(c5, r, c4), r, c3), r, c2), r, c1), r, c0)
    t = _ONE_F + r
    y = t + (((_ONE_F - t) + r) + r * r * p)
    k = np.int32(kf)
    half = k >> np.int32(1)
    res = y * _pow2_f32(half) * _pow2_f32(np.int32(k - half))
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


# erf in float32, as one polynomial whose coefficients are chosen per element (a select, so
# the loop vectorizes with a single Horner evaluation instead of two).  |x| <= 1:
# erf(x) = x + x * S(x**2), S a least-squares Chebyshev fit of erf(x)/x - 1 (degree 8 in x**2;
# writing the leading 2/sqrt(pi) as 1 + 0.128... keeps its rounding error out of the result),
# padded with zeros.  1 < |x| < 4: erf(x) = 1 - E(|x| - 2.5), E a degree-14 fit of erfc
# (absolute error 1.0e-8, a sixth of an ulp of erf there).  |x| >= 4: 1 (erfc(4) = 1.5e-8).
# Fits: numpy.polynomial.Chebyshev.fit on 40001 Chebyshev-spaced points, converted to the power
# basis, rounded to float32.
_ERF_SMALL = (0.12837916612625122, -0.37612637877464294, 0.11283791065216064,
              -0.026866134256124496, 0.005223785061389208, -0.0008542670402675867,
              0.00011956944945268333, -1.3911689165979624e-05, 1.0595246067168773e-06)
_ERFC_BIG = (0.0004069523711223155, -0.002178184688091278, 0.005445688497275114,
             -0.008351769298315048, 0.008622604422271252, -0.006109109614044428,
             0.002797554712742567, -0.0005603603203780949, -0.0002587301132734865,
             0.0002706183586269617, -8.110047929221764e-05, -1.7760299670044333e-05,
             1.5719271686975844e-05, -4.985578243577038e-07, -8.901373007574875e-07)
_ERF_SPLIT, _ERF_MID, _ERF_ONE_AT = _F32(1.0), _F32(2.5), _F32(4.0)


def _select_horner_f32_source(name: str, first: tuple, second: tuple) -> str:
    """Source of a float32 function (v, use_first) evaluating by FMA Horner the polynomial whose
    coefficients are `first`'s where use_first, else `second`'s (the shorter padded with 0)."""
    n = max(len(first), len(second))
    a, b = first + (0.0,) * (n - len(first)), second + (0.0,) * (n - len(second))

    def coef(k: int) -> str:
        return f"(np.float32({a[k]!r}) if use_first else np.float32({b[k]!r}))"
    lines = [f"def {name}(v, use_first):", f"    p = {coef(n - 1)}"]
    lines += [f"    p = fma32(p, v, {coef(k)})" for k in range(n - 2, -1, -1)]
    lines.append("    return p")
    return "\n".join(lines)


def _compiled(name: str, source: str):
    """Compile generated source (only this module's constant tables go into it)."""
    ns: dict = {"np": np, "fma32": fma32}
    exec(compile(source, f"<fastmath {name}>", "exec"), ns)
    return _inline(ns[name])


_erf_poly = _compiled("_erf_poly", _select_horner_f32_source("_erf_poly", _ERF_SMALL, _ERFC_BIG))


@_inline
def fast_erf(x: np.float32) -> np.float32:
    """float32 erf(x): erf(+-0)=+-0, erf(+-inf)=+-1, NaN->NaN, tiny x -> x + 0.128x.

    One polynomial per element, its coefficients selected by |x| <= 1 (see above): no exp,
    no branch.  Worst error over all float32 inputs: 1.12 ulp, just above |x| = 1.
    """
    a = abs(x)
    small = a <= _ERF_SPLIT
    s = min(a, _ERF_SPLIT)
    v = s * s if small else min(max(a, _ERF_SPLIT), _ERF_ONE_AT) - _ERF_MID
    p = _erf_poly(v, small)
    big = _ONE_F - p
    big = _ONE_F if a >= _ERF_ONE_AT else big
    big = -big if x < _F32(0.0) else big
    res = fma32(x, p, x) if small else big
    return x if x != x else res


FAST_FLOAT32: dict = {
    "exp": fast_exp,
    "log": fast_log,
    "tanh": fast_tanh,
    "erf": fast_erf,
}
"""Math-function name in scalar templates -> jitted branch-free float32 implementation."""
