"""Reductions (`sum`, `mean` over all dims, one dim or several, with `keepdim` and `dtype=`) and
`matmul` with NumPy's 1-D, 2-D and batched-broadcast semantics."""

from __future__ import annotations

import math

import numpy as np

from .. import meta
from ..registry import OPAQUE, REDUCTION, Algebra, OpDef, Sample, register
from ..types import int64


def _grad_to_input_shape(ctx, g):
    """Broadcast a reduction's output gradient back over the reduced dims."""
    shape = ctx.shapes[0]
    dims = meta.reduce_dims(ctx.op_name, ctx.attrs["dim"], len(shape))
    if not ctx.attrs["keepdim"] and len(dims) < len(shape):  # a 0-d grad expands as it is
        g = g.reshape(tuple(1 if i in dims else d for i, d in enumerate(shape)))
    return g.expand(*shape), dims


def _count(g, shape, dims):
    """How many elements each output averages: a number, or — when a reduced size is symbolic
    (graph autodiff of a dynamic batch) — a 0-d tensor counted when the graph runs."""
    sizes = tuple(shape[d] for d in dims)
    if all(isinstance(s, int) for s in sizes):
        return math.prod(sizes)
    return g.new_ones(sizes).sum()


def _sum_vjp(ctx, g):
    return (_grad_to_input_shape(ctx, g)[0],)


def _mean_vjp(ctx, g):
    grad, dims = _grad_to_input_shape(ctx, g)
    return (grad / _count(g, ctx.shapes[0], dims),)


def _reduction_samples(rng):
    x = rng.uniform(-2.0, 2.0, size=(3, 4, 2))
    return [Sample((x,), {}), Sample((x,), {"dim": 1}), Sample((x,), {"dim": -1, "keepdim": True}),
            Sample((x,), {"dim": (0, 2)}), Sample((np.array(1.5),), {})]


def _numbered(base):
    """`SumBackward0` for a full reduction, `SumBackward1` with `dim=`, as PyTorch names them."""
    return lambda ins, attrs: f"{base}Backward{0 if attrs.get('dim') is None else 1}"


def _np_axis(dim):
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


SUM = register(OpDef(
    name="sum", inputs=("input",), attrs={"dim": None, "keepdim": False, "dtype": None},
    kind=REDUCTION, dtype_rule=meta.reduction_dtype("sum", needs_float=False),
    shape_rule=meta.reduction_shape("sum"), vjp=_sum_vjp, grad_name=_numbered("Sum"),
    samples=_reduction_samples,
    ref=lambda x, dim=None, keepdim=False, dtype=None: np.sum(x, axis=_np_axis(dim),
                                                              keepdims=keepdim)))

MEAN = register(OpDef(
    name="mean", inputs=("input",), attrs={"dim": None, "keepdim": False, "dtype": None},
    kind=REDUCTION, dtype_rule=meta.reduction_dtype("mean", needs_float=True),
    shape_rule=meta.reduction_shape("mean"), vjp=_mean_vjp, grad_name=_numbered("Mean"),
    samples=_reduction_samples,
    ref=lambda x, dim=None, keepdim=False, dtype=None: np.mean(x, axis=_np_axis(dim),
                                                               keepdims=keepdim)))


def _matmul_vjp(ctx, g):
    a, b = ctx.inputs
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    if a.ndim == 1:  # (k) @ (..., k, n) -> (..., n)
        ga = (g.unsqueeze(-2) @ b.mT).squeeze(-2)
        gb = a.unsqueeze(-1) * g.unsqueeze(-2)
    elif b.ndim == 1:  # (..., m, k) @ (k) -> (..., m)
        ga = g.unsqueeze(-1) * b
        gb = (a.mT @ g.unsqueeze(-1)).squeeze(-1)
    else:  # batch dims that were broadcast are summed back by the runtime
        ga = g @ b.mT if ctx.needs_input_grad[0] else None
        gb = a.mT @ g if ctx.needs_input_grad[1] else None
    return ga, gb


def _matmul_name(ins, attrs):
    na, nb = ins[0].ndim, ins[1].ndim
    if na == 1 and nb == 1:
        return "DotBackward0"
    if na == 2 and nb == 2:
        return "MmBackward0"
    if na == 2 and nb == 1:
        return "MvBackward0"
    return "BmmBackward0" if na == nb == 3 else "MatmulBackward0"


MATMUL = register(OpDef(
    name="matmul", inputs=("input", "other"), kind=OPAQUE, dtype_rule=meta.same_dtype("matmul"),
    shape_rule=meta.matmul_shape, vjp=_matmul_vjp, save_inputs=(0, 1), grad_name=_matmul_name,
    samples=lambda rng: [
        Sample((rng.normal(size=(3, 4)), rng.normal(size=(4, 5))), note="mm"),
        Sample((rng.normal(size=4), rng.normal(size=4)), note="dot"),
        Sample((rng.normal(size=(3, 4)), rng.normal(size=4)), note="mv"),
        Sample((rng.normal(size=4), rng.normal(size=(2, 4, 3))), note="vector @ batch"),
        Sample((rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))), note="batch @ matrix"),
        Sample((rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(3, 4, 2))), note="broadcast")],
    ref=np.matmul))


def _arg_reduction_dtype(operands, attrs):
    d = operands[0].dtype
    return (d, int64), d


def _arg_reduction_shape(op_name: str):
    def rule(operands, attrs):
        shape = tuple(operands[0].shape)
        dim = meta.normalize_dim(op_name, attrs["dim"], len(shape))
        if shape and shape[dim] == 0:
            raise IndexError(f"{op_name}(): Expected reduction dim {dim} to have non-zero size.")
        out = meta.reduction_shape(op_name)(operands, attrs)
        return out, out
    return rule


def _select_vjp(ctx, grads):
    """max/min along a dim: the gradient goes to the selected element of each slice."""
    g = grads[0]
    if not ctx.shapes[0]:  # a 0-d input: its one element was selected
        return (g,)
    indices = ctx.output[1]
    dim = ctx.attrs["dim"]
    if not ctx.attrs["keepdim"]:
        g, indices = g.unsqueeze(dim), indices.unsqueeze(dim)
    return (ctx.bind("scatter_add", (g.new_zeros(ctx.shapes[0]), indices, g), {"dim": dim}),)


def _select_samples(rng):
    x = rng.permutation(24).reshape(2, 3, 4) / 7.0  # distinct values: no ties
    return [Sample((x,), {"dim": 1}), Sample((x,), {"dim": -1, "keepdim": True}),
            Sample((x[0, 0],), {"dim": 0}),
            Sample((np.array(x[0, 0, 0]),), {"dim": 0}, note="0-d"),
            Sample((np.array(x[0, 0, 1]),), {"dim": -1, "keepdim": True}, note="0-d, keepdim")]


def _select_ref(pick):
    def ref(x, dim, keepdim=False):
        if np.ndim(x) == 0:  # PyTorch: the value itself and index 0
            return np.array(x, copy=True), np.array(0, dtype=np.int64)
        idx = np.expand_dims(pick(x, axis=dim), dim)
        values = np.take_along_axis(x, idx, axis=dim)
        return (values, idx) if keepdim else (np.squeeze(values, dim), np.squeeze(idx, dim))
    return ref


for _name, _pick in (("max", np.argmax), ("min", np.argmin)):
    register(OpDef(
        name=_name, inputs=("input",), attrs={"dim": 0, "keepdim": False}, kind=REDUCTION,
        num_outputs=2, dtype_rule=_arg_reduction_dtype, shape_rule=_arg_reduction_shape(_name),
        vjp=_select_vjp, save_output=(1,), samples=_select_samples, ref=_select_ref(_pick),
        doc=f"({_name} values, their indices) along `dim`, as torch.{_name}(x, dim) returns."))


# identities (passes/simplify.py reads): over size-1 dims these return their input
SUM.algebra = MEAN.algebra = Algebra(unit_reduction=True)
