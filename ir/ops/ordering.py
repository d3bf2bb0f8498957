"""Ordering (`sort`, `topk`, `kthvalue`, `unique`) and index-driven writes (`scatter`,
`index_add`, `index_copy`): the ops whose gradients move values back to the positions an index
chose. Shared sampling helpers come from `indexing.py`."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .. import meta
from ..registry import OpDef, OpError, Sample, register
from ..types import FRESH, bool_, int32, int64
from .indexing import _CPP, _LEGACY, _distinct, _same_size, _shape, _sym, _u


# --------------------------------------------------------------------------------- ordering

def _sorted_dtype(ops, attrs):
    d = ops[0].dtype
    return (d, int64), d


def _scatter_grad_back(g, indices, ctx):
    """The gradient of values picked along a dim goes back to where they were picked from."""
    if not ctx.shapes[0]:
        return g
    return ctx.bind("scatter_add", (g.new_zeros(ctx.shapes[0]), indices, g),
                    {"dim": ctx.attrs["dim"]})


def _sort_shape(ops, attrs):
    shape = _shape(ops[0])
    meta.normalize_dim("sort", attrs["dim"], len(shape))
    return shape, shape


def _sort_ref(x, dim=-1, descending=False, stable=False):
    idx = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, axis=dim), idx


SORT = register(OpDef(
    name="sort", inputs=("input",), attrs={"dim": -1, "descending": False, "stable": False},
    num_outputs=2, dtype_rule=_sorted_dtype, shape_rule=_sort_shape, save_output=(1,),
    vjp=lambda ctx, grads: (_scatter_grad_back(grads[0], ctx.output[1], ctx),),
    samples=lambda rng: [Sample((_distinct(rng, 3, 4),), {"dim": -1}),
                         Sample((_distinct(rng, 3, 4),), {"dim": 0, "descending": True}),
                         Sample((np.array([2, 1, 2, 0, 1]),), {"stable": True}, grad=False,
                                note="ties, stable")],
    ref=_sort_ref, doc="(values, indices) sorted along `dim`."))


def _topk_shape(ops, attrs):
    shape = _shape(ops[0])
    dim = meta.normalize_dim("topk", attrs["dim"], len(shape))
    size = shape[dim] if shape else 1
    if not _sym(size) and not 0 <= attrs["k"] <= size:
        raise OpError("topk(): selected index k out of range")
    out = shape[:dim] + (attrs["k"],) + shape[dim + 1:] if shape else ()
    return out, out


def _topk_ref(x, k, dim=-1, largest=True, **unused):
    values, idx = _sort_ref(x, dim, largest)
    keep = np.arange(k)
    return np.take(values, keep, axis=dim), np.take(idx, keep, axis=dim)


TOPK = register(OpDef(
    name="topk", inputs=("input",), attrs={"k": 1, "dim": -1, "largest": True, "sorted": True},
    num_outputs=2, dtype_rule=_sorted_dtype, shape_rule=_topk_shape, save_output=(1,),
    vjp=lambda ctx, grads: (_scatter_grad_back(grads[0], ctx.output[1], ctx),),
    samples=lambda rng: [Sample((_distinct(rng, 3, 5),), {"k": 2}),
                         Sample((_distinct(rng, 4, 3),), {"k": 3, "dim": 0, "largest": False})],
    ref=_topk_ref, doc="The k largest (or smallest) values along `dim` and their indices."))


def _kthvalue_shape(ops, attrs):
    shape = _shape(ops[0])
    dim = meta.normalize_dim("kthvalue", attrs["dim"], len(shape))
    size = shape[dim] if shape else 1
    if not _sym(size) and not 1 <= attrs["k"] <= size:
        raise OpError(f"kthvalue(): selected number k out of range for dimension {dim}")
    out = meta.reduction_shape("kthvalue")(ops, attrs) if shape else ()
    return out, out


def _kthvalue_vjp(ctx, grads):
    g, idx = grads[0], ctx.output[1]
    if ctx.shapes[0] and not ctx.attrs["keepdim"]:
        g, idx = g.unsqueeze(ctx.attrs["dim"]), idx.unsqueeze(ctx.attrs["dim"])
    return (_scatter_grad_back(g, idx, ctx),)


def _kthvalue_ref(x, k, dim=-1, keepdim=False):
    idx = np.expand_dims(np.argsort(x, axis=dim, kind="stable").take(k - 1, axis=dim), dim)
    values = np.take_along_axis(x, idx, axis=dim)
    return (values, idx) if keepdim else (values.squeeze(dim), idx.squeeze(dim))


KTHVALUE = register(OpDef(
    name="kthvalue", inputs=("input",), attrs={"k": 1, "dim": -1, "keepdim": False},
    num_outputs=2, dtype_rule=_sorted_dtype, shape_rule=_kthvalue_shape, save_output=(1,),
    vjp=_kthvalue_vjp,
    samples=lambda rng: [Sample((_distinct(rng, 3, 5),), {"k": 2}),
                         Sample((_distinct(rng, 4, 3),), {"k": 4, "dim": 0, "keepdim": True})],
    ref=_kthvalue_ref, doc="The k-th smallest value along `dim` and its index."))


def _unique_shape(ops, attrs):
    shape, dim = _shape(ops[0]), attrs["dim"]
    if dim is None:
        return (FRESH,), shape, (FRESH,)
    dim = meta.normalize_dim("unique", dim, len(shape))
    return shape[:dim] + (FRESH,) + shape[dim + 1:], (shape[dim],), (FRESH,)


def _unique_vjp(ctx, grads):
    raise RuntimeError("the derivative for '_unique2' is not implemented.")


def _unique_ref(x, dim=None, **unused):
    if dim is None:
        values = np.array(sorted(set(x.ravel().tolist())), dtype=x.dtype)
        counts = Counter(x.ravel().tolist())
        inverse = np.searchsorted(values, x)
        return values, inverse, np.array([counts[v] for v in values.tolist()], dtype=np.int64)
    return np.unique(x, return_inverse=True, return_counts=True, axis=dim)


UNIQUE = register(OpDef(
    name="unique", inputs=("input",), attrs={"sorted": True, "dim": None}, num_outputs=3,
    dtype_rule=lambda ops, attrs: ((ops[0].dtype, int64, int64), ops[0].dtype),
    shape_rule=_unique_shape, vjp=_unique_vjp, grad_name="Unique2Backward0",
    samples=lambda rng: [Sample((rng.integers(0, 4, size=(3, 4)),), grad=False),
                         Sample((np.array([1.5, -1.0, 1.5, 0.0]),), grad=False)],
    ref=_unique_ref, doc="(sorted distinct values, the inverse map, the counts); sizes depend on "
                         "the data."))


# --------------------------------------------------------------------- index-driven writes

def _scatter_rule(ops, attrs):
    x, index, src = ops
    if index.dtype not in (int64, int32):
        raise OpError("scatter(): Expected dtype int64 for index")
    if meta.is_tensor(src) and src.dtype is not x.dtype:
        raise OpError("scatter(): Expected self.dtype to be equal to src.dtype")
    ndim = len(x.shape)
    dim = meta.normalize_dim("scatter", attrs["dim"], ndim)
    if len(index.shape) != ndim:
        raise OpError(f"scatter(): Index tensor must have the same number of dimensions as self "
                      f"tensor ({len(index.shape)} vs {ndim})")
    src_shape = _shape(src) if meta.is_tensor(src) else None
    for d, n in enumerate(index.shape):
        big_self = d != dim and not _sym(n) and not _sym(x.shape[d]) and n > x.shape[d]
        big_src = src_shape is not None and len(src_shape) == ndim and not _sym(n) and \
            not _sym(src_shape[d]) and n > src_shape[d]
        if big_self or big_src:
            tail = f" and to be smaller size than src {meta.fmt_shape(src_shape)}" \
                if src_shape is not None else ""
            raise OpError(f"scatter(): Expected index {meta.fmt_shape(index.shape)} to be no "
                          f"larger than self {meta.fmt_shape(x.shape)} apart from dimension "
                          f"{dim}{tail}")
    return x.dtype, x.dtype


def _scatter_vjp(ctx, g):
    dim, index = ctx.attrs["dim"], ctx.inputs[1]
    src = g.gather(dim, index) if ctx.needs_input_grad[2] else None
    return ctx.bind("scatter", (g, index, 0.0), {"dim": dim}), None, src


def _scatter_ref(x, index, src, dim=0):
    out = np.array(x, copy=True)
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] = src[pos] if isinstance(src, np.ndarray) else src
    return out


SCATTER = register(OpDef(
    name="scatter", inputs=("self", "index", "src"), attrs={"dim": 0}, dtype_rule=_scatter_rule,
    shape_rule=meta.first_shape, index_inputs=(1,), save_inputs=(1,), vjp=_scatter_vjp,
    inplace_variant=True,
    grad_name=lambda ins, attrs: "ScatterBackward0" if hasattr(ins[2], "shape")
    else "ScatterBackward1",
    samples=lambda rng: [Sample((_u(rng, 3, 4), np.array([[2, 0, 1, 1]]), _u(rng, 1, 4)),
                                {"dim": 0}),
                         Sample((_u(rng, 3, 4), np.array([[3, 0], [1, 2], [0, 1]]), 1.25),
                                {"dim": 1}, note="scalar value")],
    ref=_scatter_ref, doc="A copy of `self` with `src` (or a scalar) written at `index` along "
                          "`dim`."))


def _index_write_rule(op_name: str):
    def rule(ops, attrs):
        x, index, source = ops
        if index.dtype not in (int64, int32):
            raise OpError(f"{op_name}(): Expected dtype int32/int64 for index")
        if source.dtype is not x.dtype:
            raise OpError(f"{op_name}(): self ({_LEGACY[x.dtype.name]}) and source "
                          f"({_LEGACY[source.dtype.name]}) must have the same scalar type")
        if len(index.shape) > 1:
            raise IndexError(f"{op_name}(): Index is supposed to be a vector")
        shape, src = _shape(x), _shape(source)
        dim = meta.normalize_dim(op_name, attrs["dim"], len(shape))
        n = index.shape[0] if index.shape else 1
        if src and not _same_size(src[dim] if len(src) > dim else 1, n):
            raise OpError(f"{op_name}(): Number of indices ({n}) should be equal to "
                          f"source.size(dim): ({src[dim]}), for dim: {dim}")
        if len(src) != len(shape) or not all(_same_size(a, b) for d, (a, b) in
                                             enumerate(zip(shape, src)) if d != dim):
            raise OpError(f"{op_name}(): source {meta.fmt_shape(src)} must have the shape of "
                          f"self {meta.fmt_shape(shape)} apart from dimension {dim}")
        return x.dtype, x.dtype
    return rule


def _index_add_vjp(ctx, g):
    picked = g.index_select(ctx.attrs["dim"], ctx.inputs[1])
    alpha = ctx.attrs["alpha"]
    return g, None, picked if alpha == 1 else picked * alpha


def _index_write_ref(accumulate: bool):
    def ref(x, index, source, dim=0, alpha=1):
        out = np.array(x, copy=True)
        for k, i in enumerate(index):
            dst = np.moveaxis(out, dim, 0)
            dst[i] = dst[i] + alpha * np.take(source, k, axis=dim) if accumulate else \
                np.take(source, k, axis=dim)
        return out
    return ref


def _index_write_samples(rng):
    return [Sample((_u(rng, 4, 3), np.array([0, 2]), _u(rng, 2, 3)), {"dim": 0}),
            Sample((_u(rng, 2, 4), np.array([3, 1, 0]), _u(rng, 2, 3)), {"dim": -1})]


INDEX_ADD = register(OpDef(
    name="index_add", inputs=("self", "index", "source"), attrs={"dim": 0, "alpha": 1},
    dtype_rule=_index_write_rule("index_add_"), shape_rule=meta.first_shape, index_inputs=(1,),
    save_inputs=(1,), vjp=_index_add_vjp, inplace_variant=True,
    samples=lambda rng: _index_write_samples(rng) + [
        Sample((_u(rng, 3, 2), np.array([1, 1]), _u(rng, 2, 2)), {"dim": 0, "alpha": 2.0},
               note="repeated index, alpha")],
    ref=_index_write_ref(True), doc="A copy of `self` with alpha * `source` added at `index` "
                                    "along `dim` (repeated indices accumulate)."))


INDEX_COPY = register(OpDef(
    name="index_copy", inputs=("self", "index", "source"), attrs={"dim": 0},
    dtype_rule=_index_write_rule("index_copy_"), shape_rule=meta.first_shape,
    index_inputs=(1,), save_inputs=(1,), inplace_variant=True,
    vjp=lambda ctx, g: (ctx.bind("index_copy", (g, ctx.inputs[1], g.new_zeros(ctx.shapes[2])),
                                 ctx.attrs), None,
                        g.index_select(ctx.attrs["dim"], ctx.inputs[1])),
    samples=_index_write_samples, ref=_index_write_ref(False),
    doc="A copy of `self` with `source` written at `index` along `dim`."))


# ---------------------------------------------------------- index_fill, put, masked_scatter

def _index_fill_rule(ops, attrs):
    x, index, value = ops
    if index.dtype is not int64:
        raise OpError("index_fill_(): Expected dtype int64 for index.")
    if len(index.shape) > 1:
        raise IndexError("index_fill_(): Index has to be a vector/scalar")
    if meta.is_tensor(value) and len(value.shape):
        raise OpError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor "
                      f"with {len(value.shape)} dimension(s).")
    meta.normalize_dim("index_fill_", attrs["dim"], len(x.shape))
    return x.dtype, x.dtype


def _index_fill_vjp(ctx, g):
    index, dim = ctx.inputs[1], ctx.attrs["dim"]
    kept = ctx.bind("index_fill", (g, index, 0.0), {"dim": dim})
    # the value lands once on each filled position, however often the index repeats it
    value = (g - kept).sum() if ctx.needs_input_grad[2] else None
    return kept, None, value


def _index_fill_ref(x, index, value, dim=0):
    out = np.array(x, copy=True)
    if out.ndim == 0:
        return np.full_like(out, value) if np.size(index) else out
    moved = np.moveaxis(out, dim, 0)
    for i in np.reshape(index, -1):
        moved[int(i)] = value
    return out


INDEX_FILL = register(OpDef(
    name="index_fill", inputs=("self", "index", "value"), attrs={"dim": 0},
    dtype_rule=_index_fill_rule, shape_rule=meta.first_shape, index_inputs=(1,),
    save_inputs=(1,), vjp=_index_fill_vjp, inplace_variant=True,
    grad_name=lambda ins, attrs: "IndexFillBackward1" if hasattr(ins[2], "shape")
    else "IndexFillBackward0",
    samples=lambda rng: [
        Sample((_u(rng, 4, 3), np.array([0, 2]), 1.5), {"dim": 0}),
        Sample((_u(rng, 2, 4), np.array([3, -4, 3]), np.array(-0.5)), {"dim": -1},
               note="0-d value tensor, negative and repeated index"),
        Sample((_u(rng, 3), np.array(1), 2.0), {"dim": 0}, note="0-d index"),
        Sample((rng.integers(0, 5, size=(3, 2)), np.array([1]), 7), {"dim": 0}, grad=False,
               note="int")],
    ref=_index_fill_ref, doc="A copy of `self` with `value` written at `index` along `dim` "
                             "(negative indices count from the end)."))


def _put_rule(ops, attrs):
    x, index, source = ops
    if index.dtype is not int64:
        raise OpError(f"put_(): Expected a long tensor for index, but got "
                      f"{_LEGACY[index.dtype.name]}")
    if source.dtype is not x.dtype:
        raise OpError(f"put_(): self and source expected to have the same dtype, but got "
                      f"self.dtype = {_LEGACY[x.dtype.name]} and source.dtype = "
                      f"{_LEGACY[source.dtype.name]}")
    n_src, n_index = meta.numel(source.shape), meta.numel(index.shape)
    if n_src is not None and n_index is not None and n_src != n_index:
        raise OpError(f"put_(): Expected source and index to have the same number of elements, "
                      f"but got source.numel() = {n_src}, index.numel() = {n_index}")
    return x.dtype, x.dtype


def _put_vjp(ctx, g):
    index = ctx.inputs[1]
    accumulate = ctx.attrs["accumulate"]
    gx = None
    if ctx.needs_input_grad[0]:
        gx = g if accumulate else ctx.bind(
            "put", (g, index, g.new_zeros(ctx.shapes[2])), {"accumulate": False})
    gs = g.take(index) if ctx.needs_input_grad[2] else None
    return gx, None, gs


def _put_ref(x, index, source, accumulate=False):
    out = np.array(x, copy=True)
    flat = out.reshape(-1)
    for i, v in zip(np.reshape(index, -1), np.reshape(source, -1)):
        flat[int(i)] = flat[int(i)] + v if accumulate else v
    return out


PUT = register(OpDef(
    name="put", inputs=("self", "index", "source"), attrs={"accumulate": False},
    dtype_rule=_put_rule, shape_rule=meta.first_shape, index_inputs=(1,), save_inputs=(1,),
    vjp=_put_vjp, inplace_variant=True,
    samples=lambda rng: [
        Sample((_u(rng, 3, 4), np.array([[0, 10], [5, -1]]), _u(rng, 2, 2))),
        Sample((_u(rng, 5), np.array([4, 4, 0]), _u(rng, 3)), {"accumulate": True},
               note="repeated index, accumulate"),
        Sample((np.array(1.5), np.array([0]), _u(rng, 1)), note="0-d self")],
    ref=_put_ref, doc="A copy of `self` with `source`'s elements written at `index` of the "
                      "flattened tensor (added when `accumulate`); negative indices count from "
                      "the end."))


def _masked_scatter_rule(ops, attrs):
    x, mask, source = ops
    if mask.dtype is not bool_:
        raise OpError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                      f"{_CPP[mask.dtype.name]}")
    if source.dtype is not x.dtype:
        raise OpError(f"masked_scatter_: expected self and source to have same dtypes but got "
                      f"{_LEGACY[x.dtype.name]} and {_LEGACY[source.dtype.name]}")
    return x.dtype, x.dtype


def _masked_scatter_shape(ops, attrs):
    return meta.broadcast_shapes("masked_scatter", _shape(ops[0]), _shape(ops[1]))


def _masked_scatter_vjp(ctx, g):
    mask = ctx.inputs[1]
    gx = g.masked_fill(mask, 0.0) if ctx.needs_input_grad[0] else None
    gs = None
    if ctx.needs_input_grad[2]:
        # source element k went to the k-th true position of the mask: route each true
        # position's gradient to its k (cumsum - 1); false positions go to a spare last slot
        n = math.prod(ctx.shapes[2])
        flat_mask = mask.expand(*g.shape).reshape(-1)
        k = flat_mask.cumsum(0) - 1
        slot = ctx.bind("where", (flat_mask, k, n), {})
        acc = ctx.bind("scatter_add", (g.new_zeros((n + 1,)), slot, g.reshape(-1)), {"dim": 0})
        gs = acc[:n].reshape(ctx.shapes[2])
    return gx, None, gs


def _masked_scatter_ref(x, mask, source):
    shape = np.broadcast_shapes(np.shape(x), np.shape(mask))
    out = np.array(np.broadcast_to(x, shape))
    m = np.broadcast_to(mask, shape)
    src = np.reshape(source, -1)
    k = 0
    for pos in np.ndindex(shape):
        if m[pos]:
            out[pos] = src[k]
            k += 1
    return out


MASKED_SCATTER = register(OpDef(
    name="masked_scatter", inputs=("self", "mask", "source"), dtype_rule=_masked_scatter_rule,
    shape_rule=_masked_scatter_shape, index_inputs=(1,), save_inputs=(1,),
    vjp=_masked_scatter_vjp, inplace_variant=True,
    samples=lambda rng: [
        Sample((_u(rng, 3, 4), rng.random((3, 4)) > 0.5, _u(rng, 12))),
        Sample((_u(rng, 2, 3), np.array([True, False, True]), _u(rng, 3, 3)),
               note="broadcast mask, larger source"),
        Sample((_u(rng, 3), np.array([False, False, False]), _u(rng, 2)), note="no true")],
    ref=_masked_scatter_ref, doc="A copy of `self` with `source`'s elements, in order, written "
                                 "where `mask` is true (the mask broadcasts against `self`)."))
