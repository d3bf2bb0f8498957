"""Export entries for shape, indexing and creation ops (the table in export_table.py names them):
each reads the node's attributes and its output type, whose sizes are fully known (ints and
symbols), so reshapes target that type rather than re-deriving PyTorch's `-1` rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import meta
from ..ir.graph import Node
from ..ir.types import bool_, int64
from .dtypes import TO_ONNX
from .emitter import INT64_MAX, Emitter
from .lowering import dtypes, finish, out_type, rank, reduce, reshape_to, slices


def reshape(em: Emitter, node: Node) -> list:
    return [reshape_to(em, em.get(node.inputs[0]), out_type(node).shape)]


def transpose(em: Emitter, node: Node) -> list:
    """transpose, permute, t: the axes order the op's own algebra record gives."""
    n = rank(node.inputs[0])
    if n == 0:  # a scalar's transpose is itself (ONNX cannot type an empty `perm`)
        return [em.emit("Identity", [em.get(node.inputs[0])])]
    perm = list(node.op.algebra.permutation(node.attrs, n))
    return [em.emit("Transpose", [em.get(node.inputs[0])], perm=perm)]


def expand(em: Emitter, node: Node) -> list:
    return [em.emit("Expand", [em.get(node.inputs[0]), em.shape(out_type(node).shape)])]


def getitem(em: Emitter, node: Node) -> list:
    """Basic indexing: every int and slice is one Slice axis; the reshape to the output type
    then drops the int axes and adds the None ones."""
    x = node.inputs[0]
    index = list(node.attrs["index"])
    n = rank(x)
    if Ellipsis in index:
        at = index.index(Ellipsis)
        fill = n - sum(1 for i in index if i is not None and i is not Ellipsis)
        index[at:at + 1] = [slice(None)] * fill
    specs, axis = [], 0
    for item in index:
        if item is None:
            continue
        if isinstance(item, slice):
            if item != slice(None):
                specs.append((axis, item.start, item.stop, item.step))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            i = int(item)
            specs.append((axis, i, i + 1 if i != -1 else INT64_MAX, 1))
        else:
            em.fail(f"index entry {item!r} is not an int, a slice, None or ...")
        axis += 1
    y = slices(em, em.get(x), specs)
    return [reshape_to(em, y, out_type(node).shape)]


def cat(em: Emitter, node: Node) -> list:
    result = out_type(node).dtype
    # PyTorch's cat skips 1-D empty tensors (whatever the other ranks); ONNX's Concat does not
    parts = [em.get(x, result) for x in node.inputs if rank(x) != 1 or x.type.shape != (0,)
             or len(node.inputs) == 1]
    dim = meta.normalize_dim("cat", node.attrs["dim"], len(out_type(node).shape))
    return [em.emit("Concat", parts, axis=dim)]


def stack(em: Emitter, node: Node) -> list:
    result = out_type(node).dtype
    dim = meta.normalize_dim("stack", node.attrs["dim"], len(out_type(node).shape))
    parts = [em.emit("Unsqueeze", [em.get(x, result), em.ints([dim])]) for x in node.inputs]
    return [em.emit("Concat", parts, axis=dim)]


def split(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    dim = meta.normalize_dim(node.op.name, node.attrs["dim"], rank(x))
    sizes = [1 if node.op.name == "unbind" else t.type.shape[dim] for t in node.outputs]
    outs = em.emit("Split", [em.get(x), em.shape(sizes)], outputs=len(sizes), axis=dim)
    if node.op.name == "unbind":
        outs = [em.emit("Squeeze", [o, em.ints([dim])]) for o in outs]
    return list(outs)


def flip(em: Emitter, node: Node) -> list:
    n = rank(node.inputs[0])
    dims = [meta.normalize_dim("flip", d, n) for d in node.attrs["dims"]]
    return [slices(em, em.get(node.inputs[0]), [(d, None, None, -1) for d in dims])]


def roll(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    shape = x.type.shape
    name = em.get(x)
    shifts, dims = list(node.attrs["shifts"]), list(node.attrs["dims"])
    if not dims:  # rolls the flattened tensor
        shape = (meta.numel(shape),)
        name = reshape_to(em, name, shape)
        dims = [0]
    for s, d in zip(shifts, dims):
        d = meta.normalize_dim("roll", d, len(shape))
        size = shape[d]
        if isinstance(size, str):
            em.fail("roll over a symbolic size is not exported")
        k = s % size if size else 0
        if k:
            tail = slices(em, name, [(d, size - k, None, 1)])
            head = slices(em, name, [(d, 0, size - k, 1)])
            name = em.emit("Concat", [tail, head], axis=d)
    return [reshape_to(em, name, out_type(node).shape)]


def repeat(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    reps = list(node.attrs["repeats"])
    name = em.get(x)
    if len(reps) > rank(x):
        name = reshape_to(em, name, [1] * (len(reps) - rank(x)) + list(x.type.shape))
    return [em.emit("Tile", [name, em.ints(reps)])]


def gather_like(onnx_op: str, **fixed: Any):
    def entry(em: Emitter, node: Node) -> list:
        x, index = node.inputs
        dim = meta.normalize_dim(node.op.name, node.attrs["dim"], max(rank(x), 1))
        return [em.emit(onnx_op, [em.get(x), em.get(index, int64)], axis=dim, **fixed)]
    return entry


def index_select(em: Emitter, node: Node) -> list:
    x, index = node.inputs
    dim = meta.normalize_dim("index_select", node.attrs["dim"], max(rank(x), 1))
    idx = em.get(index, int64)
    if rank(index) == 0:
        idx = em.emit("Unsqueeze", [idx, em.ints([0])])
    if rank(x) == 0:
        return [em.emit("Identity", [em.get(x)])]
    return [em.emit("Gather", [em.get(x), idx], axis=dim)]


def scatter(reduction: str | None):
    def entry(em: Emitter, node: Node) -> list:
        x, index, src = node.inputs
        dim = meta.normalize_dim(node.op.name, node.attrs["dim"], max(rank(x), 1))
        d = out_type(node).dtype
        src_name = em.get(src, d)
        if rank(src) != rank(x) or not isinstance(src, type(x)):
            src_name = em.emit("Expand", [src_name, em.emit("Shape", [em.get(index)])])
        return [em.emit("ScatterElements", [em.get(x), em.get(index, int64), src_name],
                        axis=dim, reduction=reduction)]
    return entry


def take(em: Emitter, node: Node) -> list:
    x, index = node.inputs
    flat = reshape_to(em, em.get(x), [meta.numel(x.type.shape)]) if all(
        isinstance(d, int) for d in x.type.shape) else em.emit(
        "Reshape", [em.get(x), em.ints([-1])])
    return [em.emit("Gather", [flat, em.get(index, int64)], axis=0)]


def masked_fill(em: Emitter, node: Node) -> list:
    x, mask, value = node.inputs
    d = out_type(node).dtype
    return [em.emit("Where", [em.get(mask, bool_), em.get(value, d), em.get(x, d)])]


def masked_select(em: Emitter, node: Node) -> list:
    x, mask = node.inputs
    xb = em.emit("Where", [em.get(mask, bool_), em.get(x), em.get(x)])  # broadcast both
    mb = em.emit("Expand", [em.get(mask, bool_), em.emit("Shape", [xb])])
    flat = lambda v: em.emit("Reshape", [v, em.ints([-1])])
    return [em.emit("Compress", [flat(xb), flat(mb)], axis=0)]


def nonzero(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    name = em.get(x)
    if rank(x) == 0:
        name = em.emit("Unsqueeze", [name, em.ints([0])])
        nz = em.emit("NonZero", [name])
        return [em.emit("Transpose", [em.emit("Slice", [nz, em.ints([0]), em.ints([0]),
                                                         em.ints([0])])], perm=[1, 0])]
    return [em.emit("Transpose", [em.emit("NonZero", [name])], perm=[1, 0])]


def index(em: Emitter, node: Node) -> list:
    """x[t] for one integer index tensor at one dim: Gather (as NumPy places its dims)."""
    x, *indices = node.inputs
    dims = node.attrs["dims"]
    if len(indices) != 1 or indices[0].type.dtype is bool_:
        em.fail("only one integer index tensor is exported (several, or a boolean mask, are "
                "not)")
    return [em.emit("Gather", [em.get(x), em.get(indices[0], int64)], axis=dims[0])]


def sum_to_size(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    shape, size = list(x.type.shape), list(out_type(node).shape)
    lead = len(shape) - len(size)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(size)
                                 if s == 1 and shape[lead + i] != 1]
    name = em.get(x)
    if dims:
        name = reduce(em, "ReduceSum", name, dims, True)
    return [reshape_to(em, name, size)]


def _filled(em: Emitter, shape_name: str, value: Any, dtype: Any) -> str:
    from onnx import helper
    value = np.asarray(value, dtype=dtype.np)
    return em.emit("ConstantOfShape", [shape_name], value=helper.make_tensor(
        "value", TO_ONNX[dtype], [1], value.reshape(1).tolist()))


def full(em: Emitter, node: Node) -> list:
    t = out_type(node)
    value = node.attrs["fill_value"]
    return [_filled(em, em.shape(t.shape), 0 if value is None else value, t.dtype)]


def folded(em: Emitter, node: Node) -> list:
    """A creation op of known sizes (arange, eye, linspace ...): its values, computed now by
    dualgraph's own kernel, become an initializer."""
    t = out_type(node)
    if not all(isinstance(d, int) for d in t.shape):
        return _symbolic_creation(em, node)
    from ..dispatch import bind
    attrs = dict(node.attrs, device=None)
    value = bind(node.op, [], attrs)
    return [em.const(np.asarray(value._host()), hint=node.op.name)]


def _symbolic_creation(em: Emitter, node: Node) -> list:
    t = out_type(node)
    if node.op.name == "arange":
        a = node.attrs
        d = t.dtype
        to = lambda v: em.cast(em.scalar_size(v), d) if isinstance(v, str) else em.const(
            np.asarray(v, d.np))
        return [em.emit("Range", [to(a["start"]), to(a["end"]), to(a["step"])])]
    if node.op.name == "eye":
        zeros = _filled(em, em.shape(t.shape), 0, t.dtype)
        return [em.emit("EyeLike", [zeros])]
    em.fail(f"sizes {list(t.shape)} are symbolic; only arange and eye export with those")
    return []


def fill(em: Emitter, node: Node) -> list:
    x, value = node.inputs
    d = out_type(node).dtype
    return [em.emit("Expand", [em.get(value, d), em.emit("Shape", [em.get(x)])])]


def zero(em: Emitter, node: Node) -> list:
    t = out_type(node)
    return [_filled(em, em.emit("Shape", [em.get(node.inputs[0])]), 0, t.dtype)]


def copy(em: Emitter, node: Node) -> list:
    x, src = node.inputs
    d = out_type(node).dtype
    return [em.emit("Expand", [em.get(src, d), em.emit("Shape", [em.get(x)])])]


def cast(em: Emitter, node: Node) -> list:
    result, _ = dtypes(node)
    return [finish(em, em.get(node.inputs[0]), em.dtype(node.inputs[0]), result)
            if em.dtype(node.inputs[0]) is not result else em.emit("Identity", [
                em.get(node.inputs[0])])]


def scalar_tensor(em: Emitter, node: Node) -> list:
    return [em.emit("Identity", [em.get(node.inputs[0], out_type(node).dtype)])]


def sym_size(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    d = meta.normalize_dim("sym_size", node.attrs["dim"], rank(x))
    size = em.emit("Shape", [em.get(x)], start=d, end=d + 1)
    return [em.emit("Squeeze", [size, em.ints([0])])]


def constant(em: Emitter, node: Node) -> list:
    return [em.const(np.asarray(node.attrs["value"]), hint=node.meta.get("tensor", "const"))]


def identity(em: Emitter, node: Node) -> list:
    return [em.emit("Identity", [em.get(node.inputs[0])])]
