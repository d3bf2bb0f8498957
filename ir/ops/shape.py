"""Shape ops and views: reshape/view, transpose, permute, expand, (un)squeeze, basic indexing,
plus the copies (`clone`, `copy`, `to_dtype`) and `sum_to_size`, which un-broadcasts gradients.

Ops of kind VIEW may return an array sharing memory with their input; the eager runtime then
links the result to its base (shared storage and version counter) and records how to replay the
view, so in-place writes through a view reach the base's autograd history.
"""

from __future__ import annotations

import numpy as np

from .. import meta
from ..registry import OPAQUE, VIEW, Algebra, OpDef, Sample, register
from ..types import Device, float32, float64, int64


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, size=shape)


def _restore_shape(ctx, g):
    return (g.reshape(ctx.shapes[0]),)


VIEW_OP = register(OpDef(
    name="view", inputs=("input",), attrs={"shape": None}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.reshape_shape("view"), vjp=_restore_shape,
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"shape": (4, 3)}),
                         Sample((_u(rng, 2, 6),), {"shape": (-1,)}),
                         Sample((_u(rng, 2, 3, 2),), {"shape": (6, -1)})],
    ref=lambda x, shape: np.reshape(x, shape)))

RESHAPE = register(OpDef(
    name="reshape", inputs=("input",), attrs={"shape": None}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.reshape_shape("reshape"), vjp=_restore_shape,
    grad_name="ViewBackward0",
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"shape": (2, -1)}),
                         Sample((_u(rng, 3, 4).T,), {"shape": (12,)}, note="non-contiguous"),
                         Sample((np.array(1.5),), {"shape": (1, 1)})],
    ref=lambda x, shape: np.reshape(x, shape)))

UNSAFE_VIEW = register(OpDef(
    name="unsafe_view", inputs=("input",), attrs={"shape": None}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.reshape_shape("unsafe_view"),
    vjp=_restore_shape, grad_name="UnsafeViewBackward0",
    samples=lambda rng: [Sample((_u(rng, 6, 4),), {"shape": (2, 3, 4)}),
                         Sample((_u(rng, 2, 6),), {"shape": (-1,)})],
    ref=lambda x, shape: np.reshape(x, shape),
    doc="A reshape of a freshly computed result, as PyTorch's `_unsafe_view` (what its matmul "
        "records when it folds batch dims into one `mm`: UnsafeViewBackward0)."))

TRANSPOSE = register(OpDef(
    name="transpose", inputs=("input",), attrs={"dim0": 0, "dim1": 1}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.transpose_shape,
    vjp=lambda ctx, g: (g.transpose(ctx.attrs["dim0"], ctx.attrs["dim1"]),),
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"dim0": 0, "dim1": 1}),
                         Sample((_u(rng, 2, 3, 4),), {"dim0": -1, "dim1": 0})],
    ref=lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1)))

def _t_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    if len(shape) > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{len(shape)}D")
    return shape[::-1]


T_OP = register(OpDef(
    name="t", inputs=("input",), kind=VIEW, dtype_rule=meta.keep_first, shape_rule=_t_shape,
    vjp=lambda ctx, g: (g.t(),), grad_name="TBackward0",
    samples=lambda rng: [Sample((_u(rng, 3, 4),)), Sample((_u(rng, 3),), note="1-d"),
                         Sample((np.array(1.5),), note="0-d")],
    ref=lambda x: np.transpose(x),
    doc="`Tensor.t()`: the transpose of a matrix (a vector or a scalar as it is, still a new "
        "view); its own op, not `transpose`, because PyTorch names its node TBackward0."))

PERMUTE = register(OpDef(
    name="permute", inputs=("input",), attrs={"dims": None}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.permute_shape,
    vjp=lambda ctx, g: (g.permute(*np.argsort([d % len(ctx.shapes[0])
                                               for d in ctx.attrs["dims"]]).tolist()),),
    samples=lambda rng: [Sample((_u(rng, 2, 3, 4),), {"dims": (2, 0, 1)}),
                         Sample((_u(rng, 3, 4),), {"dims": (-1, 0)})],
    ref=lambda x, dims: np.transpose(x, dims)))

EXPAND = register(OpDef(
    name="expand", inputs=("input",), attrs={"size": None}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.expand_shape,
    vjp=lambda ctx, g: (g.sum_to_size(*ctx.shapes[0]),),
    samples=lambda rng: [Sample((_u(rng, 3, 1),), {"size": (3, 4)}),
                         Sample((_u(rng, 4),), {"size": (2, 3, 4)}),
                         Sample((_u(rng, 1, 4),), {"size": (2, -1, 4)})],
    ref=lambda x, size: np.broadcast_to(
        x, tuple(s if s != -1 else x.shape[i - (len(size) - x.ndim)] for i, s in enumerate(size)))))

SUM_TO_SIZE = register(OpDef(
    name="sum_to_size", inputs=("input",), attrs={"size": None}, kind=OPAQUE, may_alias=True,
    dtype_rule=meta.keep_first, shape_rule=meta.sum_to_shape,
    vjp=lambda ctx, g: (g.expand(*ctx.shapes[0]),),
    samples=lambda rng: [Sample((_u(rng, 2, 3, 4),), {"size": (3, 1)}),
                         Sample((_u(rng, 3, 4),), {"size": (3, 4)})],
    ref=lambda x, size: _sum_to_ref(x, size)))


def _sum_to_ref(x, size):
    lead = x.ndim - len(size)
    x = x.sum(axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, s in enumerate(size) if s == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True) if axes else x


UNSQUEEZE = register(OpDef(
    name="unsqueeze", inputs=("input",), attrs={"dim": 0}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.unsqueeze_shape,
    vjp=lambda ctx, g: (g.squeeze(ctx.attrs["dim"]),),
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"dim": 1}),
                         Sample((_u(rng, 3),), {"dim": -1})],
    ref=lambda x, dim: np.expand_dims(x, dim)))

SQUEEZE = register(OpDef(
    name="squeeze", inputs=("input",), attrs={"dim": None}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.squeeze_shape, vjp=_restore_shape,
    samples=lambda rng: [Sample((_u(rng, 3, 1, 4, 1),), {}),
                         Sample((_u(rng, 3, 1),), {"dim": 1}),
                         Sample((_u(rng, 3, 2),), {"dim": 0}, note="no-op")],
    ref=lambda x, dim=None: np.squeeze(
        x, axis=None if dim is None else tuple(
            d for d in meta.reduce_dims("squeeze", dim, x.ndim) if x.shape[d] == 1))))


def _index_name(inputs, attrs):
    index = attrs["index"]
    if all(i is Ellipsis for i in index):
        return "AliasBackward0"
    if any(isinstance(i, slice) for i in index):
        return "SliceBackward0"
    if any(isinstance(i, int) for i in index):
        return "SelectBackward0"
    return "UnsqueezeBackward0"


GETITEM = register(OpDef(
    name="getitem", inputs=("input",), attrs={"index": ()}, kind=VIEW,
    dtype_rule=meta.keep_first, shape_rule=meta.index_shape, grad_name=_index_name,
    vjp=lambda ctx, g: (ctx.bind("getitem_backward", (g,),
                                 {"shape": ctx.shapes[0], "index": ctx.attrs["index"]}),),
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"index": (1,)}),
                         Sample((_u(rng, 3, 4),), {"index": (slice(None), 2)}),
                         Sample((_u(rng, 4, 5),), {"index": (slice(1, 3), slice(0, 5, 2))}),
                         Sample((_u(rng, 2, 3, 4),), {"index": (Ellipsis, None, -1)}),
                         Sample((_u(rng, 3, 4),), {"index": (2, 3)})],
    ref=lambda x, index: x[index]))

GETITEM_BACKWARD = register(OpDef(
    name="getitem_backward", inputs=("grad",), attrs={"shape": None, "index": ()},
    dtype_rule=meta.keep_first, shape_rule=lambda ops, attrs: tuple(attrs["shape"]),
    vjp=lambda ctx, g: (g[ctx.attrs["index"]],),
    samples=lambda rng: [Sample((_u(rng, 4),), {"shape": (3, 4), "index": (1,)}),
                         Sample((_u(rng, 2, 3),), {"shape": (4, 5),
                                                   "index": (slice(1, 3), slice(0, 5, 2))})],
    ref=lambda g, shape, index: _scatter_ref(g, shape, index)))


def _scatter_ref(g, shape, index):
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


CLONE = register(OpDef(
    name="clone", inputs=("input",), dtype_rule=meta.keep_first, shape_rule=meta.first_shape,
    vjp=lambda ctx, g: (g,), samples=lambda rng: [Sample((_u(rng, 3, 4),))],
    ref=lambda x: np.array(x, copy=True)))

CONTIGUOUS = register(OpDef(
    name="contiguous", inputs=("input",), dtype_rule=meta.keep_first, shape_rule=meta.first_shape,
    may_alias=True,
    vjp=lambda ctx, g: (g,), grad_name="CloneBackward0",
    samples=lambda rng: [Sample((_u(rng, 3, 4),)),
                         Sample((_u(rng, 4, 3).T,), note="non-contiguous")],
    ref=lambda x: np.ascontiguousarray(x),
    doc="The input in C order (a copy only when it is not already): what `x.contiguous()` "
        "records in a graph, so a later `view` sees the layout it needs."))

COPY = register(OpDef(
    name="copy", inputs=("self", "src"), dtype_rule=meta.keep_first,
    shape_rule=lambda ops, attrs: (meta.expand_shape((ops[1],), {"size": tuple(ops[0].shape)})
                                   if meta.is_tensor(ops[1]) else tuple(ops[0].shape)),
    vjp=lambda ctx, g: (None, g), grad_name="CopyBackwards",
    samples=lambda rng: [Sample((_u(rng, 3, 4), _u(rng, 4))), Sample((_u(rng, 2, 2), 1.5))],
    ref=lambda dst, src: np.broadcast_to(np.asarray(src, dtype=dst.dtype), dst.shape)))

TO_DTYPE = register(OpDef(
    name="to_dtype", inputs=("input",), attrs={"dtype": None}, dtype_rule=meta.cast_rule,
    shape_rule=meta.first_shape, vjp=lambda ctx, g: (g,), grad_name="ToCopyBackward0",
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"dtype": float64}),
                         Sample((_u(rng, 3, 4),), {"dtype": float32}, grad=False),
                         Sample((_u(rng, 3, 4) * 3,), {"dtype": int64}, grad=False)],
    ref=lambda x, dtype: x.astype(dtype.np)))

TO_DEVICE = register(OpDef(
    name="to_device", inputs=("input",), attrs={"device": None}, moves_device=True,
    dtype_rule=meta.keep_first, shape_rule=meta.first_shape, grad_name="ToCopyBackward0",
    vjp=lambda ctx, g: (g.to(ctx.devices[0]),),
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"device": Device("cpu")})],
    ref=lambda x, device: x))


def _setitem_ref(x, src, index):
    out = np.array(x, copy=True)
    out[index] = src
    return out


SETITEM = register(OpDef(
    name="setitem", inputs=("self", "src"), attrs={"index": ()},
    dtype_rule=meta.keep_first, shape_rule=meta.first_shape, grad_name="CopySlices",
    vjp=lambda ctx, g: (ctx.bind("setitem", (g, 0.0), {"index": ctx.attrs["index"]}),
                        g[ctx.attrs["index"]]),
    samples=lambda rng: [Sample((_u(rng, 3, 4), _u(rng, 4)), {"index": (1,)}),
                         Sample((_u(rng, 4, 5), _u(rng, 2, 1)),
                                {"index": (slice(1, 3), slice(0, 5, 2))}),
                         Sample((_u(rng, 3, 4), 2.5), {"index": (Ellipsis, 0)})],
    ref=_setitem_ref,
    doc="A copy of `self` with `self[index] = src`: how graphs express a write through a view."))


# --------------------------------------------------------- identities (passes/simplify.py reads)

def _swap(attrs, rank):
    perm = list(range(rank))
    a, b = attrs["dim0"] % max(rank, 1), attrs["dim1"] % max(rank, 1)
    perm[a], perm[b] = perm[b], perm[a]
    return perm


VIEW_OP.algebra = Algebra(same_type_identity=True, reshape_like=True)
RESHAPE.algebra = Algebra(same_type_identity=True, reshape_like=True,
                          from_shape=lambda shape: {"shape": shape})
UNSQUEEZE.algebra = SQUEEZE.algebra = UNSAFE_VIEW.algebra = Algebra(same_type_identity=True,
                                                                    reshape_like=True)


def _swaps_last_two(node, rank):
    """The node is a transposition of its input's last two dims (`transpose(-2, -1)`, `t()`)."""
    perm = node.op.algebra.permutation
    return perm is not None and rank >= 2 and list(perm(node.attrs, rank)) == \
        list(range(rank - 2)) + [rank - 1, rank - 2]


def _transpose_of_product(node, emit):
    """`(a @ b)^T` -> `b^T @ a^T` over the last two dims, when nothing else reads the product:
    the same values (each element is the same dot product), but BLAS writes the result in row
    order, so what reads it (a gradient's consumers, an update kernel) gets a contiguous array
    instead of a transposed view. It is what a linear layer's weight gradient becomes."""
    x = node.inputs[0]
    src = getattr(x, "node", None)
    rank = len(node.output.type.shape)
    if src is None or src.op.name != "matmul" or not emit.single_use(x):
        return None
    if not _swaps_last_two(node, rank):
        return None
    a, b = src.inputs
    if not all(hasattr(t, "type") and len(t.type.shape) == rank for t in (a, b)):
        return None

    def swapped(t):  # t^T: a transposed value's own input, else a new transpose
        made = getattr(t, "node", None)
        if made is not None and _swaps_last_two(made, rank):
            return made.inputs[0]
        return emit(TRANSPOSE, [t], {"dim0": -2, "dim1": -1})
    return emit(src.op, [swapped(b), swapped(a)])


TRANSPOSE.algebra = Algebra(permutation=_swap, rewrite=_transpose_of_product)
T_OP.algebra = Algebra(permutation=lambda attrs, rank: list(range(rank))[::-1],
                       rewrite=_transpose_of_product)
PERMUTE.algebra = Algebra(
    permutation=lambda attrs, rank: [d % rank for d in attrs["dims"]] if rank else [],
    from_permutation=lambda dims: {"dims": tuple(dims)})
EXPAND.algebra = TO_DTYPE.algebra = TO_DEVICE.algebra = Algebra(same_type_identity=True)
CONTIGUOUS.algebra = Algebra(idempotent=True)  # contiguous(contiguous(x)) == contiguous(x)
