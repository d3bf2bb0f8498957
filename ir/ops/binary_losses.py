"""The binary cross-entropy losses as ops of their own, with PyTorch's node names
(BinaryCrossEntropyWithLogitsBackward0, BinaryCrossEntropyBackward0) and one kernel each.

A weight or pos_weight the caller leaves out is the number 1.0 (an operand may be a Python
scalar), so the registry needs no optional inputs. The VJP rules are written with dualgraph ops,
so they serve eager autograd, double backward and graph autodiff alike; they give the gradients
PyTorch gives (input and target) and those of the weights too.
"""

from __future__ import annotations

import numpy as np

from .. import meta
from ..registry import OPAQUE, OpDef, OpError, Sample, register
from ..types import result_type
from .reduction import _count

_REDUCTIONS = ("none", "mean", "sum")


def _dtype_rule(name):
    def rule(operands, attrs):
        if attrs["reduction"] not in _REDUCTIONS:
            raise ValueError(f"{attrs['reduction']} is not a valid value for reduction")
        x, target = operands[:2]
        for what, t in (("input", x), ("target", target)):
            if not meta.is_tensor(t) or not t.dtype.is_floating_point:
                got = t.dtype.name if meta.is_tensor(t) else type(t).__name__
                raise OpError(f"{name}(): expected a floating-point {what}, got {got}")
        d = result_type((x, target))
        return d, d
    return rule


def _shape_rule(name, weights):
    def rule(operands, attrs):
        x, target = operands[:2]
        shape = tuple(x.shape)
        if tuple(target.shape) != shape:
            raise ValueError(f"{name}(): target size {list(target.shape)} must be the same as "
                             f"input size {list(shape)}")
        for what, w in zip(weights, operands[2:]):
            if meta.is_tensor(w):
                got = meta.broadcast_shapes(name, shape, tuple(w.shape))
                if tuple(got) != shape:
                    raise OpError(f"{name}(): {what} of shape {list(w.shape)} does not "
                                  f"broadcast to the input's shape {list(shape)}")
        return shape if attrs["reduction"] == "none" else ()
    return rule


def _is_one(w) -> bool:
    return not hasattr(w, "shape") and w == 1.0


def _scaled(ctx, g):
    """The incoming gradient per element: divided by the element count for `mean`."""
    if ctx.attrs["reduction"] != "mean":
        return g
    shape = ctx.shapes[0]
    return g / _count(g, shape, range(len(shape)))


def _reduce_ref(loss, reduction):
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()


# ------------------------------------------------------------ binary_cross_entropy_with_logits

def _logits_vjp(ctx, g):
    # loss = w [(1 - y) x - (1 + (p - 1) y) log_sigmoid(x)]; PyTorch's gradients:
    # d/dx = w ((p y + 1 - y) sigmoid(x) - p y), d/dy = w (log_sigmoid(-x) - p log_sigmoid(x))
    x, y, w, p = ctx.inputs
    g = _scaled(ctx, g)
    gw = g if _is_one(w) else g * w
    logsig = lambda z: ctx.bind("log_sigmoid", (z,), {})  # noqa: E731
    need = ctx.needs_input_grad
    gx = gy = g_w = g_p = None
    if need[0]:
        py = y if _is_one(p) else y * p
        gx = ((py - y + 1.0) * x.sigmoid() - py) * gw
    if need[1]:
        gy = (-x if _is_one(p) else logsig(-x) - logsig(x) * p) * gw
    if need[2]:
        g_w = ctx.bind("binary_cross_entropy_with_logits", (x, y, 1.0, p),
                       {"reduction": "none"}) * g
    if need[3]:
        g_p = -(y * logsig(x)) * gw
    return gx, gy, g_w, g_p


def _log_sigmoid_ref(x):
    return -np.logaddexp(0.0, -np.asarray(x, dtype=np.float64))


def _logits_ref(x, y, weight, pos_weight, reduction="mean"):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    # PyTorch's documented form: -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]
    loss = -np.asarray(weight) * (np.asarray(pos_weight) * y * _log_sigmoid_ref(x)
                                  + (1.0 - y) * _log_sigmoid_ref(-x))
    return _reduce_ref(loss, reduction)


def _logits_samples(rng):
    x = lambda *s: rng.normal(scale=2.0, size=s)  # noqa: E731
    y = lambda *s: rng.uniform(0.0, 1.0, size=s)  # noqa: E731
    w = lambda *s: rng.uniform(0.5, 2.0, size=s)  # noqa: E731
    return [
        Sample((x(3, 4), y(3, 4), w(3, 4), w(4)), {}),
        Sample((x(3, 4), y(3, 4), w(4), w(1)), {"reduction": "sum"}, note="broadcast weights"),
        Sample((x(3, 4), y(3, 4), w(3, 1), 1.0), {"reduction": "none"}, note="no pos_weight"),
        Sample((x(2, 3), y(2, 3), 1.0, 1.0), {}, note="no weights"),
        Sample((np.array([-100.0, 100.0, -30.0, 30.0]), np.array([1.0, 0.0, 0.25, 1.0]), 1.0,
                w(4)), {"reduction": "none"}, note="extreme logits"),
        Sample((np.array(0.5), np.array(1.0), np.array(2.0), np.array(3.0)), {}, note="0-d")]


BCE_WITH_LOGITS = register(OpDef(
    name="binary_cross_entropy_with_logits", inputs=("input", "target", "weight", "pos_weight"),
    attrs={"reduction": "mean"}, kind=OPAQUE,
    dtype_rule=_dtype_rule("binary_cross_entropy_with_logits"),
    shape_rule=_shape_rule("binary_cross_entropy_with_logits", ("weight", "pos_weight")),
    vjp=_logits_vjp, save_inputs=(0, 1, 2, 3), ref=_logits_ref, samples=_logits_samples,
    doc="-weight [pos_weight y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], computed as "
        "(1 - y) x - (1 + (pos_weight - 1) y) log_sigmoid(x) so no exp overflows and no log "
        "sees 0 (finite at logits of +-100); weights broadcast to the input's shape, 1.0 when "
        "left out; then kept, averaged or summed: F.binary_cross_entropy_with_logits."))


# ------------------------------------------------------------------------ binary_cross_entropy

_EPSILON = 1e-12  # PyTorch's floor on x (1 - x) in the input gradient


def _probs_vjp(ctx, g):
    # PyTorch's gradients: d/dx = w (x - y) / max(x (1 - x), 1e-12), d/dy = -w logit(x)
    x, y, w = ctx.inputs
    g = _scaled(ctx, g)
    gw = g if _is_one(w) else g * w
    need = ctx.needs_input_grad
    gx = ((x - y) / (x * (1.0 - x)).clamp(min=_EPSILON)) * gw if need[0] else None
    gy = -(x.logit()) * gw if need[1] else None
    g_w = ctx.bind("binary_cross_entropy", (x, y, 1.0), {"reduction": "none"}) * g \
        if need[2] else None
    return gx, gy, g_w


def _probs_ref(x, y, weight, reduction="mean"):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        log_x, log_1mx = np.maximum(np.log(x), -100.0), np.maximum(np.log(1.0 - x), -100.0)
    loss = -np.asarray(weight) * (y * log_x + (1.0 - y) * log_1mx)
    return _reduce_ref(loss, reduction)


def _probs_samples(rng):
    p = lambda *s: rng.uniform(0.05, 0.95, size=s)  # noqa: E731
    w = lambda *s: rng.uniform(0.5, 2.0, size=s)  # noqa: E731
    return [
        Sample((p(3, 4), p(3, 4), w(3, 4)), {}),
        Sample((p(3, 4), p(3, 4), w(4)), {"reduction": "sum"}, note="broadcast weight"),
        Sample((p(3, 4), p(3, 4), 1.0), {"reduction": "none"}, note="no weight"),
        Sample((np.array([0.0, 1.0, 0.5, 1.0]), np.array([1.0, 0.0, 0.5, 1.0]), 1.0),
               {"reduction": "none"}, grad=False, note="the bounds: logs clamped at -100"),
        Sample((np.array(0.25), np.array(1.0), np.array(2.0)), {}, note="0-d")]


BCE = register(OpDef(
    name="binary_cross_entropy", inputs=("input", "target", "weight"),
    attrs={"reduction": "mean"}, kind=OPAQUE,
    dtype_rule=_dtype_rule("binary_cross_entropy"),
    shape_rule=_shape_rule("binary_cross_entropy", ("weight",)),
    vjp=_probs_vjp, save_inputs=(0, 1, 2), ref=_probs_ref, samples=_probs_samples,
    doc="-weight [y log x + (1 - y) log(1 - x)] of probabilities x, each log clamped at -100 "
        "as PyTorch does; RuntimeError \"all elements of input should be between 0 and 1\" for "
        "an x outside [0, 1] or NaN; the weight broadcasts to the input's shape (1.0 when left "
        "out); then kept, averaged or summed: F.binary_cross_entropy."))
