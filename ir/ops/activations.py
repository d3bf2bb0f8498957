"""Activation functions of `dg.nn`: gelu (exact and tanh approximation), silu, softplus,
leaky_relu, elu, log_sigmoid.

Each is one elementwise op so that it is one kernel and one autograd node, named as PyTorch
names it (`GeluBackward0`, ...). VJP rules use tensor methods only; gelu's derivative needs
erf, which no other op provides, so it has a helper op `gelu_backward` (as PyTorch does).
"""

from __future__ import annotations

import math

import numpy as np

from .. import meta
from ..registry import ELEMENTWISE, OpDef, OpError, Sample, register
from .math import not_implemented

_SQRT_2_PI = math.sqrt(2.0 / math.pi)


def _float_only(op: str, kernel: str | None = None):
    """Activations take floating inputs only, as PyTorch's kernels do (its kernel names)."""
    def rule(operands, attrs):
        d = operands[0].dtype
        if not d.is_floating_point:
            raise not_implemented(op, kernel or f"{op}_cpu", d)
        if op == "gelu":
            _check_approximate(attrs.get("approximate", "none"))
        return d, d
    return rule


def _samples(lo: float = -3.0, hi: float = 3.0, attrs: tuple = ({},)):
    def samples(rng):
        out = []
        for a in attrs:
            out += [Sample((rng.uniform(lo, hi, size=(3, 4)),), dict(a)),
                    Sample((np.array(rng.uniform(lo, hi)),), dict(a), note="0-dim")]
        return out
    return samples


def _away_from_zero(attrs: tuple):
    """Samples for ops with a kink at 0 (leaky_relu, elu): |x| >= 0.1."""
    def samples(rng):
        x = rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(0.1, 2.0, size=(3, 4))
        return [Sample((x,), dict(a)) for a in attrs] + [Sample((np.array(-0.7),), note="0-dim")]
    return samples


def _unary(name, grad_name, vjp, ref, attrs=None, save_output=False, samples=None):
    return register(OpDef(
        name=name, inputs=("input",), attrs=attrs or {}, kind=ELEMENTWISE,
        dtype_rule=_float_only(name), shape_rule=meta.first_shape, vjp=vjp,
        save_inputs=(0,), save_output=save_output, grad_name=grad_name,
        samples=samples or _samples(), ref=ref))


# ------------------------------------------------------------------------------------------ gelu

def _check_approximate(approximate: str) -> None:
    if approximate not in ("none", "tanh"):
        raise OpError("gelu(): approximate argument must be either none or tanh.")


def _gelu_ref(x, approximate="none"):
    x = np.asarray(x)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_PI * (x + 0.044715 * x ** 3)))
    erf = np.vectorize(math.erf, otypes=[x.dtype if x.dtype.kind == "f" else float])
    return x * 0.5 * (1.0 + erf(x / math.sqrt(2.0)))


def _gelu_backward_ref(g, x, approximate="none"):
    x = np.asarray(x)
    if approximate == "tanh":
        inner = _SQRT_2_PI * (x + 0.044715 * x ** 3)
        t = np.tanh(inner)
        d_inner = _SQRT_2_PI * (1.0 + 3 * 0.044715 * x ** 2)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)
    erf = np.vectorize(math.erf, otypes=[x.dtype])
    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    return g * (cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi))


GELU = register(OpDef(
    name="gelu", inputs=("input",), attrs={"approximate": "none"}, kind=ELEMENTWISE,
    dtype_rule=_float_only("gelu", "GeluKernelImpl"), shape_rule=meta.first_shape,
    vjp=lambda ctx, g: (ctx.bind("gelu_backward", (g, ctx.inputs[0]), ctx.attrs),),
    save_inputs=(0,), grad_name="GeluBackward0",
    samples=_samples(attrs=({}, {"approximate": "tanh"})), ref=_gelu_ref))


def _gelu_backward_samples(rng):
    return [Sample((rng.uniform(-1, 1, size=(3, 4)), rng.uniform(-3, 3, size=(3, 4))), a)
            for a in ({}, {"approximate": "tanh"})]


def _gelu_backward_vjp(ctx, g):
    """Second derivative of gelu, so that gradients of gradients work (create_graph)."""
    grad, x = ctx.inputs
    d_grad = ctx.bind("gelu_backward", (g, x), ctx.attrs) if ctx.needs_input_grad[0] else None
    if not ctx.needs_input_grad[1]:
        return d_grad, None
    if ctx.attrs["approximate"] == "tanh":
        c = 0.044715
        t = ((x + x * x * x * c) * _SQRT_2_PI).tanh()
        du = (x * x * (3 * c) + 1) * _SQRT_2_PI
        second = (1 - t * t) * (du - x * t * du * du + x * x * (3 * c * _SQRT_2_PI))
    else:
        pdf = (x * x * -0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi))
        second = pdf * (2 - x * x)
    return d_grad, g * grad * second


def _gelu_backward_dtype(operands, attrs):
    d = meta.promote(operands, attrs)[0]
    return d, d


GELU_BACKWARD = register(OpDef(
    name="gelu_backward", inputs=("grad_output", "input"), attrs={"approximate": "none"},
    kind=ELEMENTWISE, dtype_rule=_gelu_backward_dtype, shape_rule=meta.broadcast_rule(
        "gelu_backward"), vjp=_gelu_backward_vjp, save_inputs=(0, 1),
    grad_name="GeluBackwardBackward0", samples=_gelu_backward_samples, ref=_gelu_backward_ref,
    doc="d gelu(x)/dx times the incoming gradient (the gradient of gelu)."))


# ------------------------------------------------------------------------------- silu, softplus

def _silu_vjp(ctx, g):
    x = ctx.inputs[0]
    s = x.sigmoid()
    return (g * s * (1 + x * (1 - s)),)


SILU = _unary("silu", "SiluBackward0", _silu_vjp, ref=lambda x: x / (1.0 + np.exp(-x)))


def _softplus_ref(x, beta=1.0, threshold=20.0):
    z = np.multiply(x, beta)
    soft = np.log(1.0 + np.exp(np.minimum(z, threshold))) / beta
    return np.where(z > threshold, x, soft)


def _softplus_vjp(ctx, g):
    z = ctx.inputs[0] * ctx.attrs["beta"]
    return (g * z.sigmoid().masked_fill(z > ctx.attrs["threshold"], 1.0),)


SOFTPLUS = _unary("softplus", "SoftplusBackward0", _softplus_vjp, ref=_softplus_ref,
                  attrs={"beta": 1.0, "threshold": 20.0},
                  samples=_samples(attrs=({}, {"beta": 2.0, "threshold": 4.0},
                                          {"beta": 0.5, "threshold": 1.0})))


# ------------------------------------------------------------------------- leaky_relu, elu, logsig

def _leaky_vjp(ctx, g):
    x, slope = ctx.inputs[0], ctx.attrs["negative_slope"]
    return (g.masked_fill(x <= 0, 0.0) + (g * slope).masked_fill(x > 0, 0.0),)


LEAKY_RELU = _unary("leaky_relu", "LeakyReluBackward0", _leaky_vjp,
                    ref=lambda x, negative_slope=0.01: np.where(x > 0, x, x * negative_slope),
                    attrs={"negative_slope": 0.01},
                    samples=_away_from_zero(({}, {"negative_slope": 0.2})))


def _elu_ref(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _elu_vjp(ctx, g):
    x, alpha = ctx.inputs[0], ctx.attrs["alpha"]
    neg = g * (x.clamp(max=0.0).exp() * alpha)
    return (g.masked_fill(x <= 0, 0.0) + neg.masked_fill(x > 0, 0.0),)


ELU = _unary("elu", "EluBackward0", _elu_vjp, ref=_elu_ref, attrs={"alpha": 1.0},
             samples=_away_from_zero(({}, {"alpha": 0.5})))


def _log_sigmoid_ref(x):
    return -np.logaddexp(0.0, -np.asarray(x))


LOG_SIGMOID = _unary("log_sigmoid", "LogSigmoidBackward0",
                     lambda ctx, g: (g * (-ctx.inputs[0]).sigmoid(),), ref=_log_sigmoid_ref)


# ----------------------------------------------- scalar templates (fused and generated kernels)

_S = repr(math.sqrt(2.0 / math.pi))
_INV_SQRT2, _INV_SQRT_2PI = repr(1.0 / math.sqrt(2.0)), repr(1.0 / math.sqrt(2.0 * math.pi))
_GELU = {"none": f"({{0}} * 0.5 * (1.0 + erf({{0}} * {_INV_SQRT2})))",
         "tanh": f"(0.5 * {{0}} * (1.0 + tanh(({{0}} + 0.044715 * {{0}} * {{0}} * {{0}}) * {_S})))"}
_GELU_GRAD = {
    "none": f"({{0}} * (0.5 * (1.0 + erf({{1}} * {_INV_SQRT2})) + "
            f"{{1}} * exp(-0.5 * {{1}} * {{1}}) * {_INV_SQRT_2PI}))",
    "tanh": None}  # its derivative needs tanh twice: left to NumPy
GELU.template = lambda attrs, compute: _GELU.get(attrs["approximate"])
GELU_BACKWARD.template = lambda attrs, compute: _GELU_GRAD.get(attrs["approximate"])
SILU.template = "({0} / (1.0 + exp(-{0})))"  # x * sigmoid(x), PyTorch's formula


# ------------------------------------------------ scalar templates (fusion) of the ops above:
# what each kernel computes per element (runtime/kernels/activations.py), NaN passing through

SOFTPLUS.template = ("({0} if {0} * {beta} > {threshold} else "
                     "(maximum({0} * {beta}, 0) + log1p(exp(-abs({0} * {beta})))) / {beta})")
LEAKY_RELU.template = "({0} if {0} > 0 else {0} * {negative_slope})"
ELU.template = "({0} if {0} > 0 else expm1(minimum({0}, 0)) * {alpha})"
LOG_SIGMOID.template = "(minimum({0}, 0) - log1p(exp(-abs({0}))))"
