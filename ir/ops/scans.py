"""Scans and normalizations: `logsumexp`, `cumsum`/`cumprod`, `all`/`any`, `softmax` and
`log_softmax` (numerically stable). Shared reduction rules come from `statistics.py`."""

from __future__ import annotations

import numpy as np

from .. import meta
from ..registry import OPAQUE, REDUCTION, OpDef, OpError, RowStep, Rows, Sample, register
from ..types import bool_, float64, get_default_dtype, uint8
from .statistics import (_TORCH_NAME, _attr_dims, _dims, _keep, _np_finish, _np_moved,
                         _reduction_shape)


# ------------------------------------------------------------------------------- logsumexp

# The row loops (CPU kernels, runtime/fusion.py): the largest element, shifted by where it is
# finite (a row of -inf or with an inf is not shifted, as the NumPy kernels do), a sum of exps.
_SHIFTED_SUM = (RowStep("m", "max", "x"), RowStep("k", "row", "m if isfinite(m) else 0"),
                RowStep("s", "sum", "exp(x - k)"))

def _logsumexp_vjp(ctx, g):
    shape, dims, keep = _attr_dims(ctx)
    return (_keep(g, shape, dims, keep) * (ctx.inputs[0] - _keep(ctx.output, shape, dims,
                                                                 keep)).exp(),)


def _logsumexp_ref(x, dim=None, keepdim=False):
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype(get_default_dtype().np)
    dims = _dims("logsumexp", dim, x.ndim)
    return _np_finish(np.logaddexp.reduce(_np_moved(x, dims), axis=-1), x.shape, dims, keepdim)


def _logsumexp_samples(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 4, 2))
    return [Sample((x,), {"dim": 1}), Sample((x,), {"dim": (0, 2)}),
            Sample((x,), {"dim": -1, "keepdim": True}),
            Sample((np.array([[1000.0, 1000.5], [-1000.0, -999.0]]),), {"dim": 1},
                   note="no overflow"),
            Sample((np.array([[-np.inf, 1.0], [-np.inf, -np.inf]]),), {"dim": 1}, grad=False),
            Sample((np.array([[1, 2, 3], [4, 5, 6]]),), {"dim": 0}, grad=False)]


register(OpDef(
    name="logsumexp", inputs=("input",), attrs={"dim": None, "keepdim": False}, kind=REDUCTION,
    dtype_rule=meta.promote_to_float, shape_rule=_reduction_shape("logsumexp"),
    vjp=_logsumexp_vjp, save_inputs=(0,), save_output=True, samples=_logsumexp_samples,
    ref=_logsumexp_ref, rows=Rows(_SHIFTED_SUM + (RowStep("c", "row", "k + log(s)"),), "c",
                                  per_row=True)))


# --------------------------------------------------------------------------- cumsum, cumprod

def _scan_shape(op_name: str):
    def rule(operands, attrs):
        shape = tuple(operands[0].shape)
        if attrs["dim"] is None:
            raise TypeError(f"{op_name}() missing 1 required positional argument: 'dim'")
        meta.normalize_dim(op_name, attrs["dim"], len(shape))
        return shape
    return rule


def _cumprod_vjp(ctx, g):
    # grad_i = sum_{k>=i} g_k out_k / x_i wherever x_i != 0. At the first zero of a slice the
    # products skip it: the same sum over the cumprod with that zero replaced by 1; at later
    # zeros every term holds the first zero, so the gradient is 0 (the same formula gives it).
    x, out, dim = ctx.inputs[0], ctx.output, ctx.attrs["dim"]
    zero = x == 0
    first = zero * (zero.cumsum(dim) == 1)
    skipped = ctx.bind("cumprod", (x + first,), {"dim": dim})

    def tail_sum(t):
        return ctx.bind("cumsum", (t,), {"dim": dim, "reverse": True})
    return ((x != 0) * tail_sum(g * out) / (x + zero) + zero * tail_sum(g * skipped),)


def _scan_ref(fn, identity):
    def ref(x, dim, dtype=None, reverse=False):
        x = np.asarray(x)
        x = x.astype(dtype.np if dtype is not None else (x.dtype if x.dtype.kind == "f"
                                                         else np.int64))
        if x.ndim == 0:
            return x.copy()
        moved = np.moveaxis(x, dim, 0)
        out, acc = np.empty_like(moved), np.full(moved.shape[1:], identity, x.dtype)
        for i in (reversed if reverse else iter)(range(moved.shape[0])):
            acc = out[i] = fn(acc, moved[i])
        return np.moveaxis(out, 0, dim)
    return ref


def _scan_samples(rng):
    x = rng.uniform(0.5, 1.5, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))
    return [Sample((x,), {"dim": 0}), Sample((x,), {"dim": -1}), Sample((np.array(1.5),),
                                                                       {"dim": 0}),
            Sample((np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32),), {"dim": 1}, grad=False),
            Sample((x,), {"dim": 1, "dtype": float64})]


def _cumprod_samples(rng):
    zeros = np.array([[2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0], [0.5, -1.5, 2.0, 0.0]])
    return _scan_samples(rng) + [Sample((zeros,), {"dim": 1}, note="zeros"),
                                 Sample((zeros,), {"dim": 0}, note="zeros")]


register(OpDef(
    name="cumsum", inputs=("input",), attrs={"dim": None, "dtype": None, "reverse": False},
    kind=OPAQUE, dtype_rule=meta.reduction_dtype("cumsum", needs_float=False),
    shape_rule=_scan_shape("cumsum"), inplace_variant=True,
    vjp=lambda ctx, g: (ctx.bind("cumsum", (g,), {"dim": ctx.attrs["dim"],
                                                  "reverse": not ctx.attrs["reverse"]}),),
    samples=lambda rng: _scan_samples(rng) + [Sample((rng.normal(size=(2, 3)),),
                                                     {"dim": 1, "reverse": True})],
    ref=_scan_ref(np.add, 0), doc="Running sums along `dim` (from the end when `reverse`, which "
                                  "the VJP uses; PyTorch's API has no such argument)."))

register(OpDef(
    name="cumprod", inputs=("input",), attrs={"dim": None, "dtype": None}, kind=OPAQUE,
    dtype_rule=meta.reduction_dtype("cumprod", needs_float=False),
    shape_rule=_scan_shape("cumprod"), inplace_variant=True, vjp=_cumprod_vjp,
    save_inputs=(0,), save_output=True, samples=_cumprod_samples,
    ref=_scan_ref(np.multiply, 1)))


# ------------------------------------------------------------------------------------ all, any

def _logical_dtype(operands, attrs):
    d = operands[0].dtype
    return (uint8 if d is uint8 else bool_), d  # uint8 stays uint8, as in PyTorch


def _logical_ref(fn):
    def ref(x, dim=None, keepdim=False):
        x = np.asarray(x)
        dims = _dims("all", dim, x.ndim)
        return _np_finish(fn.reduce(_np_moved(x, dims) != 0, axis=-1), x.shape, dims, keepdim)
    return ref


def _logical_samples(rng):
    x = rng.choice([0.0, 1.5, -2.0], size=(3, 4))
    return [Sample((x,), {}), Sample((x,), {"dim": 1}), Sample((x,), {"dim": (0, 1)}),
            Sample((x,), {"dim": -1, "keepdim": True}), Sample((x > 0,), {"dim": 0}),
            Sample((np.array([[3, 0], [1, 2]], dtype=np.uint8),), {"dim": 1}),
            Sample((np.zeros((0, 2)),), {}, note="empty")]


for _name, _fn in (("all", np.logical_and), ("any", np.logical_or)):
    register(OpDef(
        name=_name, inputs=("input",), attrs={"dim": None, "keepdim": False}, kind=REDUCTION,
        dtype_rule=_logical_dtype, shape_rule=_reduction_shape(_name),
        samples=_logical_samples, ref=_logical_ref(_fn)))


# ------------------------------------------------------------------- softmax, log_softmax

def _softmax_dtype(op_name: str):
    def rule(operands, attrs):
        d = attrs["dtype"] or operands[0].dtype
        if not d.is_floating_point:
            raise OpError(f"{op_name}(): not implemented for '{_TORCH_NAME[d.name]}'")
        return d, d
    return rule


def _softmax_ref(log: bool):
    def ref(x, dim, dtype=None):
        x = np.asarray(x, dtype=np.float64)  # float64 throughout: a reference, not a twin
        lse = np.logaddexp.reduce(x, axis=dim, keepdims=True) if x.ndim else x
        return x - lse if log else np.exp(x - lse)
    return ref


def _softmax_samples(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 4))
    return [Sample((x,), {"dim": 1}), Sample((x,), {"dim": 0}), Sample((x,), {"dim": -1}),
            Sample((np.array([[1000.0, 999.0, 0.0], [-1000.0, -1001.0, -999.5]]),), {"dim": 1},
                   note="no overflow"),
            Sample((np.array(0.3),), {"dim": 0}), Sample((x,), {"dim": 1, "dtype": float64})]


register(OpDef(
    name="softmax", inputs=("input",), attrs={"dim": None, "dtype": None}, kind=OPAQUE,
    dtype_rule=_softmax_dtype("softmax"), shape_rule=_scan_shape("softmax"),
    vjp=lambda ctx, g: (ctx.output * (g - (g * ctx.output).sum(ctx.attrs["dim"], keepdim=True)),),
    save_output=True, samples=_softmax_samples, ref=_softmax_ref(False),
    rows=Rows((RowStep("m", "max", "x"), RowStep("s", "sum", "exp(x - m)", store=True),
               RowStep("r", "row", "1 / s")), "kept * r")))

register(OpDef(
    name="log_softmax", inputs=("input",), attrs={"dim": None, "dtype": None}, kind=OPAQUE,
    dtype_rule=_softmax_dtype("log_softmax"), shape_rule=_scan_shape("log_softmax"),
    vjp=lambda ctx, g: (g - ctx.output.exp() * g.sum(ctx.attrs["dim"], keepdim=True),),
    save_output=True, samples=_softmax_samples, ref=_softmax_ref(True),
    # (x - m) - log(s): x - m is exact near the max, so a float32 row keeps its digits where
    # x - (m + log(s)) would round m + log(s) at the scale of m
    rows=Rows((RowStep("m", "max", "x"), RowStep("s", "sum", "exp(x - m)"),
               RowStep("c", "row", "log(s)")), "x - m - c")))


# ------------------------------------------------------------------------------ layer norm

def _layer_norm_dtype(operands, attrs):
    d = operands[0].dtype
    if not d.is_floating_point:
        raise OpError(f"layer_norm(): expected a floating-point input, got "
                      f"'{_TORCH_NAME[d.name]}'")
    return d, d


def _layer_norm_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    if not shape:
        raise OpError("layer_norm(): expected an input with at least 1 dimension, got a 0-d "
                      "tensor")
    return shape


def _layer_norm_vjp(ctx, g):
    # y = (x - mean) * r with r = 1/sqrt(var + eps) over the last dim (biased var):
    # dx = r * (g - mean(g) - y * mean(g * y))
    x, y = ctx.inputs[0], ctx.output
    r = (x.var(-1, unbiased=False, keepdim=True) + ctx.attrs["eps"]).rsqrt()
    return (r * (g - g.mean(-1, keepdim=True) - y * (g * y).mean(-1, keepdim=True)),)


def _layer_norm_ref(x, eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps)


def _layer_norm_samples(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 5))
    return [Sample((x,), {}), Sample((rng.uniform(-2.0, 2.0, size=(2, 3, 4)),), {"eps": 0.1}),
            Sample((rng.uniform(-2.0, 2.0, size=(6,)),), {}),
            Sample((np.full((2, 4), 3.0),), {}, grad=False, note="a constant row: 0, not NaN")]


register(OpDef(
    name="layer_norm", inputs=("input",), attrs={"eps": 1e-5}, kind=OPAQUE,
    dtype_rule=_layer_norm_dtype, shape_rule=_layer_norm_shape, vjp=_layer_norm_vjp,
    save_inputs=(0,), save_output=True, grad_name="NativeLayerNormBackward0",
    samples=_layer_norm_samples, ref=_layer_norm_ref,
    doc="(x - mean) / sqrt(var + eps) over the last dim (biased variance): F.layer_norm's "
        "normalization; its weight and bias are elementwise ops after it.",
    rows=Rows((RowStep("s", "sum", "x"), RowStep("mu", "row", "s / n"),
               RowStep("v", "sum", "(x - mu) * (x - mu)"),
               RowStep("r", "row", "1 / sqrt(v / n + {eps})")), "(x - mu) * r", dim_attr=None)))


# -------------------------------------------------------------------------------- RMS norm

def _rms_norm_dtype(operands, attrs):
    d = operands[0].dtype
    if not d.is_floating_point:
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{_TORCH_NAME[d.name]}'")
    return d, d


def _rms_norm_vjp(ctx, g):
    # y = x * r with r = 1/sqrt(mean(x**2) + eps) over the last dim: dx = r * (g - y * mean(g*y))
    x, y = ctx.inputs[0], ctx.output
    r = ((x * x).mean(-1, keepdim=True) + ctx.attrs["eps"]).rsqrt()
    return (r * (g - y * (g * y).mean(-1, keepdim=True)),)


def _rms_norm_ref(x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)


def _rms_norm_samples(rng):
    return [Sample((rng.uniform(-2.0, 2.0, size=(3, 5)),), {}),
            Sample((rng.uniform(-2.0, 2.0, size=(2, 3, 4)),), {"eps": 0.1}),
            Sample((rng.uniform(-2.0, 2.0, size=(6,)),), {}),
            Sample((np.zeros((2, 4)),), {}, grad=False, note="a zero row: 0, not NaN")]


register(OpDef(
    name="rms_norm", inputs=("input",), attrs={"eps": 1e-6}, kind=OPAQUE,
    dtype_rule=_rms_norm_dtype, shape_rule=_layer_norm_shape, vjp=_rms_norm_vjp,
    save_inputs=(0,), save_output=True, grad_name="MulBackward0",  # PyTorch's is x * rsqrt(..)
    samples=_rms_norm_samples, ref=_rms_norm_ref,
    doc="x / sqrt(mean(x**2) + eps) over the last dim: F.rms_norm's normalization; its weight "
        "is an elementwise op after it.",
    rows=Rows((RowStep("s", "sum", "x * x"), RowStep("r", "row", "1 / sqrt(s / n + {eps})")),
              "x * r", dim_attr=None)))
