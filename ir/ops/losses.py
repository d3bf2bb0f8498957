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
        "(PyTorch's binary_cross_entropy error) when an element is outside [0, 1] or NaN."))


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
