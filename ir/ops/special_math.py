"""Special functions and conversions PyTorch has on its namespace: `erf`, `erfc`, `deg2rad`,
`rad2deg`, `sinc`, `logit`, `xlogy`, `ldexp`, and integer `gcd`, `lcm` (each with its in-place
form).

Dtypes as PyTorch: integers and bools compute in the default float. Values and gradients at the
edges follow PyTorch's kernels: `sinc(0) = 1` with gradient 0; `logit` without `eps` (or with a
negative one) gives NaN gradients outside [0, 1], with `eps` it clamps the input to
[eps, 1 - eps] and the gradient is 0 outside; `xlogy(0, y) = 0` (NaN when y is NaN), its
gradient for x is `xlogy(x != 0, y)`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import meta
from ..registry import ELEMENTWISE, OpDef, Sample, register

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_D2R, _R2D = math.pi / 180.0, 180.0 / math.pi
_LN2 = math.log(2.0)


def _where(ctx, cond, a, b):
    return ctx.bind("where", (cond, a, b), {})


def _samples(lo: float, hi: float):
    def samples(rng):
        return [Sample((rng.uniform(lo, hi, size=(3, 4)),)),
                Sample((np.array(rng.uniform(lo, hi)),), note="0-dim"),
                Sample((rng.uniform(lo, hi, size=(2, 1, 3)),))]
    return samples


def _unary(name, vjp, ref, template, lo=-2.0, hi=2.0, save_inputs=(0,), **extra) -> OpDef:
    return register(OpDef(
        name=name, inputs=("input",), kind=ELEMENTWISE, template=template,
        dtype_rule=meta.promote_to_float, shape_rule=meta.first_shape, vjp=vjp,
        save_inputs=save_inputs, inplace_variant=True,
        samples=extra.pop("samples", None) or _samples(lo, hi), ref=ref, **extra))


_erf_ref = np.vectorize(math.erf, otypes=[np.float64])
_erfc_ref = np.vectorize(math.erfc, otypes=[np.float64])

ERF = _unary("erf", lambda ctx, g: (g * _TWO_OVER_SQRT_PI *
                                    (-ctx.inputs[0] * ctx.inputs[0]).exp(),),
             _erf_ref, "erf({0})")
ERFC = _unary("erfc", lambda ctx, g: (g * -_TWO_OVER_SQRT_PI *
                                      (-ctx.inputs[0] * ctx.inputs[0]).exp(),),
              _erfc_ref, "erfc({0})")
DEG2RAD = _unary("deg2rad", lambda ctx, g: (g * _D2R,), lambda x: x * _D2R,
                 f"({{0}} * {_D2R!r})", -400.0, 400.0, save_inputs=(), grad_name="Deg2RadBackward0")
RAD2DEG = _unary("rad2deg", lambda ctx, g: (g * _R2D,), lambda x: x * _R2D,
                 f"({{0}} * {_R2D!r})", save_inputs=(), grad_name="Rad2DegBackward0")


def _sinc_vjp(ctx, g):
    x = ctx.inputs[0]
    zero = x == 0
    safe = _where(ctx, zero, 1.0, x)
    px = safe * math.pi
    d = (px.cos() - px.sin() / px) / safe
    return (g * _where(ctx, zero, 0.0, d),)


def _sinc_ref(x):
    with np.errstate(invalid="ignore", divide="ignore"):
        px = np.pi * np.asarray(x, dtype=np.float64)
        return np.where(px == 0, 1.0, np.sin(px) / np.where(px == 0, 1.0, px))


def _sinc_samples(rng):
    return _samples(-2.0, 2.0)(rng) + [Sample((np.array([0.0, 0.5, -1.5, 3.0]),), note="zero")]


SINC = _unary("sinc", _sinc_vjp, _sinc_ref,
              f"(1.0 if {{0}} == 0 else sin({math.pi!r} * {{0}}) / ({math.pi!r} * {{0}}))",
              samples=_sinc_samples)


# ------------------------------------------------------------------------------------ logit

def _bounds(eps):
    """(lo, hi) of logit's clamp, or None where PyTorch does not clamp (no eps, or eps < 0)."""
    return None if eps is None or eps < 0 else (float(eps), 1.0 - float(eps))


def _logit_template(attrs, compute):
    b = _bounds(attrs["eps"])
    if b is None:
        return "log({0} / (1.0 - {0}))"
    lo, hi = b
    z = f"({lo!r} if {{0}} < {lo!r} else ({hi!r} if {{0}} > {hi!r} else {{0}}))"
    return f"log({z} / (1.0 - {z}))"


def _logit_vjp(ctx, g):
    x = ctx.inputs[0]
    d = g / (x * (1 - x))
    b = _bounds(ctx.attrs["eps"])
    if b is None:
        return (_where(ctx, (x < 0) | (x > 1), math.nan, d),)
    return (_where(ctx, (x < b[0]) | (x > b[1]), 0.0, d),)


def _logit_ref(x, eps=None):
    x = np.asarray(x, dtype=np.float64)
    b = _bounds(eps)
    if b is not None:
        x = np.where(x < b[0], b[0], np.where(x > b[1], b[1], x))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(x / (1.0 - x))


def _logit_samples(rng):
    return [Sample((rng.uniform(0.05, 0.95, size=(3, 4)),)),
            Sample((np.array(0.3),), note="0-dim"),
            Sample((rng.uniform(0.15, 0.85, size=(2, 3)),), {"eps": 0.1}, note="eps"),
            Sample((np.array([0.0, 0.05, 0.3, 0.97, 1.0]),), {"eps": 0.1}, grad=False,
                   note="eps clamps"),
            Sample((np.array([0.2, 0.0]),), {"eps": 0.7}, grad=False, note="eps past a half")]


LOGIT = register(OpDef(
    name="logit", inputs=("input",), attrs={"eps": None}, kind=ELEMENTWISE,
    template=_logit_template, dtype_rule=meta.promote_to_float, shape_rule=meta.first_shape,
    vjp=_logit_vjp, save_inputs=(0,), inplace_variant=True, samples=_logit_samples,
    ref=_logit_ref, doc="log(x / (1 - x)), x clamped to [eps, 1 - eps] when eps >= 0 is given."))


# -------------------------------------------------------------------------- binary: xlogy, ldexp

def _is_tensor(x) -> bool:
    return hasattr(x, "dtype") or hasattr(x, "_dtype")


def _xlogy_name(inputs, attrs):
    """PyTorch's overloads: XlogyBackward0 (two tensors), 1 (a number x), 2 (a number y)."""
    if not _is_tensor(inputs[0]):
        return "XlogyBackward1"
    return "XlogyBackward0" if _is_tensor(inputs[1]) else "XlogyBackward2"


def _xlogy_vjp(ctx, g):
    x, y = ctx.inputs
    gx = g * ctx.bind("xlogy", (x != 0, y), {}) if ctx.needs_input_grad[0] else None
    gy = g * x / y if ctx.needs_input_grad[1] else None
    return gx, gy


def _xlogy_ref(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(x == 0, 0.0, x * np.log(y))
    return np.where(np.isnan(y), np.nan, out)


def _xlogy_samples(rng):
    u = lambda lo, hi, *s: rng.uniform(lo, hi, size=s)  # noqa: E731
    return [Sample((u(-2, 2, 3, 4), u(0.3, 2, 3, 4))),
            Sample((u(-2, 2, 2, 3, 4), u(0.3, 2, 4)), note="broadcast"),
            Sample((u(-2, 2, 5), 1.5), note="python scalar y"),
            Sample((2.0, u(0.3, 2, 5)), note="python scalar x"),
            Sample((np.array([0.0, 1.0, 2.0, 0.0, 3.0]), np.array([0.0, 2.0, 0.5, np.nan, 0.0])),
                   grad=False, note="zeros and nan")]


XLOGY = register(OpDef(
    name="xlogy", inputs=("self", "other"), kind=ELEMENTWISE,
    template="({1} if isnan({1}) else (0.0 if {0} == 0 else {0} * log({1})))",
    dtype_rule=meta.promote_to_float, shape_rule=meta.broadcast_rule("xlogy"), vjp=_xlogy_vjp,
    save_inputs=(0, 1), inplace_variant=True, grad_name=_xlogy_name, samples=_xlogy_samples,
    ref=_xlogy_ref, doc="x * log(y), 0 where x == 0 (NaN where y is NaN), broadcast."))


def _ldexp_vjp(ctx, g):
    x, e = ctx.inputs
    scale = (e * _LN2).exp()
    gx = g * scale if ctx.needs_input_grad[0] else None
    ge = g * x * scale * _LN2 if ctx.needs_input_grad[1] else None
    return gx, ge


def _ldexp_samples(rng):
    u = lambda lo, hi, *s: rng.uniform(lo, hi, size=s)  # noqa: E731
    return [Sample((u(-2, 2, 3, 4), u(-2, 2, 3, 4))),
            Sample((u(-2, 2, 2, 3), u(-2, 2, 3)), note="broadcast"),
            Sample((u(-2, 2, 4), rng.integers(-3, 4, size=(4,))), note="int exponent")]


LDEXP = register(OpDef(
    name="ldexp", inputs=("input", "other"), kind=ELEMENTWISE, template="({0} * exp2({1}))",
    dtype_rule=meta.promote_to_float, shape_rule=meta.broadcast_rule("ldexp"), vjp=_ldexp_vjp,
    save_inputs=(0, 1), inplace_variant=True, samples=_ldexp_samples,
    ref=lambda x, e: np.asarray(x, dtype=np.float64) * np.exp2(np.asarray(e, dtype=np.float64)),
    doc="input * 2 ** other (any real exponent), broadcast."))


# ------------------------------------------------------------------------------- gcd, lcm

def _ints_only(op: str):
    """Integers only, as PyTorch's "gcd_cpu" not implemented for 'Float' / 'Bool'."""
    names = {"float16": "Half", "float32": "Float", "float64": "Double", "bool": "Bool"}

    def rule(operands, attrs):
        d, _ = meta.promote(operands, attrs)
        if d.is_floating_point or d.name == "bool":
            raise NotImplementedError(f"{op}(): \"{op}_cpu\" not implemented for "
                                      f"'{names[d.name]}'")
        return d, d
    rule.ignores_attrs = True
    return rule


def _lcm_ref(a, b):
    """PyTorch's lcm: |a / gcd(a, b) * b| in the integer type (wrapping), 0 where gcd is 0."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    dtype = np.result_type(a, b)
    out = np.zeros(a.shape, dtype=dtype)
    for i in np.ndindex(a.shape):
        x, y = int(a[i]), int(b[i])
        g = math.gcd(x, y)
        if g:
            v = abs(int(np.asarray(x // g * y).astype(dtype)))  # the product wraps, then abs
            out[i] = np.asarray(v).astype(dtype)
    return out


def _gcd_samples(rng):
    i = lambda *s, dtype=np.int64: rng.integers(-30, 30, size=s).astype(dtype)  # noqa: E731
    return [Sample((i(3, 4), i(3, 4))), Sample((i(2, 3, dtype=np.int8), i(3)), note="int8, int64"),
            Sample((np.array([12, -18, 0, 7]), np.array([8, 12, 0, -21])), note="signs, zero"),
            Sample((i(4, dtype=np.int32), i(1, dtype=np.int32)), note="broadcast")]


GCD = register(OpDef(
    name="gcd", inputs=("input", "other"), kind=ELEMENTWISE, template="gcd({0}, {1})",
    dtype_rule=_ints_only("gcd"), shape_rule=meta.broadcast_rule("gcd"), inplace_variant=True,
    samples=_gcd_samples, ref=lambda a, b: np.gcd(np.asarray(a), np.asarray(b)),
    doc="The greatest common divisor, elementwise, of integers (non-negative; gcd(0, 0) = 0)."))

LCM = register(OpDef(
    name="lcm", inputs=("input", "other"), kind=ELEMENTWISE,
    template="(0 if gcd({0}, {1}) == 0 else abs({0} // gcd({0}, {1}) * {1}))",
    dtype_rule=_ints_only("lcm"), shape_rule=meta.broadcast_rule("lcm"), inplace_variant=True,
    samples=_gcd_samples, ref=_lcm_ref,
    doc="The least common multiple, elementwise, of integers, as PyTorch computes it."))
