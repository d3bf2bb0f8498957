"""Losses that are ops of their own (`mse_loss`: one kernel, its own VJP, PyTorch's node name),
and checks on data that the losses need (`nll_loss`'s class indices, `binary_cross_entropy`'s
probabilities), as ops: each passes its input through and its kernel raises PyTorch's error
when the data is bad, so a traced or scripted loss checks at call time, as eager does, instead
of testing tensor data with a Python `if` (which cannot be traced).
"""

from __future__ import annotations

import numpy as np

from .. import meta
from ..registry import OPAQUE, OpDef, OpError, Sample, register
from ..types import int8, int16, int32, int64, result_type, uint8
from .reduction import _count


def _check_target_rule(operands, attrs):
    target, input = operands
    if not meta.is_tensor(target) or target.dtype not in (int64, int32, int16, int8, uint8):
        got = target.dtype.name if meta.is_tensor(target) else type(target).__name__
        raise OpError(f"nll_loss(): expected target of an integer dtype (class indices), got "
                      f"{got}")
    meta.normalize_dim("nll_loss", attrs["class_dim"], len(input.shape))
    return target.dtype, target.dtype


def _check_target_ref(target, input, class_dim=1, ignore_index=-100):
    n = input.shape[class_dim]
    bad = (target != ignore_index) & ((target < 0) | (target >= n))
    if bad.any():
        raise IndexError(f"Target {int(target[bad].flat[0])} is out of bounds.")
    return np.array(target, copy=True)


CHECK_TARGET = register(OpDef(
    name="check_target", inputs=("target", "input"), attrs={"class_dim": 1, "ignore_index": -100},
    kind=OPAQUE, dtype_rule=_check_target_rule, shape_rule=meta.first_shape,
    index_inputs=(0, 1),  # never cast: `input` is read for its size only (a cast copied it)
    samples=lambda rng: [
        Sample((rng.integers(0, 4, size=(5,)), rng.normal(size=(5, 4))), grad=False),
        Sample((np.array([1, -100, 0]), rng.normal(size=(3, 2, 2))), {"ignore_index": -100},
               grad=False, note="ignored targets"),
        Sample((np.array(2), rng.normal(size=(3,))), {"class_dim": 0}, grad=False,
               note="unbatched")],
    ref=_check_target_ref,
    doc="`target` itself; IndexError \"Target t is out of bounds.\" (PyTorch's nll_loss error) "
        "when a target other than `ignore_index` is not a class index of `input`'s `class_dim`. "
        "`input` is read for its size only."))


def _check_probability_rule(operands, attrs):
    x = operands[0]
    if not meta.is_tensor(x) or not x.dtype.is_floating_point:
        got = x.dtype.name if meta.is_tensor(x) else type(x).__name__
        raise OpError(f"binary_cross_entropy(): expected a floating-point input, got {got}")
    return x.dtype, x.dtype


def _check_probability_ref(x):
    if not ((x >= 0) & (x <= 1)).all():  # NaN fails both comparisons, as in PyTorch's check
        raise RuntimeError("all elements of input should be between 0 and 1")
    return np.array(x, copy=True)


CHECK_PROBABILITY = register(OpDef(
    name="check_probability", inputs=("input",), kind=OPAQUE,
    dtype_rule=_check_probability_rule, shape_rule=meta.first_shape,
    vjp=lambda ctx, g: (g,),
    samples=lambda rng: [Sample((rng.uniform(0.05, 0.95, size=(3, 4)),)),
                         Sample((np.array([0.0, 1.0, 0.5]),), grad=False, note="the bounds"),
                         Sample((np.array(0.25),), note="0-d")],
    ref=_check_probability_ref,
    doc="`input` itself; RuntimeError \"all elements of input should be between 0 and 1\" "
        "(PyTorch's binary_cross_entropy error) when an element is outside [0, 1] or NaN. "
        "F.binary_cross_entropy is now one op that checks itself; this stays so that graphs "
        "saved before still load and run."))


# ------------------------------------------------------------------------------------ mse_loss

_REDUCTIONS = ("none", "mean", "sum")


def _mse_dtype(operands, attrs):
    if attrs["reduction"] not in _REDUCTIONS:
        raise ValueError(f"{attrs['reduction']} is not a valid value for reduction")
    d = result_type(operands)
    if not d.is_floating_point:
        raise NotImplementedError(f"\"mse_cpu\" not implemented for '{_TYPE_NAMES[d.name]}'")
    return d, d


_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
               "int64": "Long"}


def _mse_shape(operands, attrs):
    shape = meta.broadcast_shapes("mse_loss", *(tuple(t.shape) for t in meta.tensors(operands)))
    return shape if attrs["reduction"] == "none" else ()


def _mse_vjp(ctx, g):
    # d/dx (x - t)**2 = 2 (x - t); mean divides by the element count; the runtime sums each
    # gradient back to its input's shape
    x, t = ctx.inputs
    grad = (x - t) * (g * 2)
    if ctx.attrs["reduction"] == "mean":
        shape = tuple(grad.shape)
        grad = grad / _count(g, shape, range(len(shape)))
    return grad, -grad


def _mse_ref(x, t, reduction="mean"):
    loss = (np.asarray(x, dtype=np.float64) - np.asarray(t, dtype=np.float64)) ** 2
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()


MSE_LOSS = register(OpDef(
    name="mse_loss", inputs=("input", "target"), attrs={"reduction": "mean"}, kind=OPAQUE,
    dtype_rule=_mse_dtype, shape_rule=_mse_shape, vjp=_mse_vjp, save_inputs=(0, 1),
    grad_name="MseLossBackward0", ref=_mse_ref,
    samples=lambda rng: [
        Sample((rng.normal(size=(3, 4)), rng.normal(size=(3, 4))), {}),
        Sample((rng.normal(size=(3, 4)), rng.normal(size=(3, 4))), {"reduction": "sum"}),
        Sample((rng.normal(size=(3, 4)), rng.normal(size=(3, 4))), {"reduction": "none"}),
        Sample((rng.normal(size=(2, 3)), rng.normal(size=(3,))), {}, note="broadcast target"),
        Sample((np.array(1.5), np.array(-0.5)), {}, note="0-d")],
    doc="(input - target)**2, broadcast, then averaged (`mean`), summed (`sum`) or kept "
        "(`none`): F.mse_loss without a weight."))


# ------------------------------------------------------------------------------------ nll_loss

def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _nll_operands(name, x, target, weight):
    if not meta.is_tensor(x) or not x.dtype.is_floating_point:
        got = x.dtype.name if meta.is_tensor(x) else type(x).__name__
        raise OpError(f"{name}(): expected a floating-point input, got {got}")
    if not meta.is_tensor(target) or target.dtype not in (int64, int32, int16, int8, uint8):
        got = target.dtype.name if meta.is_tensor(target) else type(target).__name__
        raise OpError(f"{name}(): expected target of an integer dtype (class indices), got {got}")
    if not meta.is_tensor(weight) or len(weight.shape) != 1:
        raise OpError(f"{name}(): expected a 1-D weight of one entry per class")


def _nll_shapes(xs, target, weight):
    """PyTorch's shape checks: input [N, C, d...] (shape `xs`), target [N, d...], weight [C]."""
    xs, ts = tuple(xs), tuple(target.shape)
    if len(xs) < 2:
        raise OpError(f"nll_loss(): expected an input of 2 or more dims (N, C, ...), got "
                      f"{len(xs)}")
    if len(ts) != len(xs) - 1 or ts[0] != xs[0]:
        raise ValueError(f"Expected input batch_size ({xs[0]}) to match target batch_size "
                         f"({ts[0] if ts else 0}).")
    if ts[1:] != xs[2:]:
        raise RuntimeError(f"size mismatch (got input: {list(xs)}, target: {list(ts)})")
    if tuple(weight.shape) != (xs[1],):
        raise RuntimeError(f"weight tensor should be defined either for all {xs[1]} classes or "
                           f"no classes but got weight tensor of shape: {list(weight.shape)}")


def _nll_dtype(operands, attrs):
    _check_reduction(attrs["reduction"])
    _nll_operands("nll_loss", *operands)
    return operands[0].dtype, operands[0].dtype


def _nll_shape(operands, attrs):
    x, target, weight = operands
    _nll_shapes(x.shape, target, weight)
    return tuple(target.shape) if attrs["reduction"] == "none" else ()


def _nll_vjp(ctx, g):
    x, target, weight = ctx.inputs
    reduction, ignore_index = ctx.attrs["reduction"], ctx.attrs["ignore_index"]
    grad = None
    if ctx.needs_input_grad[0]:
        grad = ctx.bind("nll_loss_backward", (g, target, weight),
                        {"size": ctx.shapes[0], "reduction": reduction,
                         "ignore_index": ignore_index})
    grad_w = _nll_weight_grad(ctx, g, x, target, weight) if ctx.needs_input_grad[2] else None
    return grad, None, grad_w


def _nll_weight_grad(ctx, g, x, target, weight):
    """d loss / d weight[c], summed over the targets of class c (PyTorch does not give it):
    -input[i, c] each (times the loss's gradient); `mean` differentiates the quotient too,
    (-input[i, c] - loss) / total weight."""
    ignored = ctx.bind("eq", (target, ctx.attrs["ignore_index"]), {})
    safe = ctx.bind("masked_fill", (target, ignored, 0), {})
    picked = ctx.bind("squeeze", (ctx.bind("gather", (x, ctx.bind("unsqueeze", (safe,),
                                                                   {"dim": 1})),
                                           {"dim": 1}),), {"dim": 1})
    per = -picked
    if ctx.attrs["reduction"] == "mean":
        w = ctx.bind("masked_fill", (ctx.bind("index_select", (weight, safe.flatten()),
                                              {"dim": 0}).reshape(safe.shape), ignored, 0.0), {})
        total = w.sum()
        per = (per - (per * w).sum() / total) / total
    per = ctx.bind("masked_fill", (per * g, ignored, 0.0), {})
    zeros = weight.new_zeros(weight.shape)
    return ctx.bind("index_add", (zeros, safe.flatten(), per.flatten()), {"dim": 0})


def _nll_picked(x, target, weight, ignore_index):
    """(-input[i, t_i], w[t_i]) per target, with ignored targets at 0 and weight 0 (float64)."""
    x, target = np.asarray(x, dtype=np.float64), np.asarray(target)
    ignored = target == ignore_index
    safe = np.where(ignored, 0, target)
    picked = np.take_along_axis(x, safe[:, None], axis=1)[:, 0]
    w = np.where(ignored, 0.0, np.asarray(weight, dtype=np.float64)[safe])
    return -picked, w


def _nll_ref(x, target, weight, reduction="mean", ignore_index=-100):
    neg, w = _nll_picked(x, target, weight, ignore_index)
    loss = neg * w
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else \
        loss.sum() / w.sum()


def _nll_samples(rng):
    x = lambda *s: rng.normal(size=s)  # noqa: E731
    w = lambda c: rng.uniform(0.5, 2.0, size=(c,))  # noqa: E731
    return [
        Sample((x(5, 4), rng.integers(0, 4, size=(5,)), np.ones(4))),
        Sample((x(5, 4), rng.integers(0, 4, size=(5,)), w(4)), {"reduction": "sum"}),
        Sample((x(5, 4), np.array([1, -100, 0, 3, -100]), w(4)), {"reduction": "none"},
               note="ignored targets"),
        Sample((x(3, 4), np.array([2, 7, 1]), w(4)), {"ignore_index": 7},
               note="ignore_index 7"),
        Sample((x(2, 3, 2, 2), rng.integers(0, 3, size=(2, 2, 2)), w(3)), {},
               note="spatial dims")]


NLL_LOSS = register(OpDef(
    name="nll_loss", inputs=("input", "target", "weight"),
    attrs={"reduction": "mean", "ignore_index": -100}, kind=OPAQUE,
    dtype_rule=_nll_dtype, shape_rule=_nll_shape, index_inputs=(1,), vjp=_nll_vjp,
    save_inputs=(0, 1, 2), grad_name="NllLossBackward0", ref=_nll_ref, samples=_nll_samples,
    doc="-weight[t] * input[i, t] for each target t (class indices along dim 1; targets equal to "
        "`ignore_index` count 0 with weight 0), then kept (`none`), summed (`sum`) or divided "
        "by the total weight of the counted targets (`mean`); IndexError \"Target t is out of "
        "bounds.\" for a target that is not a class index. F.nll_loss's op; F.cross_entropy is "
        "log_softmax then this."))


def _nll_backward_dtype(operands, attrs):
    _check_reduction(attrs["reduction"])
    g, target, weight = operands
    if not meta.is_tensor(g) or not g.dtype.is_floating_point:
        raise OpError("nll_loss_backward(): expected a floating-point gradient")
    _nll_operands("nll_loss_backward", g, target, weight)
    return g.dtype, g.dtype


def _nll_backward_shape(operands, attrs):
    g, target, weight = operands
    size = tuple(attrs["size"])
    _nll_shapes(size, target, weight)
    want = tuple(target.shape) if attrs["reduction"] == "none" else ()
    if tuple(g.shape) != want:
        raise OpError(f"nll_loss_backward(): the gradient has shape {list(g.shape)}, expected "
                      f"{list(want)}")
    return size


def _nll_backward_vjp(ctx, h):
    # <h, backward(g)> is g times nll_loss(h): so the VJP for g is the loss itself applied to
    # h, and the one for the weight is the loss's weight gradient at h, scaled by g
    g, target, weight = ctx.inputs
    grad_g = None
    if ctx.needs_input_grad[0]:
        grad_g = ctx.bind("nll_loss", (h, target, weight),
                          {"reduction": ctx.attrs["reduction"],
                           "ignore_index": ctx.attrs["ignore_index"]})
    grad_w = _nll_weight_grad(ctx, g, h, target, weight) if ctx.needs_input_grad[2] else None
    return grad_g, None, grad_w


def _nll_backward_ref(g, target, weight, size=(), reduction="mean", ignore_index=-100):
    target = np.asarray(target)
    ignored = target == ignore_index
    safe = np.where(ignored, 0, target)
    w = np.where(ignored, 0.0, np.asarray(weight, dtype=np.float64)[safe])
    g = np.asarray(g, dtype=np.float64)
    coef = g / w.sum() if reduction == "mean" else g
    out = np.zeros(size)
    np.put_along_axis(out, safe[:, None], np.where(ignored, 0.0, -w * coef)[:, None], axis=1)
    return out


def _nll_backward_samples(rng):
    w = lambda c: rng.uniform(0.5, 2.0, size=(c,))  # noqa: E731
    return [
        Sample((np.array(1.5), rng.integers(0, 4, size=(5,)), np.ones(4)), {"size": (5, 4)}),
        Sample((rng.normal(size=(5,)), np.array([1, -100, 0, 3, 2]), w(4)),
               {"size": (5, 4), "reduction": "none"}, note="ignored target"),
        Sample((np.array(-0.5), rng.integers(0, 3, size=(2, 2)), w(3)),
               {"size": (2, 3, 2), "reduction": "sum"}, note="spatial dims")]


NLL_LOSS_BACKWARD = register(OpDef(
    name="nll_loss_backward", inputs=("grad", "target", "weight"),
    attrs={"size": (), "reduction": "mean", "ignore_index": -100}, kind=OPAQUE,
    dtype_rule=_nll_backward_dtype, shape_rule=_nll_backward_shape, index_inputs=(1,),
    vjp=_nll_backward_vjp, save_inputs=(0, 1, 2), grad_name="NllLossBackwardBackward0",
    ref=_nll_backward_ref, samples=_nll_backward_samples,
    doc="The gradient of nll_loss with respect to its input, of shape `size`: zeros, and "
        "-weight[t] * grad (divided by the total weight for `mean`) at each counted target's "
        "class; linear in `grad`, so its own VJP is nll_loss of the incoming gradient."))


# ----------------------------------------------------------------------------------- embedding
# (a lookup, not a loss; it lives beside nll_loss because both are an index-reading op with a
# gradient op of its own)

def _embedding_dtype(operands, attrs):
    weight, indices = operands
    if not meta.is_tensor(weight) or len(weight.shape) != 2:
        raise OpError("embedding(): expected a 2-D weight (num_embeddings, embedding_dim)")
    if not meta.is_tensor(indices) or indices.dtype not in (int64, int32):
        got = indices.dtype.name if meta.is_tensor(indices) else type(indices).__name__
        raise OpError(f"embedding(): expected indices of dtype int64 or int32, got {got}")
    return weight.dtype, weight.dtype


def _embedding_shape(operands, attrs):
    weight, indices = operands
    return tuple(indices.shape) + (weight.shape[1],)


def _embedding_vjp(ctx, g):
    weight, indices = ctx.inputs
    return ctx.bind("embedding_backward", (g, indices),
                    {"num_weights": ctx.shapes[0][0], "padding_idx": ctx.attrs["padding_idx"],
                     "scale_grad_by_freq": ctx.attrs["scale_grad_by_freq"]}), None


def _embedding_ref(weight, indices, padding_idx=None, scale_grad_by_freq=False):
    return np.asarray(weight)[np.asarray(indices)]


def _embedding_samples(rng):
    w = lambda *s: rng.normal(size=s)  # noqa: E731
    return [Sample((w(5, 3), rng.integers(0, 5, size=(4,)))),
            # PyTorch's conventions, not derivatives (finite differences would disagree): the
            # padding row gets no gradient, and scale_grad_by_freq divides by the counts
            Sample((w(6, 2), rng.integers(0, 6, size=(2, 3))), {"padding_idx": 1},
                   grad=False, note="padding row"),
            Sample((w(4, 3), np.array([1, 1, 3, 1])), {"scale_grad_by_freq": True},
                   grad=False, note="scaled by frequency"),
            Sample((w(3, 2), np.array(2)), note="0-d indices")]


EMBEDDING = register(OpDef(
    name="embedding", inputs=("weight", "indices"),
    attrs={"padding_idx": None, "scale_grad_by_freq": False}, kind=OPAQUE,
    dtype_rule=_embedding_dtype, shape_rule=_embedding_shape, index_inputs=(1,),
    vjp=_embedding_vjp, save_inputs=(1,), grad_name="EmbeddingBackward0",
    ref=_embedding_ref, samples=_embedding_samples,
    doc="The rows of `weight` at `indices` (IndexError \"index out of range in self\" for an "
        "index that is not a row). Its gradient (embedding_backward) sums the incoming rows per "
        "index, leaves row `padding_idx` zero, and with `scale_grad_by_freq` divides each row "
        "by how often its index occurs: F.embedding's op."))


def _embedding_backward_dtype(operands, attrs):
    g, indices = operands
    if not meta.is_tensor(g) or not g.dtype.is_floating_point:
        raise OpError("embedding_backward(): expected a floating-point gradient")
    if not meta.is_tensor(indices) or indices.dtype not in (int64, int32):
        raise OpError("embedding_backward(): expected indices of dtype int64 or int32")
    return g.dtype, g.dtype


def _embedding_backward_shape(operands, attrs):
    g, indices = operands
    if tuple(g.shape[:-1]) != tuple(indices.shape) or not g.shape:
        raise OpError(f"embedding_backward(): the gradient has shape {list(g.shape)}, expected "
                      f"{list(indices.shape)} + [embedding_dim]")
    return (attrs["num_weights"], g.shape[-1])


def _embedding_backward_vjp(ctx, h):
    # linear in g: each gradient row receives its index's row of h (zero for the padding row,
    # divided by the index's count when scaled by frequency) -- the same weights as forward
    _, indices = ctx.inputs
    pad, scaled = ctx.attrs["padding_idx"], ctx.attrs["scale_grad_by_freq"]
    rows = ctx.bind("embedding", (h, indices), {"padding_idx": None,
                                                "scale_grad_by_freq": False})
    if scaled:
        ones = rows.new_ones(tuple(indices.shape))
        counts = ctx.bind("index_add", (ones.new_zeros((ctx.attrs["num_weights"],)),
                                        indices.flatten(), ones.flatten()),
                          {"dim": 0, "alpha": 1})
        per = ctx.bind("embedding", (counts.unsqueeze(1), indices),
                       {"padding_idx": None, "scale_grad_by_freq": False})
        rows = rows / per
    if pad is not None:
        keep = ctx.bind("ne", (indices, pad % ctx.attrs["num_weights"]), {})
        rows = rows * keep.unsqueeze(-1).to(rows.dtype)
    return rows, None


def _embedding_backward_ref(g, indices, num_weights=1, padding_idx=None,
                            scale_grad_by_freq=False):
    g, indices = np.asarray(g, dtype=np.float64), np.asarray(indices).reshape(-1)
    rows = g.reshape(-1, g.shape[-1])
    out = np.zeros((num_weights, g.shape[-1]))
    np.add.at(out, indices, rows)
    if scale_grad_by_freq:
        counts = np.bincount(indices, minlength=num_weights)
        out = out / np.maximum(counts, 1)[:, None]
    if padding_idx is not None:
        out[padding_idx % num_weights] = 0
    return out


EMBEDDING_BACKWARD = register(OpDef(
    name="embedding_backward", inputs=("grad", "indices"),
    attrs={"num_weights": 1, "padding_idx": None, "scale_grad_by_freq": False}, kind=OPAQUE,
    dtype_rule=_embedding_backward_dtype, shape_rule=_embedding_backward_shape,
    index_inputs=(1,), vjp=_embedding_backward_vjp, save_inputs=(1,),
    grad_name="EmbeddingBackwardBackward0", ref=_embedding_backward_ref,
    samples=lambda rng: [
        Sample((rng.normal(size=(4, 3)), np.array([0, 2, 2, 4])), {"num_weights": 5}),
        Sample((rng.normal(size=(2, 3, 2)), rng.integers(0, 6, size=(2, 3))),
               {"num_weights": 6, "padding_idx": 1}, note="padding row"),
        Sample((rng.normal(size=(4, 3)), np.array([1, 1, 3, 1])),
               {"num_weights": 4, "scale_grad_by_freq": True}, note="scaled by frequency")],
    doc="The gradient of embedding with respect to its weight: zeros of (num_weights, dim), "
        "each incoming row added at its index, row `padding_idx` zero, divided by each index's "
        "count when `scale_grad_by_freq`."))
