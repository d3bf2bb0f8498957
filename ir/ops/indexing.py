"""Joining and splitting (`cat`, `stack`, `split`, `unbind`), reordering copies (`flip`, `roll`,
`repeat`), selection by index or mask (`index_select`, `masked_fill`, `masked_select`, `take`,
`nonzero`) and advanced indexing: `index` (x[tensors]) and `index_put`. Ordering and index-driven
writes are in `ordering.py`.

Advanced indexing is split as PyTorch splits it: the basic part of an index (ints, slices, None,
...) is a `getitem` view; what is left is tensors, each starting at a dim of that view (`dims`).
Sizes that depend on the data (a mask's count, nonzero's, unique's) are `FRESH`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import meta
from ..registry import VIEW, OpDef, OpError, Sample, register
from ..types import FRESH, bool_, int32, int64, result_type

MAX_INDICES = 64  # a tensor has at most 64 dims, hence at most 64 index tensors
_FROM_1 = tuple(range(1, 1 + MAX_INDICES))  # every input after the first
_FROM_2 = tuple(range(2, 2 + MAX_INDICES))
_LEGACY = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
           "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}
_CPP = {"float16": "c10::Half", "float32": "float", "float64": "double", "int8": "signed char",
        "int16": "short int", "int32": "int", "int64": "long int", "uint8": "unsigned char",
        "bool": "bool"}


def _u(rng, *shape):
    return rng.uniform(-2.0, 2.0, size=shape)


def _distinct(rng, *shape):
    """Values without ties (sorting and selection have no gradient at ties)."""
    return rng.permutation(math.prod(shape)).reshape(shape) / 7.0 - 1.0


def _sym(d) -> bool:
    return d is FRESH or isinstance(d, str)


def _same_size(a, b) -> bool:
    return a == b or _sym(a) or _sym(b)


def _shape(x) -> tuple:
    return tuple(x.shape)


def _keep(ops, attrs):
    d = ops[0].dtype
    return d, d


# ------------------------------------------------------------------------ cat, stack, split

def _cat_kept(shapes) -> list:
    """Positions cat really joins: 1-D empty tensors are skipped, as PyTorch's legacy rule says."""
    kept = [i for i, s in enumerate(shapes)  # a symbolic 1-D size is kept: same result
            if not (len(s) == 1 and isinstance(s[0], int) and s[0] == 0)]
    return kept or list(range(len(shapes)))


def _cat_dtype(ops, attrs):
    for i, t in enumerate(ops):
        if not meta.is_tensor(t):
            raise TypeError(f"cat(): expected a sequence of Tensors, got {type(t).__name__} at "
                            f"position {i}")
    d = result_type(ops)
    return d, d


def _cat_shape(ops, attrs):
    if not ops:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    shapes = [_shape(t) for t in ops]
    for i, s in enumerate(shapes):
        if not s:
            raise OpError(f"cat(): zero-dimensional tensor (at position {i}) cannot be "
                          "concatenated")
    kept = _cat_kept(shapes)
    ref = shapes[kept[0]]
    dim = meta.normalize_dim("cat", attrs["dim"], len(ref))
    total = 0
    for i in kept:
        s = shapes[i]
        if len(s) != len(ref):
            raise OpError(f"cat(): Tensors must have same number of dimensions: got {len(ref)} "
                          f"and {len(s)}")
        for d, (a, b) in enumerate(zip(ref, s)):
            if d != dim and not _same_size(a, b):
                raise OpError(f"cat(): Sizes of tensors must match except in dimension {dim}. "
                              f"Expected size {a} but got size {b} for tensor number {i} in "
                              "the list.")
        total = FRESH if total is FRESH or s[dim] is FRESH else meta.dim(total) + meta.dim(s[dim])
    return ref[:dim] + (total,) + ref[dim + 1:]


def _cat_vjp(ctx, g):
    kept = _cat_kept(ctx.shapes)
    dim = ctx.attrs["dim"] % len(ctx.shapes[kept[0]])
    sizes = tuple(ctx.shapes[i][dim] for i in kept)
    pieces = ctx.bind("split", (g,), {"sizes": sizes, "dim": dim})
    grads = [None] * len(ctx.shapes)
    for i, p in zip(kept, pieces):
        grads[i] = p
    return tuple(grads)


def _cat_ref(*xs, dim=0):
    xs = [x for x in xs if x.shape != (0,)] or list(xs)
    dim %= xs[0].ndim
    shape = list(xs[0].shape)
    shape[dim] = sum(x.shape[dim] for x in xs)
    out, start = np.zeros(shape, dtype=np.result_type(*xs)), 0
    for x in xs:
        where = [slice(None)] * len(shape)
        where[dim] = slice(start, start + x.shape[dim])
        out[tuple(where)] = x
        start += x.shape[dim]
    return out


CAT = register(OpDef(
    name="cat", inputs=("*tensors",), attrs={"dim": 0}, dtype_rule=_cat_dtype,
    shape_rule=_cat_shape, vjp=_cat_vjp,
    samples=lambda rng: [Sample((_u(rng, 2, 3), _u(rng, 1, 3), _u(rng, 3, 3)), {"dim": 0}),
                         Sample((_u(rng, 2, 3), _u(rng, 2, 1)), {"dim": -1}),
                         Sample((_u(rng, 2, 2), np.zeros(0)), {"dim": 1}, note="legacy empty"),
                         Sample((_u(rng, 2, 2), np.arange(4).reshape(2, 2)), {"dim": 0},
                                note="promotes")],
    ref=_cat_ref, doc="Join tensors along an existing dim (their dtypes promote)."))


def _stack_shape(ops, attrs):
    if not ops:
        raise RuntimeError("stack(): stack expects a non-empty TensorList")
    s0 = _shape(ops[0])
    for j, t in enumerate(ops[1:], 1):
        s = _shape(t)
        if len(s) != len(s0) or not all(_same_size(a, b) for a, b in zip(s0, s)):
            raise OpError(f"stack(): stack expects each tensor to be equal size, but got "
                          f"{meta.fmt_shape(s0)} at entry 0 and {meta.fmt_shape(s)} at entry {j}")
    dim = meta.normalize_dim("stack", attrs["dim"], len(s0) + 1)
    return s0[:dim] + (len(ops),) + s0[dim:]


STACK = register(OpDef(
    name="stack", inputs=("*tensors",), attrs={"dim": 0}, dtype_rule=_cat_dtype,
    shape_rule=_stack_shape,
    vjp=lambda ctx, g: ctx.bind("unbind", (g,), {"dim": ctx.attrs["dim"]}),
    samples=lambda rng: [Sample((_u(rng, 2, 3), _u(rng, 2, 3)), {"dim": 0}),
                         Sample((_u(rng, 3), _u(rng, 3), _u(rng, 3)), {"dim": -1})],
    ref=lambda *xs, dim=0: np.concatenate([np.expand_dims(x, dim) for x in xs], axis=dim),
    doc="Join same-shaped tensors along a new dim."))


def _pieces_dtype(count):
    def rule(ops, attrs):
        d = ops[0].dtype
        return (d,) * count(ops, attrs), d
    return rule


def _split_shape(ops, attrs):
    shape = _shape(ops[0])
    if not shape:
        raise OpError("split(): split expects at least a 1-dimensional tensor")
    dim = meta.normalize_dim("split", attrs["dim"], len(shape))
    sizes = tuple(attrs["sizes"])
    total = 0
    for s in sizes:
        total = meta.dim(total) + meta.dim(s)
    # Sizes are polynomials of the symbols: a difference that is a non-zero int never fits
    # (B + 8 vs B + 8 fits; (2, 3) of a symbolic B is checked when the graph runs).
    off = 0 if shape[dim] is FRESH else meta.dim(shape[dim]) - total
    if any(not _sym(s) and s < 0 for s in sizes) or (isinstance(off, int) and off != 0):
        raise OpError(f"split(): split_with_sizes expects split_sizes to sum exactly to "
                      f"{shape[dim]} (input tensor's size at dimension {dim}), but got "
                      f"split_sizes={list(sizes)}")
    return tuple(shape[:dim] + (s,) + shape[dim + 1:] for s in sizes)


def _split_ref(x, sizes, dim=0):
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


SPLIT = register(OpDef(
    name="split", inputs=("input",), attrs={"sizes": (), "dim": 0}, kind=VIEW, num_outputs=2,
    dtype_rule=_pieces_dtype(lambda ops, attrs: len(attrs["sizes"])), shape_rule=_split_shape,
    vjp=lambda ctx, grads: (ctx.bind("cat", grads, {"dim": ctx.attrs["dim"]}),),
    grad_name="SplitBackward0",
    samples=lambda rng: [Sample((_u(rng, 5, 2),), {"sizes": (2, 2, 1), "dim": 0}),
                         Sample((_u(rng, 2, 4),), {"sizes": (1, 3), "dim": -1})],
    ref=_split_ref, doc="Consecutive pieces of the given sizes along `dim` (views), as "
                        "torch.split; several outputs, one per piece."))


def _unbind_count(ops, attrs):
    shape = _shape(ops[0])
    if not shape:  # PyTorch's words (a 0-d tensor has nothing to unbind)
        raise IndexError(f"unbind(): Dimension specified as {attrs['dim']} but tensor has no "
                         "dimensions")
    size = shape[meta.normalize_dim("unbind", attrs["dim"], len(shape))]
    if _sym(size):
        raise OpError(f"unbind(): cannot unbind the symbolic dimension {size}: the number of "
                      "outputs must be known")
    return size


def _unbind_shape(ops, attrs):
    shape = _shape(ops[0])
    dim = meta.normalize_dim("unbind", attrs["dim"], len(shape))
    return (shape[:dim] + shape[dim + 1:],) * _unbind_count(ops, attrs)


UNBIND = register(OpDef(
    name="unbind", inputs=("input",), attrs={"dim": 0}, kind=VIEW, num_outputs=2,
    dtype_rule=_pieces_dtype(_unbind_count), shape_rule=_unbind_shape,
    vjp=lambda ctx, grads: (ctx.bind("stack", grads, {"dim": ctx.attrs["dim"]}),),
    samples=lambda rng: [Sample((_u(rng, 3, 2),), {"dim": 0}),
                         Sample((_u(rng, 2, 3),), {"dim": -1})],
    ref=lambda x, dim=0: tuple(np.moveaxis(x, dim, 0)),
    doc="The slices of `input` along `dim`, one output each."))


# --------------------------------------------------------------------- flip, roll, repeat

def _flip_shape(ops, attrs):
    seen = set()
    for d in attrs["dims"]:
        d = meta.normalize_dim("flip", d, len(ops[0].shape))
        if d in seen:
            raise OpError(f"flip(): dim {d} appears multiple times in the list of dims")
        seen.add(d)
    return _shape(ops[0])


def _flip_ref(x, dims):
    where = [slice(None)] * x.ndim
    for d in dims:
        where[d] = slice(None, None, -1)
    return x[tuple(where)]


FLIP = register(OpDef(
    name="flip", inputs=("input",), attrs={"dims": ()}, dtype_rule=_keep,
    shape_rule=_flip_shape, vjp=lambda ctx, g: (ctx.bind("flip", (g,), ctx.attrs),),
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"dims": (0,)}),
                         Sample((_u(rng, 2, 3, 2),), {"dims": (-1, 0)})],
    ref=_flip_ref, doc="A copy with the order of elements reversed along `dims`."))


def _roll_shape(ops, attrs):
    shifts, dims = tuple(attrs["shifts"]), tuple(attrs["dims"])
    if len(shifts) != max(len(dims), 1):
        raise OpError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, "
                      f"dims:{len(dims)}")
    for d in dims:
        meta.normalize_dim("roll", d, len(ops[0].shape))
    return _shape(ops[0])


def _roll_ref(x, shifts, dims):
    if not dims:
        return _roll_ref(x.reshape(-1), shifts, (0,)).reshape(x.shape)
    for s, d in zip(shifts, dims):
        n = x.shape[d]
        x = np.take(x, (np.arange(n) - s) % n, axis=d)
    return x


ROLL = register(OpDef(
    name="roll", inputs=("input",), attrs={"shifts": (), "dims": ()}, dtype_rule=_keep,
    shape_rule=_roll_shape,
    vjp=lambda ctx, g: (ctx.bind("roll", (g,), {"shifts": tuple(-s for s in ctx.attrs["shifts"]),
                                                "dims": ctx.attrs["dims"]}),),
    samples=lambda rng: [Sample((_u(rng, 3, 4),), {"shifts": (1,), "dims": (0,)}),
                         Sample((_u(rng, 3, 4),), {"shifts": (2, -1), "dims": (1, 0)}),
                         Sample((_u(rng, 3, 4),), {"shifts": (5,), "dims": ()})],
    ref=_roll_ref, doc="Elements shifted cyclically along dims (the flattened tensor if none)."))


def _repeat_shape(ops, attrs):
    shape, reps = _shape(ops[0]), tuple(attrs["repeats"])
    if len(reps) < len(shape):
        raise OpError("repeat(): Number of dimensions of repeat dims can not be smaller than "
                      "number of dimensions of tensor")
    padded = (1,) * (len(reps) - len(shape)) + shape
    out = tuple(FRESH if s is FRESH and r != 1 else s if r == 1 else meta.dim(s) * meta.dim(r)
                for s, r in zip(padded, reps))
    for d in out:
        if not _sym(d) and d < 0:
            raise OpError(f"repeat(): Trying to create tensor with negative dimension {d}: "
                          f"{list(out)}")
    return out


def _repeat_vjp(ctx, g):
    reps, shape = tuple(ctx.attrs["repeats"]), tuple(ctx.shapes[0])
    if not reps:
        return (g,)
    padded = (1,) * (len(reps) - len(shape)) + shape
    pairs = tuple(v for r, s in zip(reps, padded) for v in (r, s))
    g = g.reshape(pairs).sum(tuple(range(0, 2 * len(reps), 2)))  # sum over the copies
    return (g.reshape(shape),)


def _repeat_ref(x, repeats):
    x = x.reshape((1,) * (len(repeats) - x.ndim) + x.shape)
    return np.kron(np.ones(repeats, dtype=x.dtype), x)


REPEAT = register(OpDef(
    name="repeat", inputs=("input",), attrs={"repeats": ()}, dtype_rule=_keep,
    shape_rule=_repeat_shape, vjp=_repeat_vjp,
    samples=lambda rng: [Sample((_u(rng, 2, 3),), {"repeats": (2, 2)}),
                         Sample((_u(rng, 3),), {"repeats": (2, 1, 2)})],
    ref=_repeat_ref, doc="The tensor tiled `repeats` times along each dim (torch.repeat)."))


# ---------------------------------------------------------------- selecting by index or mask

def _index_dtype(op_name: str, allowed=(int64, int32), what: str = "int32 or int64"):
    def check(index):
        if index.dtype not in allowed:
            raise OpError(f"{op_name}(): Expected dtype {what} for index")
    return check


def _index_select_rule(ops, attrs):
    x, index = ops
    _index_dtype("index_select")(index)
    if len(index.shape) > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    shape = _shape(x)
    dim = meta.normalize_dim("index_select", attrs["dim"], len(shape))
    n = index.shape[0] if index.shape else 1
    return shape[:dim] + (n,) + shape[dim + 1:] if shape else ()


INDEX_SELECT = register(OpDef(
    name="index_select", inputs=("input", "index"), attrs={"dim": 0}, dtype_rule=_keep,
    shape_rule=_index_select_rule, index_inputs=(1,), save_inputs=(1,),
    vjp=lambda ctx, g: (ctx.bind("index_add", (g.new_zeros(ctx.shapes[0]), ctx.inputs[1], g),
                                 {"dim": ctx.attrs["dim"], "alpha": 1}), None),
    samples=lambda rng: [Sample((_u(rng, 4, 3), np.array([3, 0, 3])), {"dim": 0}),
                         Sample((_u(rng, 2, 4), np.array([1, 2])), {"dim": -1})],
    ref=lambda x, index, dim=0: np.stack([np.take(x, int(i), axis=dim) for i in index],
                                         axis=dim % x.ndim)))


def _mask_check(op_name: str, mask, message=None):
    if mask.dtype is not bool_:
        raise OpError(message or f"{op_name} only supports boolean masks, but got mask with "
                                 f"dtype {_CPP[mask.dtype.name]}")


def _masked_fill_dtype(ops, attrs):
    x, mask, value = ops
    _mask_check("masked_fill_", mask)
    if meta.is_tensor(value) and len(value.shape):
        raise OpError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor "
                      f"with {len(value.shape)} dimension(s).")
    return x.dtype, x.dtype


def _masked_fill_vjp(ctx, g):
    kept = g.masked_fill(ctx.inputs[1], 0.0)
    return kept, None, (g - kept) if ctx.needs_input_grad[2] else None


def _masked_fill_ref(x, mask, value):
    out = np.array(np.broadcast_to(x, np.broadcast_shapes(x.shape, mask.shape)))
    out[np.broadcast_to(mask, out.shape)] = value
    return out


MASKED_FILL = register(OpDef(
    name="masked_fill", inputs=("input", "mask", "value"), dtype_rule=_masked_fill_dtype,
    shape_rule=lambda ops, attrs: meta.broadcast_shapes("masked_fill", _shape(ops[0]),
                                                        _shape(ops[1])),
    index_inputs=(1,), save_inputs=(1,), vjp=_masked_fill_vjp, inplace_variant=True,
    samples=lambda rng: [Sample((_u(rng, 3, 4), rng.random((3, 4)) > 0.5, 2.5)),
                         Sample((_u(rng, 3, 4), rng.random(4) > 0.5, np.array(1.5)),
                                note="0-dim tensor value, broadcast mask")],
    ref=_masked_fill_ref, doc="`value` where `mask` is true (broadcasting), else `input`."))


def _masked_select_dtype(ops, attrs):
    _mask_check("masked_select", ops[1], "masked_select: expected BoolTensor for mask")
    return ops[0].dtype, ops[0].dtype


def _masked_select_vjp(ctx, g):
    shape = meta.broadcast_shapes("masked_select", ctx.shapes[0], ctx.shapes[1])
    mask = ctx.inputs[1].expand(*shape)
    return ctx.bind("index_put", (g.new_zeros(shape), g, mask),
                    {"dims": (0,), "accumulate": False}), None


def _masked_select_shape(ops, attrs):
    meta.broadcast_shapes("masked_select", _shape(ops[0]), _shape(ops[1]))  # checks only
    return (FRESH,)


def _masked_select_ref(x, mask):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    xb, mb = np.broadcast_to(x, shape), np.broadcast_to(mask, shape)
    return np.array([xb[i] for i in np.ndindex(shape) if mb[i]], dtype=x.dtype)


MASKED_SELECT = register(OpDef(
    name="masked_select", inputs=("input", "mask"), dtype_rule=_masked_select_dtype,
    shape_rule=_masked_select_shape,
    index_inputs=(1,), save_inputs=(1,), vjp=_masked_select_vjp,
    samples=lambda rng: [Sample((_u(rng, 3, 4), rng.random((3, 4)) > 0.5)),
                         Sample((_u(rng, 2, 3), rng.random(3) > 0.3), note="broadcast mask")],
    ref=_masked_select_ref, doc="The elements where `mask` is true, as a 1-D tensor whose "
                                "length depends on the data."))


NONZERO = register(OpDef(
    name="nonzero", inputs=("input",), dtype_rule=lambda ops, attrs: (int64, ops[0].dtype),
    shape_rule=lambda ops, attrs: (FRESH, len(ops[0].shape)),
    samples=lambda rng: [Sample((np.where(rng.random((3, 4)) > 0.5, _u(rng, 3, 4), 0.0),)),
                         Sample((rng.random(5) > 0.5,))],
    ref=lambda x: np.array([i for i in np.ndindex(x.shape) if x[i]],
                           dtype=np.int64).reshape(-1, x.ndim),
    doc="The indices of the non-zero elements, one row each (count known only at run time)."))


def _take_rule(ops, attrs):
    if ops[1].dtype is not int64:
        raise OpError(f"take(): Expected a long tensor for index, but got "
                      f"{_LEGACY[ops[1].dtype.name]}")
    return ops[0].dtype, ops[0].dtype


def _take_vjp(ctx, g):
    shape = tuple(ctx.shapes[0])
    flat = ctx.bind("index_put", (g.new_zeros((math.prod(shape),)), g.reshape(-1),
                                  ctx.inputs[1].reshape(-1)), {"dims": (0,), "accumulate": True})
    return flat.reshape(shape), None


TAKE = register(OpDef(
    name="take", inputs=("input", "index"), dtype_rule=_take_rule,
    shape_rule=lambda ops, attrs: _shape(ops[1]), index_inputs=(1,), save_inputs=(1,),
    vjp=_take_vjp,
    samples=lambda rng: [Sample((_u(rng, 3, 4), np.array([[0, 11], [5, -1]]))),
                         Sample((_u(rng, 5), np.array([4, 4, 0])), note="repeated index")],
    ref=lambda x, index: np.ravel(x)[index],
    doc="Elements of the flattened input at `index` (negative counts from the end)."))


# --------------------------------------------------------------------- advanced indexing

def _broadcast_indices(shapes) -> tuple:
    """Broadcast index shapes; a mask's count (FRESH) agrees with any size."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            d = s[i] if len(s) >= -i else 1
            if d == 1:
                continue
            if size == 1 or _sym(size) and not _sym(d):
                size = d
            elif not _sym(d) and not _sym(size) and d != size:
                raise IndexError("shape mismatch: indexing tensors could not be broadcast "
                                 "together with shapes " + ", ".join(meta.fmt_shape(s)
                                                                     for s in shapes))
        out.append(size)
    return tuple(out)


def index_result_shape(shape: tuple, indices, dims) -> tuple:
    """The shape of x[...] for index tensors `indices` starting at `dims` of x (NumPy's rule:
    the broadcast index shape replaces the indexed dims if they are adjacent, else goes first)."""
    if len(indices) != len(dims) or not indices:
        raise OpError(f"index(): expected one start dim per index tensor, got {len(indices)} "
                      f"tensors and dims {tuple(dims)}")
    parts, taken, end, adjacent = [], [], None, True
    for ix, d in zip(indices, dims):
        if ix.dtype not in (int64, int32, bool_):
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        k = len(ix.shape) if ix.dtype is bool_ else 1
        if not isinstance(d, int) or d < (end or 0) or d + k > len(shape):
            raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
        adjacent = adjacent and (end is None or d == end)
        if ix.dtype is bool_:
            for j, (m, s) in enumerate(zip(ix.shape, shape[d:d + k])):
                if not _same_size(m, s):
                    raise IndexError(f"The shape of the mask {meta.fmt_shape(ix.shape)} at "
                                     f"index {j} does not match the shape of the indexed tensor "
                                     f"{meta.fmt_shape(shape)} at index {d + j}")
            parts.append((FRESH,))
        else:
            parts.append(_shape(ix))
        taken.extend(range(d, d + k))
        end = d + k
    b = _broadcast_indices(parts)
    if adjacent:
        return shape[:dims[0]] + b + shape[end:]
    return b + tuple(s for i, s in enumerate(shape) if i not in taken)


def _index_shape(ops, attrs):
    return index_result_shape(_shape(ops[0]), ops[1:], attrs["dims"])


def _index_vjp(ctx, g):
    """Each picked element's gradient goes back to where it was picked (repeats add up)."""
    grad = ctx.bind("index_put", (g.new_zeros(ctx.shapes[0]), g, *ctx.inputs[1:]),
                    {"dims": ctx.attrs["dims"], "accumulate": True})
    return (grad,) + (None,) * (len(ctx.inputs) - 1)


def _index_ref(x, *indices, dims=()):
    where, pos = [], 0
    for ix, d in zip(indices, dims):
        where += [slice(None)] * (d - pos) + [ix]
        pos = d + (ix.ndim if ix.dtype == bool else 1)
    return x[tuple(where)]


def _index_samples(rng):
    x = _u(rng, 3, 4, 2)
    return [Sample((_u(rng, 4, 3), np.array([3, 0, 3])), {"dims": (0,)}, note="repeated"),
            Sample((x, np.array([[2, 0]]), np.array([1, 3])), {"dims": (0, 1)}),
            Sample((x, np.array([2, 0]), np.array([1, -1])), {"dims": (0, 2)},
                   note="non-adjacent"),
            Sample((x, np.array([1, 0])), {"dims": (1,)}),
            Sample((_u(rng, 3, 4), rng.random((3, 4)) > 0.5), {"dims": (0,)}, note="mask"),
            Sample((x, rng.random(4) > 0.3), {"dims": (1,)}, note="mask inside")]


INDEX = register(OpDef(
    name="index", inputs=("input", "*indices"), attrs={"dims": ()}, dtype_rule=_keep,
    shape_rule=_index_shape, index_inputs=_FROM_1, save_inputs=_FROM_1,
    vjp=_index_vjp,
    samples=_index_samples, ref=_index_ref,
    doc="x[tensors]: integer and boolean index tensors, index i starting at dim dims[i]."))


def _index_put_dtype(ops, attrs):
    x, values = ops[0], ops[1]
    if meta.is_tensor(values) and values.dtype is not x.dtype:
        raise OpError(f"index_put(): Index put requires the source and destination dtypes "
                      f"match, got {_LEGACY[x.dtype.name]} for the destination and "
                      f"{_LEGACY[values.dtype.name]} for the source.")
    return x.dtype, x.dtype


def _index_put_shape(ops, attrs):
    shape, values = _shape(ops[0]), ops[1]
    target = index_result_shape(shape, ops[2:], attrs["dims"])
    if meta.is_tensor(values):
        v = _shape(values)
        while len(v) > len(target) and v[0] == 1:
            v = v[1:]
        if len(v) > len(target) or not all(a == 1 or _same_size(a, b)
                                           for a, b in zip(v[::-1], target[::-1])):
            raise OpError(f"index_put(): shape mismatch: value tensor of shape "
                          f"{meta.fmt_shape(values.shape)} cannot be broadcast to indexing "
                          f"result of shape {meta.fmt_shape(target)}")
    return shape


def _index_put_vjp(ctx, g):
    indices, dims = ctx.inputs[2:], ctx.attrs["dims"]
    if ctx.attrs["accumulate"]:
        gself = g
    else:
        gself = ctx.bind("index_put", (g, 0.0, *indices), {"dims": dims, "accumulate": False})
    gval = ctx.bind("index", (g, *indices), {"dims": dims}) if ctx.needs_input_grad[1] else None
    return (gself, gval) + (None,) * len(indices)


def _index_put_ref(x, values, *indices, dims=(), accumulate=False):
    out = np.array(x, copy=True)
    where = _index_ref(np.arange(x.size).reshape(x.shape), *indices, dims=dims)
    vals = np.broadcast_to(values, where.shape)
    for pos in np.ndindex(where.shape):  # element by element, so repeats accumulate
        flat = np.unravel_index(where[pos], x.shape)
        out[flat] = out[flat] + vals[pos] if accumulate else vals[pos]
    return out


def _index_put_samples(rng):
    x = _u(rng, 3, 4)
    return [Sample((x, _u(rng, 4), np.array([2, 0])), {"dims": (0,)}),
            Sample((x, _u(rng, 3), np.array([0, 0, 2]), np.array([1, 1, 3])),
                   {"dims": (0, 1), "accumulate": True}, note="repeats accumulate"),
            Sample((x, 2.5, rng.random((3, 4)) > 0.5), {"dims": (0,)}, note="mask, scalar"),
            Sample((x, np.array(-1.5), np.array([3, 1])), {"dims": (1,), "accumulate": True},
                   note="0-dim values")]


INDEX_PUT = register(OpDef(
    name="index_put", inputs=("self", "values", "*indices"),
    attrs={"dims": (), "accumulate": False}, dtype_rule=_index_put_dtype,
    shape_rule=_index_put_shape, index_inputs=_FROM_2, save_inputs=_FROM_2,
    vjp=_index_put_vjp, inplace_variant=True, samples=_index_put_samples, ref=_index_put_ref,
    doc="A copy of `self` with self[indices] = values (or += with `accumulate`); "
        "x[idx] = v is its in-place form."))
