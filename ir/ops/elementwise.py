"""Elementwise ops: arithmetic with broadcasting and Python scalars, unary math, comparisons.

VJP rules use tensor methods only (`g * y`, `out.mul(...)`), so the same rule runs on eager
tensors and on traced values. The runtime reduces each input gradient to the input's shape and
dtype (`sum_to_size`, cast), so rules here never un-broadcast by hand.
"""

from __future__ import annotations

import math

import numpy as np

from .. import meta
from ..registry import ELEMENTWISE, Algebra, OpDef, OpError, Sample, register
from ..types import bool_, result_type


def _pair_samples(lo: float = -2.0, hi: float = 2.0):
    """Same shapes, broadcasting both ways, a Python scalar on either side, a 0-dim tensor."""
    def samples(rng):
        u = lambda *s: rng.uniform(lo, hi, size=s)
        return [
            Sample((u(3, 4), u(3, 4))),
            Sample((u(2, 3, 4), u(4)), note="broadcast right"),
            Sample((u(3, 1), u(1, 5)), note="broadcast both"),
            Sample((u(5), float(rng.uniform(lo, hi))), note="python scalar"),
            Sample((u(2, 2), np.array(rng.uniform(lo, hi))), note="0-dim tensor"),
        ]
    return samples


def _unary_samples(lo: float = -2.0, hi: float = 2.0):
    def samples(rng):
        return [Sample((rng.uniform(lo, hi, size=(3, 4)),)),
                Sample((np.array(rng.uniform(lo, hi)),), note="0-dim"),
                Sample((rng.uniform(lo, hi, size=(2, 1, 3)),))]
    return samples


def _binary(name, template, dtype_rule, vjp=None, save_inputs=(0, 1), lo=-2.0, hi=2.0,
            ref=None, grad_name=None, attrs=None, inplace=True, samples=None):
    return register(OpDef(
        name=name, inputs=("input", "other"), kind=ELEMENTWISE, template=template,
        dtype_rule=dtype_rule, shape_rule=meta.broadcast_rule(name), vjp=vjp,
        save_inputs=save_inputs if vjp else (), inplace_variant=inplace, grad_name=grad_name,
        attrs=attrs or {}, samples=samples or _pair_samples(lo, hi), ref=ref))


def _unary(name, template, dtype_rule=meta.promote_to_float, vjp=None, save_inputs=(),
           save_output=False, lo=-2.0, hi=2.0, ref=None, inplace=True):
    return register(OpDef(
        name=name, inputs=("input",), kind=ELEMENTWISE, template=template,
        dtype_rule=dtype_rule, shape_rule=meta.first_shape, vjp=vjp,
        save_inputs=save_inputs, save_output=save_output, inplace_variant=inplace,
        samples=_unary_samples(lo, hi), ref=ref))


def _scalar_first(inputs) -> bool:
    return not hasattr(inputs[0], "dtype") and not hasattr(inputs[0], "_dtype")


# ------------------------------------------------------------------------------------ arithmetic

ADD = _binary(
    "add", "({0} + {1} * {alpha})", meta.promote,
    vjp=lambda ctx, g: (g, g * ctx.attrs["alpha"] if ctx.attrs["alpha"] != 1 else g),
    save_inputs=(), attrs={"alpha": 1},
    ref=lambda a, b, alpha=1: np.add(a, np.multiply(b, alpha)))

SUB = _binary(
    "sub", "({0} - {1} * {alpha})", meta.no_bool(meta.promote),
    vjp=lambda ctx, g: (g, -g if ctx.attrs["alpha"] == 1 else g * -ctx.attrs["alpha"]),
    save_inputs=(), attrs={"alpha": 1},
    grad_name=lambda ins, attrs: "RsubBackward1" if _scalar_first(ins) else "SubBackward0",
    ref=lambda a, b, alpha=1: np.subtract(a, np.multiply(b, alpha)))


def _mul_vjp(ctx, g):
    x, y = ctx.inputs
    return (g * y if ctx.needs_input_grad[0] else None,
            g * x if ctx.needs_input_grad[1] else None)


MUL = _binary("mul", "({0} * {1})", meta.promote, vjp=_mul_vjp, ref=np.multiply)


def _div_vjp(ctx, g):
    if ctx.attrs["rounding_mode"] is not None:  # a rounded quotient is piecewise constant:
        zeros = g.new_zeros(g.shape)  # PyTorch's zeros_like(grad), not g * 0 (NaN for inf g)
        return zeros, zeros if ctx.needs_input_grad[1] else None
    x, y = ctx.inputs
    gx = g / y
    gy = -gx * x / y if ctx.needs_input_grad[1] else None
    return gx, gy


def _div_dtype(operands, attrs):
    """True division gives a float; with a rounding mode integers stay integers (bool refused)."""
    mode = attrs.get("rounding_mode")
    if mode is None:
        return meta.promote_to_float(operands, attrs)
    if mode not in ("trunc", "floor"):
        raise OpError(f"div(): div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                      f"but found {mode!r}")
    d = result_type(operands)
    if d is bool_:
        raise NotImplementedError(f"div(): \"div_{mode}_cpu\" not implemented for 'Bool'")
    return d, d


def _div_ref(a, b, rounding_mode=None):
    q = np.true_divide(a, b)
    if rounding_mode is None:
        return q
    dtype = np.result_type(a, b)
    rounded = np.floor(q) if rounding_mode == "floor" else np.fix(q)
    return rounded.astype(dtype) if dtype.kind in "iu" else rounded


def _div_samples(rng):
    """True division, then rounded quotients kept away from integers (where they jump)."""
    y = rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(0.5, 2.0, size=(3, 4))
    k = rng.integers(-3, 4, size=(3, 4)) + rng.uniform(0.2, 0.8, size=(3, 4))
    ints = (rng.integers(-9, 10, size=(6,)), np.array([3, -3, 2, -2, 4, -5]))
    return _pair_samples(0.5, 2.0)(rng) + [
        Sample((k * y, y), {"rounding_mode": "floor"}, note="floor"),
        Sample((k * y, y), {"rounding_mode": "trunc"}, note="trunc"),
        Sample((k[0] * 1.5, 1.5), {"rounding_mode": "floor"}, note="floor by scalar"),
        Sample(ints, {"rounding_mode": "floor"}, grad=False, note="int floor"),
        Sample(ints, {"rounding_mode": "trunc"}, grad=False, note="int trunc"),
        Sample((ints[0], -2), {"rounding_mode": "floor"}, grad=False, note="int by scalar")]


def _div_template(attrs, compute):
    """True division, or the quotient rounded as the mode says; integer quotients (whose
    division by zero NumPy defines its own way) stay unfused."""
    if compute is not None and not compute.is_floating_point:
        return "({0} / {1})" if attrs["rounding_mode"] is None else None
    return {None: "({0} / {1})", "floor": "floor({0} / {1})",
            "trunc": "trunc({0} / {1})"}.get(attrs["rounding_mode"])


DIV = _binary("div", _div_template, _div_dtype, vjp=_div_vjp, attrs={"rounding_mode": None},
              grad_name=lambda ins, attrs: "DivBackward2" if attrs.get("rounding_mode")
              else "DivBackward0", samples=_div_samples, ref=_div_ref)


def _pow_vjp(ctx, g):
    """PyTorch's pow_backward: it saves the inputs, not the output (so `y = a ** 2; y.mul_(2)`
    leaves backward intact); an exponent of 0 gives a zero gradient (not 0 * inf = NaN), and a
    base of 0 with an exponent >= 0 gives the exponent a zero gradient (not 0 * log 0)."""
    x, y = ctx.inputs
    where = lambda c, a, b: ctx.bind("where", (c, a, b), {})  # noqa: E731
    gx = gy = None
    if ctx.needs_input_grad[0]:
        if isinstance(y, (int, float)):
            gx = g.new_zeros(g.shape) if y == 0 else g * (y * x ** (y - 1))
        else:
            gx = where(y == 0, 0.0, g * (y * x ** (y - 1)))
    if ctx.needs_input_grad[1]:
        if isinstance(x, (int, float)):  # `2 ** t`: the base is a Python scalar
            gy = g * (x ** y) * math.log(x) if x != 0 else where(y >= 0, 0.0, g * (x ** y) *
                                                                 -math.inf)
        else:
            gy = where((x == 0) & (y >= 0), 0.0, g * (x ** y) * x.log())
    return gx, gy


def _pow_name(ins, attrs):
    if _scalar_first(ins):
        return "PowBackward2"
    return "PowBackward1" if hasattr(ins[1], "_dtype") else "PowBackward0"


POW = _binary("pow", "pow({0}, {1})", meta.bool_refused("pow", meta.promote), vjp=_pow_vjp, lo=0.5, hi=2.0,
              grad_name=_pow_name, ref=np.power)

# ----------------------------------------------------------------------------------- unary math

NEG = _unary("neg", "(-{0})", meta.no_bool(meta.keep_first), vjp=lambda ctx, g: (-g,),
             ref=np.negative)
RECIPROCAL = _unary("reciprocal", "(1.0 / {0})", vjp=lambda ctx, g: (-g * ctx.output * ctx.output,),
                    save_output=True, lo=0.5, hi=2.0, ref=lambda x: 1.0 / x)
EXP = _unary("exp", "exp({0})", vjp=lambda ctx, g: (g * ctx.output,), save_output=True,
             ref=np.exp)
LOG = _unary("log", "log({0})", vjp=lambda ctx, g: (g / ctx.inputs[0],), save_inputs=(0,),
             lo=0.5, hi=3.0, ref=np.log)
SQRT = _unary("sqrt", "sqrt({0})", vjp=lambda ctx, g: (g / (ctx.output * 2),), save_output=True,
              lo=0.5, hi=3.0, ref=np.sqrt)
TANH = _unary("tanh", "tanh({0})", vjp=lambda ctx, g: (g * (1 - ctx.output * ctx.output),),
              save_output=True, ref=np.tanh)
SIGMOID = _unary("sigmoid", "(1.0 / (1.0 + exp(-{0})))",
                 vjp=lambda ctx, g: (g * ctx.output * (1 - ctx.output),), save_output=True,
                 ref=lambda x: 1.0 / (1.0 + np.exp(-x)))
SIN = _unary("sin", "sin({0})", vjp=lambda ctx, g: (g * ctx.inputs[0].cos(),), save_inputs=(0,),
             ref=np.sin)
COS = _unary("cos", "cos({0})", vjp=lambda ctx, g: (-g * ctx.inputs[0].sin(),), save_inputs=(0,),
             ref=np.cos)
SIGN = _unary("sign", "sign({0})", dtype_rule=meta.keep_first,
             vjp=lambda ctx, g: (g.new_zeros(g.shape),),  # zeros_like(grad), as PyTorch
              ref=np.sign)
ABS = _unary("abs", "abs({0})", dtype_rule=meta.keep_first,
             vjp=lambda ctx, g: (g * ctx.inputs[0].sign(),), save_inputs=(0,), ref=np.abs)
RELU = _unary("relu", "max({0}, 0)",
              dtype_rule=meta.bool_refused("relu", meta.keep_first,
                                           "Boolean inputs not supported for relu"),
              vjp=lambda ctx, g: (g * (ctx.output > 0),), save_output=True,
              ref=lambda x: np.where(x > 0, x, 0.0))

# Samples for abs/relu/sign keep away from the kink at 0, where no gradient is defined.
for _op in (ABS, RELU, SIGN):
    _op.samples = (lambda rng: [
        Sample((rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(0.1, 2.0, size=(3, 4)),)),
        Sample((np.array(-0.7),), note="0-dim"),
        Sample((rng.choice([-1.0, 1.0], size=(2, 3)) * rng.uniform(0.1, 2.0, size=(2, 3)),))])

# ---------------------------------------------------------------------------------- comparisons

for _name, _tmpl, _ref in (("eq", "({0} == {1})", np.equal), ("ne", "({0} != {1})", np.not_equal),
                           ("lt", "({0} < {1})", np.less), ("le", "({0} <= {1})", np.less_equal),
                           ("gt", "({0} > {1})", np.greater),
                           ("ge", "({0} >= {1})", np.greater_equal)):
    _binary(_name, _tmpl, meta.compare, vjp=None, ref=_ref)


# --------------------------------------------------------- identities (passes/simplify.py reads)

def _square_as_product(node, emit):
    """`x ** 2` -> `x * x`: the same correctly rounded result, without a call to pow."""
    x, exponent = node.inputs
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and exponent == 2 \
            and getattr(x, "type", None) == node.output.type:
        return emit(MUL, [x, x])
    return None


ADD.algebra = Algebra(identity=lambda attrs: {0: 0, 1: 0} if attrs["alpha"] == 1 else {1: 0})
SUB.algebra = Algebra(identity={1: 0})
MUL.algebra = Algebra(identity={0: 1, 1: 1})
DIV.algebra = Algebra(identity=lambda attrs: {1: 1} if attrs["rounding_mode"] is None else {})
POW.algebra = Algebra(identity={1: 1}, rewrite=_square_as_product)
NEG.algebra = Algebra(involution=True)
ABS.algebra = RELU.algebra = Algebra(idempotent=True)
