"""Elementwise math beyond plain arithmetic: more unary functions, rounding, remainders, clamping,
`maximum`/`minimum`, `lerp`, `addmm`, `addcmul` (`where`, logic and NaN tests: `logic.py`).

Dtype rules follow PyTorch: transcendental functions turn integers into the default float,
rounding keeps integers, tests (`isnan`, `logical_and`) return bool, and ops PyTorch does not
implement for a dtype raise its NotImplementedError ("... not implemented for 'Bool'"). VJP
rules use tensor methods and `ctx.bind` only, so they also run under the tracer.
"""

from __future__ import annotations

import math

import numpy as np

from .. import meta
from ..registry import ELEMENTWISE, OPAQUE, Algebra, OpDef, OpError, Sample, get, register
from ..types import FLOAT, INT, bool_, int64, result_type

# PyTorch's names for dtypes in "not implemented for" errors, and its C++ names in lerp's errors.
_TYPE_NAME = {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "int8": "Char",
              "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}
_C_NAME = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double", "int8": "signed char",
           "int16": "short int", "int32": "int", "int64": "long int", "uint8": "unsigned char",
           "bool": "bool"}


def not_implemented(op: str, kernel: str, dtype) -> NotImplementedError:
    """PyTorch's error for a dtype an op has no kernel for (a RuntimeError subclass)."""
    return NotImplementedError(f"{op}(): \"{kernel}\" not implemented for "
                               f"'{_TYPE_NAME[dtype.name]}'")


def _only(rule, op: str, kernel: str, allowed: tuple):
    """Wrap a dtype rule: refuse compute dtypes whose category is not in `allowed`."""
    def checked(operands, attrs):
        result, compute = rule(operands, attrs)
        if compute.category not in allowed:
            raise not_implemented(op, kernel, compute)
        return result, compute
    checked.ignores_attrs = getattr(rule, "ignores_attrs", False)
    return checked


def _to_bool(operands, attrs):
    """Logical ops: any dtype, read as nonzero; computed on bools."""
    return bool_, bool_


def _test_dtype(operands, attrs):
    """`isnan` and friends: bool out, computed on the input as it is."""
    return bool_, operands[0].dtype


for _rule in (_to_bool, _test_dtype):
    _rule.ignores_attrs = True


def _is_tensor_at(i: int):
    return lambda ins: hasattr(ins[i], "dtype") or hasattr(ins[i], "_dtype")


def _numbered(base: str, tensor_number: int, at: int = 1):
    """`FmodBackward1` when input `at` is a tensor, `FmodBackward0` when it is a Python scalar."""
    is_tensor = _is_tensor_at(at)
    other = 1 - tensor_number
    return lambda ins, attrs: f"{base}Backward{tensor_number if is_tensor(ins) else other}"


def _zero_grad(ctx, g):
    """Piecewise-constant ops (floor, round, ...): the gradient is zero wherever it exists —
    zeros, as PyTorch's `zeros_like(grad)`, never `g * 0` (NaN where g is inf or NaN)."""
    return (g.new_zeros(g.shape),)


def _where(ctx, cond, a, b):
    return ctx.bind("where", (cond, a, b), {})


# ------------------------------------------------------------------------------------ samples

def _unary_samples(lo: float, hi: float):
    def samples(rng):
        return [Sample((rng.uniform(lo, hi, size=(3, 4)),)),
                Sample((np.array(rng.uniform(lo, hi)),), note="0-dim"),
                Sample((rng.uniform(lo, hi, size=(2, 1, 3)),))]
    return samples


def _off_grid(rng, shape, scale: float = 1.0):
    """Values k + f (k integer, f in [0.15, 0.35] or [0.65, 0.85]), times `scale`: away from the
    integers and halves where rounding jumps, so finite differences see a flat function."""
    k = rng.integers(-3, 4, size=shape)
    f = rng.uniform(0.15, 0.35, size=shape) + rng.choice([0.0, 0.5], size=shape)
    return (k + f) * scale


def _rounding_samples(rng):
    return [Sample((_off_grid(rng, (3, 4)),)), Sample((np.array(-1.7),), note="0-dim"),
            Sample((rng.integers(-5, 6, size=(2, 3)),), grad=False, note="int")]


def _signed(rng, shape, lo: float = 0.3, hi: float = 2.0):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def _remainder_samples(rng):
    """Divisors away from 0 and quotients away from integers (where the gradient jumps)."""
    y = _signed(rng, (3, 4), 0.5, 2.0)
    y1 = _signed(rng, (4,), 0.5, 2.0)
    return [Sample((_off_grid(rng, (3, 4)) * y, y)),
            Sample((_off_grid(rng, (2, 3, 4)) * y1, y1), note="broadcast"),
            Sample((_off_grid(rng, (5,)) * 1.5, 1.5), note="python scalar"),
            Sample((_off_grid(rng, (5,)) * -1.5, -1.5), note="negative scalar"),
            Sample((rng.integers(-9, 10, size=(6,)), np.array([3, -3, 2, -2, 4, -5])),
                   grad=False, note="int")]


def _pair_samples(lo: float = -2.0, hi: float = 2.0, scalar: bool = True):
    def samples(rng):
        u = lambda *s: rng.uniform(lo, hi, size=s)
        out = [Sample((u(3, 4), u(3, 4))), Sample((u(2, 3, 4), u(4)), note="broadcast"),
               Sample((u(3, 1), u(1, 5)), note="broadcast both"),
               Sample((u(2, 2), np.array(rng.uniform(lo, hi))), note="0-dim tensor")]
        if scalar:
            out.append(Sample((u(5), float(rng.uniform(lo, hi))), note="python scalar"))
        return out
    return samples


def _select_samples(rng):
    """Distinct values (no ties, where the gradient splits), ints, bools and mixed dtypes."""
    x = rng.permutation(24).reshape(2, 3, 4) / 5.0 - 2.0
    y = rng.permutation(24).reshape(2, 3, 4) / 5.0 - 2.05
    return [Sample((x, y)), Sample((x, y[0, 0]), note="broadcast"),
            Sample((rng.integers(-5, 5, size=(3, 4)), rng.integers(-5, 5, size=(3, 4))),
                   grad=False, note="int"),
            Sample((np.array([True, False, True]), np.array([False, False, True])), grad=False,
                   note="bool"),
            Sample((rng.integers(-5, 5, size=(4,)), x[0, 0]), note="int and float")]


# --------------------------------------------------------------------------- unary float math

def _unary(name: str, vjp, ref, lo: float = -2.0, hi: float = 2.0, dtype_rule=None,
           save_inputs=(0,), save_output: bool = False, **extra) -> OpDef:
    return register(OpDef(
        name=name, inputs=("input",), kind=ELEMENTWISE,
        template=extra.pop("template", f"{name}({{0}})"),
        dtype_rule=dtype_rule or meta.promote_to_float, shape_rule=meta.first_shape, vjp=vjp,
        save_inputs=() if save_output else save_inputs, save_output=save_output,
        inplace_variant=True, samples=extra.pop("samples", None) or _unary_samples(lo, hi),
        ref=ref, **extra))


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_x = lambda ctx: ctx.inputs[0]  # noqa: E731  (the saved input of a unary op)

RSQRT = _unary("rsqrt", lambda ctx, g: (g * -0.5 * ctx.output ** 3,), lambda x: 1.0 / np.sqrt(x),
               0.5, 3.0, save_output=True)
LOG1P = _unary("log1p", lambda ctx, g: (g / (_x(ctx) + 1),), lambda x: np.log(1.0 + x),
               -0.5, 2.0, grad_name="Log1PBackward0")
EXPM1 = _unary("expm1", lambda ctx, g: (g * (ctx.output + 1),), lambda x: np.exp(x) - 1.0,
               save_output=True)
LOG2 = _unary("log2", lambda ctx, g: (g / (_x(ctx) * _LN2),), lambda x: np.log(x) / _LN2, 0.5, 3.0)
LOG10 = _unary("log10", lambda ctx, g: (g / (_x(ctx) * _LN10),), lambda x: np.log(x) / _LN10,
               0.5, 3.0)
EXP2 = _unary("exp2", lambda ctx, g: (g * ctx.output * _LN2,), lambda x: np.exp(x * _LN2),
              save_output=True)
TAN = _unary("tan", lambda ctx, g: (g * (ctx.output * ctx.output + 1),),
             lambda x: np.sin(x) / np.cos(x), -1.2, 1.2, save_output=True)
ASIN = _unary("asin", lambda ctx, g: (g * (1 - _x(ctx) * _x(ctx)).rsqrt(),),
              lambda x: np.arctan2(x, np.sqrt(1.0 - x * x)), -0.9, 0.9)
ACOS = _unary("acos", lambda ctx, g: (-g * (1 - _x(ctx) * _x(ctx)).rsqrt(),),
              lambda x: np.arctan2(np.sqrt(1.0 - x * x), x), -0.9, 0.9)
ATAN = _unary("atan", lambda ctx, g: (g / (_x(ctx) * _x(ctx) + 1),),
              lambda x: np.arcsin(x / np.sqrt(1.0 + x * x)))
SINH = _unary("sinh", lambda ctx, g: (g * _x(ctx).cosh(),),
              lambda x: (np.exp(x) - np.exp(-x)) / 2.0)
COSH = _unary("cosh", lambda ctx, g: (g * _x(ctx).sinh(),),
              lambda x: (np.exp(x) + np.exp(-x)) / 2.0)
ASINH = _unary("asinh", lambda ctx, g: (g * (_x(ctx) * _x(ctx) + 1).rsqrt(),),
               lambda x: np.sign(x) * np.log(np.abs(x) + np.sqrt(x * x + 1.0)))
ACOSH = _unary("acosh", lambda ctx, g: (g * (_x(ctx) * _x(ctx) - 1).rsqrt(),),
               lambda x: np.log(x + np.sqrt(x * x - 1.0)), 1.2, 3.0)
ATANH = _unary("atanh", lambda ctx, g: (g / (1 - _x(ctx) * _x(ctx)),),
               lambda x: 0.5 * np.log((1.0 + x) / (1.0 - x)), -0.9, 0.9)


def _square_dtype(operands, attrs):
    """`square` is `pow(x, 2)`: bools become int64, everything else keeps its dtype."""
    d = operands[0].dtype
    d = int64 if d is bool_ else d
    return d, d


_square_dtype.ignores_attrs = True

SQUARE = _unary("square", lambda ctx, g: (g * 2 * _x(ctx),), lambda x: np.multiply(x, x),
                dtype_rule=_square_dtype, grad_name="PowBackward0",
                samples=lambda rng: [
                    Sample((rng.uniform(-2, 2, size=(3, 4)),)), Sample((np.array(1.3),)),
                    Sample((rng.integers(-5, 5, size=(4,)),), grad=False, note="int"),
                    Sample((np.array([True, False]),), grad=False, note="bool")])

# ------------------------------------------------------------------------------------ rounding

_ints_floats = (INT, FLOAT)
for _name, _ref in (("ceil", np.ceil), ("floor", np.floor), ("trunc", np.trunc)):
    _unary(_name, _zero_grad, _ref, save_inputs=(), samples=_rounding_samples,
           dtype_rule=_only(meta.keep_first, _name, f"{_name}_vml_cpu", _ints_floats))

FRAC = _unary("frac", lambda ctx, g: (g,), lambda x: x - np.fix(x), save_inputs=(),
              dtype_rule=_only(meta.keep_first, "frac", "frac_cpu", (FLOAT,)),
              samples=lambda rng: _rounding_samples(rng)[:2])


def _round_dtype(operands, attrs):
    d = operands[0].dtype
    if d is bool_:
        raise not_implemented("round", "round_vml_cpu", d)
    if attrs["decimals"] and not d.is_floating_point:
        raise not_implemented("round", "round_cpu", d)
    return d, d


def _round_ref(x, decimals=0):
    """Half to even at `decimals` places, by scaling with a power of ten as PyTorch does."""
    if not decimals:
        return np.round(x)
    scale = 10.0 ** abs(decimals)
    return np.round(x * scale) / scale if decimals > 0 else np.round(x / scale) * scale


ROUND = _unary(
    "round", _zero_grad, _round_ref, save_inputs=(), dtype_rule=_round_dtype,
    attrs={"decimals": 0},
    template=lambda attrs, compute: None if attrs["decimals"] else "round({0})",
    grad_name=lambda ins, attrs: f"RoundBackward{1 if attrs.get('decimals') else 0}",
    samples=lambda rng: _rounding_samples(rng) + [
        Sample((np.array([0.5, 1.5, 2.5, -0.5, -2.5]),), grad=False, note="halves to even"),
        Sample((_off_grid(rng, (4,), 0.1),), {"decimals": 1}),
        Sample((_off_grid(rng, (4,), 100.0),), {"decimals": -2})])

# --------------------------------------------------------------------------- binary: remainders


def _fmod_vjp(ctx, g):
    x, y = ctx.inputs
    gy = None
    if ctx.needs_input_grad[1]:
        gy = -g * ctx.bind("div", (x, y), {"rounding_mode": "trunc"})
    return g, gy


def _remainder_vjp(ctx, g):
    x, y = ctx.inputs
    gy = None
    if ctx.needs_input_grad[1]:
        gy = -g * ctx.bind("div", (x, y), {"rounding_mode": "floor"})
    return g, gy


def _binary(name: str, dtype_rule, vjp, ref, samples, save_inputs=(0, 1), **extra) -> OpDef:
    return register(OpDef(
        name=name, inputs=("input", "other"), kind=ELEMENTWISE, dtype_rule=dtype_rule,
        shape_rule=meta.broadcast_rule(name), vjp=vjp, save_inputs=save_inputs if vjp else (),
        inplace_variant=True, samples=samples, ref=ref, **extra))


FMOD = _binary("fmod", _only(meta.promote, "fmod", "fmod_cpu", _ints_floats), _fmod_vjp,
               lambda x, y: x - y * np.fix(np.true_divide(x, y)).astype(np.result_type(x, y)),
               _remainder_samples, grad_name=_numbered("Fmod", 1),
               template=lambda attrs, compute: "fmod({0}, {1})" if compute is None or
               compute.is_floating_point else None)  # integer fmod by 0: NumPy's own rule
REMAINDER = _binary(
    "remainder", _only(meta.promote, "remainder", "remainder_cpu", _ints_floats), _remainder_vjp,
    lambda x, y: x - y * np.floor(np.true_divide(x, y)).astype(np.result_type(x, y)),
    _remainder_samples, grad_name=_numbered("Remainder", 1))

# ------------------------------------------------------------------------- binary: float math


def _atan2_vjp(ctx, g):
    x, y = ctx.inputs
    den = x * x + y * y
    den = _where(ctx, den == 0, 1.0, den)  # PyTorch gives 0, not NaN, at the origin
    return g * y / den, -g * x / den


ATAN2 = _binary("atan2", meta.promote_to_float, _atan2_vjp,
                lambda y, x: np.angle(x + 1j * y), _pair_samples(scalar=False))

HYPOT = _binary("hypot", _only(meta.promote, "hypot", "hypot_cpu", (FLOAT,)),
                lambda ctx, g: (g * ctx.inputs[0] / ctx.output, g * ctx.inputs[1] / ctx.output),
                lambda x, y: np.sqrt(x * x + y * y), _pair_samples(0.3, 2.0, scalar=False))
HYPOT.save_output = True


def _copysign_vjp(ctx, g):
    x = ctx.inputs[0]
    # d|x|*s/dx is sign(x) * sign(out); at x == 0 PyTorch gives 0, as sign(0) does.
    gy = g.new_zeros(g.shape) if ctx.needs_input_grad[1] else None
    return g * (ctx.output.sign() * x.sign()), gy


def _copysign_samples(rng):
    return [Sample((_signed(rng, (3, 4)), _signed(rng, (3, 4)))),
            Sample((_signed(rng, (2, 3)), _signed(rng, (3,))), note="broadcast"),
            Sample((_signed(rng, (4,)), -1.5), note="python scalar"),
            Sample((rng.integers(-5, 5, size=(4,)), np.array([1, -1, 0, -3])), grad=False,
                   note="int")]


COPYSIGN = _binary(
    "copysign", meta.promote_to_float, _copysign_vjp,
    lambda x, y: np.abs(x) * np.where(np.signbit(y), -1.0, 1.0).astype(np.abs(x).dtype),
    _copysign_samples, save_inputs=(0,), grad_name=_numbered("Copysign", 0))
COPYSIGN.save_output = True

# ------------------------------------------------------------------------- binary: selection


def _maximum_vjp(take_x_when_less: bool):
    """maximum/minimum: the gradient goes to the chosen input, split in half on ties, and (as
    PyTorch) to both inputs where a NaN makes every comparison false."""
    def vjp(ctx, g):
        x, y = ctx.inputs
        share = _where(ctx, x == y, g / 2, g)
        lose_x, lose_y = (x > y, x < y) if take_x_when_less else (x < y, x > y)
        return _where(ctx, lose_x, 0.0, share), _where(ctx, lose_y, 0.0, share)
    return vjp


def _fmax_vjp(x_wins):
    """fmax/fmin: the gradient goes to x where x wins or y is NaN (ties go to x), else to y."""
    def vjp(ctx, g):
        x, y = ctx.inputs
        pick_x = x_wins(x, y).logical_or(y.isnan())
        return _where(ctx, pick_x, g, 0.0), _where(ctx, pick_x, 0.0, g)
    return vjp


def _pick_ref(choose_x):
    def ref(x, y):
        x, y = np.broadcast_arrays(x, y)
        out = np.empty(x.shape, dtype=np.result_type(x, y))
        for i in np.ndindex(x.shape):
            out[i] = x[i] if choose_x(x[i], y[i]) else y[i]
        return out
    return ref


MAXIMUM = _binary("maximum", meta.promote, _maximum_vjp(False), _pick_ref(lambda a, b: a >= b),
                  _select_samples, template="max({0}, {1})")
MINIMUM = _binary("minimum", meta.promote, _maximum_vjp(True), _pick_ref(lambda a, b: a <= b),
                  _select_samples, template="min({0}, {1})")
FMAX = _binary("fmax", meta.promote, _fmax_vjp(lambda x, y: x >= y),
               _pick_ref(lambda a, b: a >= b or b != b), _select_samples)
FMIN = _binary("fmin", meta.promote, _fmax_vjp(lambda x, y: x <= y),
               _pick_ref(lambda a, b: a <= b or b != b), _select_samples)
for _op in (MAXIMUM, MINIMUM, FMAX, FMIN):
    _op.inplace_variant = False  # PyTorch has no maximum_ / fmax_

# ------------------------------------------------------------------------------------- clamp


def _clamp_dtype(operands, attrs):
    bounds = [attrs[k] for k in ("min", "max") if attrs[k] is not None]
    if not bounds:
        raise OpError("clamp(): At least one of 'min' or 'max' must not be None")
    d = result_type([operands[0]] + bounds)
    return d, d


def _clamp_ref(x, min=None, max=None):
    out = np.array(x, dtype=np.result_type(x, *[b for b in (min, max) if b is not None]))
    if min is not None:
        out = np.where(out < min, min, out).astype(out.dtype)
    if max is not None:
        out = np.where(out > max, max, out).astype(out.dtype)
    return out


def _clamp_samples(rng):
    x = _signed(rng, (3, 4), 0.2, 2.0)
    x[np.abs(np.abs(x) - 1.0) < 0.1] = 0.5  # keep away from the bounds +-1
    return [Sample((x,), {"min": -1.0, "max": 1.0}), Sample((x,), {"min": -1.0}),
            Sample((x,), {"max": 1.0}), Sample((np.array(1.5),), {"min": -1.0, "max": 1.0}),
            Sample((rng.integers(-5, 6, size=(6,)),), {"min": -2, "max": 3}, grad=False,
                   note="int"),
            Sample((rng.integers(-5, 6, size=(6,)),), {"min": -2.5}, grad=False,
                   note="int with float bound")]


CLAMP = register(OpDef(
    name="clamp", inputs=("input",), attrs={"min": None, "max": None}, kind=ELEMENTWISE,
    dtype_rule=_clamp_dtype, shape_rule=meta.first_shape, inplace_variant=True,
    vjp=lambda ctx, g: (_where(ctx, _inside(ctx.inputs[0], ctx.attrs["min"], ctx.attrs["max"]),
                               g, 0.0),),
    save_inputs=(0,), grad_name="ClampBackward1", samples=_clamp_samples, ref=_clamp_ref))


def _inside(x, lo, hi):
    """Where min <= x <= max (either bound may be None): where clamp passes the gradient."""
    if lo is None:
        return x <= hi
    return x >= lo if hi is None else (x >= lo).logical_and(x <= hi)


def _clamp_tensor_vjp(ctx, g):
    x, lo, hi = ctx.inputs
    gx = _where(ctx, _inside(x, lo, hi), g, 0.0)
    # Below a bound that is in force, the lower bound gets it; when min > max, max wins.
    glo = _where(ctx, (x < lo).logical_and(lo < hi), g, 0.0) if ctx.needs_input_grad[1] else None
    ghi = _where(ctx, (x > hi).logical_or(hi < lo), g, 0.0) if ctx.needs_input_grad[2] else None
    return gx, glo, ghi


def _bound_samples(n_bounds: int):
    """x and bounds that differ by at least 0.1 (the gradient jumps where they meet)."""
    def samples(rng):
        x = rng.uniform(-2, 2, size=(3, 4))
        lo = x + _signed(rng, (3, 4), 0.1, 1.0)
        hi = np.maximum(lo, x) + rng.uniform(0.1, 1.0, size=(3, 4))
        hi[0, :2] = lo[0, :2] - 0.5  # min > max: max wins
        bounds = (lo, hi)[:n_bounds]
        col = x[:, :1] + _signed(rng, (3, 1), 0.1, 1.0)
        cols = (col, np.maximum(col, x[:, :1]) + 0.5)[:n_bounds]
        return [Sample((x,) + bounds), Sample((x,) + cols, note="broadcast"),
                Sample((rng.integers(-5, 6, size=(5,)),)
                       + tuple(np.array([-1, 0, 1, 2, 3][:5]) + k for k in range(n_bounds)),
                       grad=False, note="int")]
    return samples


def _clamp_tensor_ref(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


CLAMP_TENSOR = register(OpDef(
    name="clamp_tensor", inputs=("input", "min", "max"), kind=ELEMENTWISE,
    dtype_rule=meta.promote, shape_rule=meta.broadcast_rule("clamp"), inplace_variant=True,
    vjp=_clamp_tensor_vjp, save_inputs=(0, 1, 2), grad_name="ClampBackward0",
    samples=_bound_samples(2), ref=_clamp_tensor_ref,
    doc="clamp with tensor bounds (both given; one-sided clamps are clamp_min / clamp_max)"))


def _one_bound_vjp(keep_x, to_bound):
    def vjp(ctx, g):
        x, b = ctx.inputs
        gb = _where(ctx, to_bound(x, b), g, 0.0) if ctx.needs_input_grad[1] else None
        return _where(ctx, keep_x(x, b), g, 0.0), gb
    return vjp


def _one_bound_samples(rng):
    samples = _bound_samples(1)(rng)
    x = samples[0].inputs[0]
    far = x[np.abs(x - 0.25) > 0.1]
    return samples + [Sample((far, 0.25), note="python scalar")]


CLAMP_MIN = _binary("clamp_min", meta.promote,
                    _one_bound_vjp(lambda x, b: x >= b, lambda x, b: x < b), np.maximum,
                    _one_bound_samples, grad_name=_numbered("ClampMin", 1))
CLAMP_MAX = _binary("clamp_max", meta.promote,
                    _one_bound_vjp(lambda x, b: x <= b, lambda x, b: x > b), np.minimum,
                    _one_bound_samples, grad_name=_numbered("ClampMax", 1))

# ---------------------------------------------------------------------------------------- lerp


def _lerp_dtype(operands, attrs):
    x, end, weight = operands
    d = x.dtype
    if not meta.is_tensor(end):
        raise OpError(f"lerp(): end must be a Tensor, got {type(end).__name__}")
    if end.dtype is not d:
        raise OpError(f"lerp(): expected dtype {_C_NAME[d.name]} for `end` but got dtype "
                      f"{_C_NAME[end.dtype.name]}")
    if meta.is_tensor(weight) and len(weight.shape) and weight.dtype is not d:
        raise OpError(f"lerp(): expected dtype {_C_NAME[d.name]} for `weight` but got dtype "
                      f"{_C_NAME[weight.dtype.name]}")
    if not d.is_floating_point:
        kind = "tensor" if meta.is_tensor(weight) else "scalar"
        raise not_implemented("lerp", f"lerp_kernel_{kind}", d)
    return d, d


def _lerp_vjp(ctx, g):
    x, end, w = ctx.inputs
    gw = g * (end - x) if ctx.needs_input_grad[2] else None
    return g * (1 - w), g * w, gw


def _lerp_samples(rng):
    u = lambda *s: rng.uniform(-2, 2, size=s)
    return [Sample((u(3, 4), u(3, 4), 0.3)), Sample((u(3, 4), u(3, 4), 0.8), note="weight > .5"),
            Sample((u(3, 4), u(3, 4), rng.uniform(0, 1, size=(3, 4))), note="tensor weight"),
            Sample((u(2, 3), u(3), rng.uniform(0, 1, size=(2, 1))), note="broadcast"),
            Sample((u(4), u(4), np.array(0.6)), note="0-dim weight")]


LERP = register(OpDef(
    name="lerp", inputs=("input", "end", "weight"), kind=ELEMENTWISE, dtype_rule=_lerp_dtype,
    shape_rule=meta.broadcast_rule("lerp"), inplace_variant=True, vjp=_lerp_vjp,
    save_inputs=(0, 1, 2), grad_name=_numbered("Lerp", 1, at=2), samples=_lerp_samples,
    ref=lambda x, end, w: x + np.multiply(w, np.subtract(end, x))))

# ------------------------------------------------------------------------ addcmul / addcdiv


def _addcdiv_dtype(operands, attrs):
    t1, t2 = operands[1], operands[2]
    if not t1.dtype.is_floating_point and not t2.dtype.is_floating_point:
        raise OpError(
            "addcdiv(): Integer division with addcdiv is no longer supported; for the historic "
            "behavior use (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype), for "
            "true division use (input + value * tensor1 / tensor2)")
    return meta.promote(operands, attrs)


def _addc_samples(rng):
    u = lambda *s: rng.uniform(-2, 2, size=s)
    return [Sample((u(3, 4), u(3, 4), _signed(rng, (3, 4), 0.5))),
            Sample((u(3, 4), u(4), _signed(rng, (3, 1), 0.5)), {"value": 0.5}, note="broadcast"),
            Sample((u(4), u(4), _signed(rng, (4,), 0.5)), {"value": -2}),
            Sample((rng.integers(-5, 5, size=(4,)), u(4), _signed(rng, (4,), 0.5)), grad=False,
                   note="int input")]


ADDCMUL = register(OpDef(
    name="addcmul", inputs=("input", "tensor1", "tensor2"), attrs={"value": 1},
    kind=ELEMENTWISE, dtype_rule=meta.bool_refused("addcmul_cpu_out", meta.promote),
    shape_rule=meta.broadcast_rule("addcmul"),
    inplace_variant=True, save_inputs=(1, 2), samples=_addc_samples,
    vjp=lambda ctx, g: (g, g * ctx.inputs[2] * ctx.attrs["value"],
                        g * ctx.inputs[1] * ctx.attrs["value"]),
    ref=lambda x, a, b, value=1: x + np.multiply(value, a * b)))


def _addcdiv_vjp(ctx, g):
    _, a, b = ctx.inputs
    value = ctx.attrs["value"]
    gb = -g * value * a / (b * b) if ctx.needs_input_grad[2] else None
    return g, g * value / b, gb


ADDCDIV = register(OpDef(
    name="addcdiv", inputs=("input", "tensor1", "tensor2"), attrs={"value": 1},
    kind=ELEMENTWISE, dtype_rule=_addcdiv_dtype, shape_rule=meta.broadcast_rule("addcdiv"),
    inplace_variant=True, save_inputs=(1, 2), samples=_addc_samples, vjp=_addcdiv_vjp,
    ref=lambda x, a, b, value=1: x + np.multiply(value, a) / b))

# --------------------------------------------------------------------------------------- addmm


def _addmm_dtype(operands, attrs):
    x, m1, m2 = operands
    name = lambda t: _TYPE_NAME[t.dtype.name]  # noqa: E731
    if m1.dtype is not m2.dtype:
        raise OpError(f"addmm(): mat1 and mat2 must have the same dtype, but got {name(m1)} and "
                      f"{name(m2)}")
    if x.dtype is not m2.dtype:
        raise OpError(f"addmm(): self and mat2 must have the same dtype, but got {name(x)} and "
                      f"{name(m2)}")
    if x.dtype is bool_:
        raise not_implemented("addmm", "addmm_impl_cpu_", x.dtype)
    return x.dtype, x.dtype


def _addmm_shape(operands, attrs):
    x, m1, m2 = (tuple(t.shape) for t in operands)
    for which, s in (("mat1", m1), ("mat2", m2)):
        if len(s) != 2:
            raise OpError(f"addmm(): {which} must be a matrix, got {len(s)}-D tensor")
    (n, k1), (k2, p) = m1, m2
    if k1 != k2 and not (isinstance(k1, str) or isinstance(k2, str)):
        raise OpError(f"addmm(): mat1 and mat2 shapes cannot be multiplied ({n}x{k1} and "
                      f"{k2}x{p})")
    out = (n, p)
    lead = len(out) - len(x)
    if lead < 0:
        raise OpError(f"addmm(): the number of sizes provided (2) must be greater or equal to "
                      f"the number of dimensions in the tensor ({len(x)})")
    for i, d in enumerate(x):
        s = out[lead + i]
        if not (d == 1 or d == s or isinstance(d, str) or isinstance(s, str)):
            raise OpError(f"addmm(): The expanded size of the tensor ({s}) must match the "
                          f"existing size ({d}) at non-singleton dimension {lead + i}.  Target "
                          f"sizes: {meta.fmt_shape(out)}.  Tensor sizes: {meta.fmt_shape(x)}")
    return out


def _addmm_vjp(ctx, g):
    _, m1, m2 = ctx.inputs
    beta, alpha = ctx.attrs["beta"], ctx.attrs["alpha"]
    gx = g if beta == 1 else g * beta
    g1 = g @ m2.mT if ctx.needs_input_grad[1] else None
    g2 = m1.mT @ g if ctx.needs_input_grad[2] else None
    if alpha != 1:
        g1 = None if g1 is None else g1 * alpha
        g2 = None if g2 is None else g2 * alpha
    return gx, g1, g2


def _addmm_ref(x, m1, m2, beta=1, alpha=1):
    prod = np.einsum("ik,kj->ij", m1, m2)
    return alpha * prod if beta == 0 else beta * np.asarray(x) + alpha * prod


ADDMM = register(OpDef(
    name="addmm", inputs=("input", "mat1", "mat2"), attrs={"beta": 1, "alpha": 1}, kind=OPAQUE,
    dtype_rule=_addmm_dtype, shape_rule=_addmm_shape, inplace_variant=True, vjp=_addmm_vjp,
    save_inputs=(1, 2), ref=_addmm_ref,
    samples=lambda rng: [
        Sample((rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(4, 3)))),
        Sample((rng.normal(size=(3,)), rng.normal(size=(2, 4)), rng.normal(size=(4, 3))),
               {"beta": 0.5, "alpha": 2.0}, note="broadcast input"),
        Sample((rng.normal(size=(2, 1)), rng.normal(size=(2, 4)), rng.normal(size=(4, 3))),
               {"beta": 0}, note="beta 0"),
        Sample((rng.integers(-3, 3, size=(2, 2)), rng.integers(-3, 3, size=(2, 3)),
                rng.integers(-3, 3, size=(3, 2))), {"alpha": 2}, grad=False, note="int")]))


def _addmm_epilogue(node, emit):
    """addmm as `matmul` then its scale and bias add (the kernel's own order of operations, so
    the result is the same), for float operands of one dtype; None otherwise."""
    from ..graph import Value
    x, m1, m2 = node.inputs
    dtype = node.output.type.dtype
    if not dtype.is_floating_point or not all(
            isinstance(v, Value) and getattr(v.type, "dtype", None) is dtype for v in (x, m1, m2)):
        return None
    beta, alpha = node.attrs["beta"], node.attrs["alpha"]
    prod = emit(get("matmul"), [m1, m2])
    if alpha != 1:
        prod = emit(get("mul"), [prod, alpha])
    if beta == 0:
        return prod  # beta = 0 ignores the input, NaNs included
    return emit(get("add"), [prod, x if beta == 1 else emit(get("mul"), [x, beta])])


ADDMM.algebra = Algebra(epilogue=_addmm_epilogue)


# --------------------------------------------------- scalar templates (fusion) of the ops above
# Each says per element what the op's kernel computes, with its NaN, -0.0 and tie rules; integer
# cases whose kernels check divisors or cast bounds stay unfused (None).

def _float_template(text: str):
    return lambda attrs, compute: text if compute is not None and compute.is_floating_point \
        else None


def _max_keep_first(a: str, b: str, fn: str) -> str:
    """maximum/minimum propagating NaN, giving `a` where the two are equal (-0.0 against 0)."""
    return f"({a} if {a} == {b} else {fn}({a}, {b}))"


REMAINDER.template = _float_template(
    "(fmod({0}, {1}) + {1} if fmod({0}, {1}) != 0 and (fmod({0}, {1}) < 0) != ({1} < 0) "
    "else fmod({0}, {1}))")
ATAN2.template = "atan2({0}, {1})"
HYPOT.template = "hypot({0}, {1})"
get("copysign").template = "copysign({0}, {1})"
for _op, _fn in ((FMAX, "fmax"), (FMIN, "fmin")):
    _op.template = (lambda fn: lambda attrs, compute: _max_keep_first("{0}", "{1}", fn)
                    if compute is not None and compute.is_floating_point
                    else f"{fn}({{0}}, {{1}})")(_fn)
for _op, _fn in ((CLAMP_MIN, "maximum"), (CLAMP_MAX, "minimum")):
    _op.template = _float_template(_max_keep_first("{0}", "{1}", _fn))


def _clamp_template(attrs, compute):
    if compute is None or not compute.is_floating_point:
        return None  # integer clamps cast float bounds as the kernel does: left to it
    text = "{0}"
    if attrs.get("min") is not None:
        text = f"({{min}} if {text} < {{min}} else {text})"
    if attrs.get("max") is not None:
        text = f"({{max}} if {text} > {{max}} else {text})"
    return text


get("clamp").template = _clamp_template
_LO = _max_keep_first("{0}", "{1}", "maximum")
get("clamp_tensor").template = _float_template(_max_keep_first(_LO, "{2}", "minimum"))
get("lerp").template = _float_template(
    "({0} + {2} * ({1} - {0}) if abs({2}) < 0.5 else {1} - ({1} - {0}) * (1 - {2}))")
ADDCMUL.template = lambda attrs, compute: ("({0} + {1} * {2})" if attrs["value"] == 1
                                           else "({0} + ({1} * {2}) * {value})")
get("addcdiv").template = lambda attrs, compute: ("({0} + {1} / {2})" if attrs["value"] == 1
                                                  else "({0} + ({1} * {value}) / {2})")
