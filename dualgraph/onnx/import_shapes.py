"""Import entries for ONNX's shape, indexing and creation ops (the table in import_table.py
names them). Sizes they need as attributes come from `Builder.static_ints`: constants, or shapes
folded symbolically (import_fold.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import meta
from ..ir.graph import Value
from .dtypes import from_onnx
from .import_builder import Builder, Symbolic


def _rank(v: Any) -> int:
    return len(v.type.shape)


def reshape(b: Builder) -> list:
    x = b.value(0)
    shape = b.static_ints(1, "shape")
    if not b.attr("allowzero", 0):
        shape = [x.type.shape[i] if (not isinstance(d, str) and d == 0) else d
                 for i, d in enumerate(shape)]
    return [b.emit("reshape", [x], shape=tuple(shape))]


def flatten(b: Builder) -> list:
    x = b.value(0)
    shape = x.type.shape
    axis = b.attr("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    return [b.emit("reshape", [x], shape=(meta.numel(shape[:axis]), meta.numel(shape[axis:])))]


def transpose(b: Builder) -> list:
    x = b.value(0)
    perm = b.attr("perm", list(range(_rank(x)))[::-1])
    return [b.emit("permute", [x], dims=tuple(perm))]


def squeeze(b: Builder) -> list:
    x = b.value(0)
    axes = b.attr("axes")
    if axes is None and b.has(1):
        axes = b.static_ints(1, "axes")
    if axes is None:
        return [b.emit("squeeze", [x])]
    dims = tuple(meta.normalize_dim("Squeeze", int(a), _rank(x)) for a in axes)
    return [b.emit("squeeze", [x], dim=dims)]


def unsqueeze(b: Builder) -> list:
    x = b.value(0)
    axes = b.attr("axes")
    if axes is None:
        axes = b.static_ints(1, "axes")
    out_rank = _rank(x) + len(axes)
    for a in sorted(meta.normalize_dim("Unsqueeze", int(a), out_rank) for a in axes):
        x = b.emit("unsqueeze", [x], dim=a)
    return [x]


def concat(b: Builder) -> list:
    return [b.emit("cat", b.values(), dim=b.attr("axis"))]


def split(b: Builder) -> list:
    x = b.value(0)
    axis = meta.normalize_dim("Split", b.attr("axis", 0), _rank(x))
    sizes = b.attr("split")
    if sizes is None and b.has(1):
        sizes = b.static_ints(1, "split")
    n = len(b.onnx_node.output)
    if sizes is None:
        size = x.type.shape[axis]
        if isinstance(size, str):
            b.fail("Split of a symbolic size into equal parts", unsupported=True)
        k = b.attr("num_outputs", n)
        chunk = -(-size // k)
        sizes = [chunk] * (size // chunk) + ([size % chunk] if size % chunk else [])
    outs = b.emit("split", [x], sizes=tuple(int(s) for s in sizes), dim=axis)
    return outs if isinstance(outs, list) else [outs]


def slice_(b: Builder) -> list:
    x = b.value(0)
    starts = b.static_ints(1, "starts")
    ends = b.static_ints(2, "ends")
    n = _rank(x)
    axes = b.static_ints(3, "axes") if b.has(3) else list(range(len(starts)))
    steps = b.static_ints(4, "steps") if b.has(4) else [1] * len(starts)
    index: list = [slice(None)] * n
    flips = []
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = meta.normalize_dim("Slice", int(a), n)
        if st > 0:
            index[a] = slice(s, e, st)
            continue
        size = x.type.shape[a]
        if isinstance(size, str) or isinstance(s, str) or isinstance(e, str):
            b.fail("a negative step over a symbolic size", unsupported=True)
        lo, hi = _clamp_negative(s, e, size)
        flips.append(a)
        index[a] = slice(size - 1 - lo, size - 1 - hi, -st)
    if flips:
        x = b.emit("flip", [x], dims=tuple(flips))
    return [b.emit("getitem", [x], index=tuple(index))]


def _clamp_negative(start: int, end: int, size: int) -> tuple:
    """ONNX's bounds for a negative step: start in [0, size-1], end in [-1, size-1]."""
    start = start + size if start < 0 else start
    end = end + size if end < 0 else end
    return max(min(start, size - 1), -1 if size == 0 else 0), max(min(end, size - 1), -1)


def _positive(b: Builder, index: Value, x: Value, axis: int) -> Value:
    """Negative indices (ONNX allows them) counted from the end, as torch's gather needs."""
    size = x.type.shape[axis]
    size_v = b.size_value(size) if isinstance(size, str) else int(size)
    neg = b.emit("lt", [index, 0])
    return b.emit("where", [neg, b.emit("add", [index, size_v]), index])


def gather(b: Builder) -> list:
    x, index = b.value(0), b.value(1)
    axis = meta.normalize_dim("Gather", b.attr("axis", 0), _rank(x))
    return [b.emit("index", [x, _positive(b, index, x, axis)], dims=(axis,))]


def gather_elements(b: Builder) -> list:
    x, index = b.value(0), b.value(1)
    axis = meta.normalize_dim("GatherElements", b.attr("axis", 0), _rank(x))
    return [b.emit("gather", [x, _positive(b, index, x, axis)], dim=axis)]


def scatter_elements(b: Builder) -> list:
    x, index, src = b.value(0), b.value(1), b.value(2)
    axis = meta.normalize_dim("ScatterElements", b.attr("axis", 0), _rank(x))
    mode = b.attr("reduction", "none")
    op = {"none": "scatter", "add": "scatter_add"}.get(mode)
    if op is None:
        b.fail(f"ScatterElements with reduction={mode!r}", unsupported=True)
    return [b.emit(op, [x, _positive(b, index, x, axis), src], dim=axis)]


def expand(b: Builder) -> list:
    x = b.value(0)
    shape = b.static_ints(1, "shape")
    out = meta.broadcast_shapes("Expand", tuple(x.type.shape), tuple(shape))
    return [b.emit("expand", [x], size=tuple(out))]


def tile(b: Builder) -> list:
    return [b.emit("repeat", [b.value(0)], repeats=tuple(b.static_ints(1, "repeats")))]


def shape(b: Builder) -> list:
    src = b.scope.find("values", b.onnx_node.input[0])
    if src is None:
        src = b.value(0)
    dims = list(src.type.shape)
    start, end = b.attr("start", 0), b.attr("end", None)
    return [Symbolic(dims[slice(start, end)]) if any(isinstance(d, str) for d in dims)
            else np.asarray(dims[slice(start, end)], np.int64)]


def size(b: Builder) -> list:
    n = meta.numel(b.value(0).type.shape)
    if isinstance(n, str):
        return [Symbolic([n], scalar=True)]
    return [np.asarray(n, np.int64)]


def constant(b: Builder) -> list:
    from onnx import numpy_helper
    for a in b.onnx_node.attribute:
        if a.name == "value":
            return [numpy_helper.to_array(a.t)]
        if a.name == "value_float":
            return [np.asarray(a.f, np.float32)]
        if a.name == "value_floats":
            return [np.asarray(list(a.floats), np.float32)]
        if a.name == "value_int":
            return [np.asarray(a.i, np.int64)]
        if a.name == "value_ints":
            return [np.asarray(list(a.ints), np.int64)]
    b.fail("Constant without a value, value_float(s) or value_int(s)", unsupported=True)
    return []


def constant_of_shape(b: Builder) -> list:
    from onnx import numpy_helper
    shape = b.static_ints(0, "shape")
    t = b.attr_proto("value")
    value = numpy_helper.to_array(t.t).reshape(-1) if t is not None else np.zeros(1, np.float32)
    d = from_onnx(t.t.data_type, b.where) if t is not None else from_onnx(1, b.where)
    return [b.emit("full", [], size=tuple(shape), fill_value=value[0].item(), dtype=d)]


def range_(b: Builder) -> list:
    vals = [b.static(i, name) for i, name in enumerate(("start", "limit", "delta"))]
    if any(not isinstance(v, np.ndarray) for v in vals):
        b.fail("Range over sizes known only at run time", unsupported=True)
    from .dtypes import TO_ONNX
    d = from_onnx(TO_ONNX.get(_np_dtype(vals[0]), 1), b.where)
    s, e, st = (v.item() for v in vals)
    return [b.emit("arange", [], start=s, end=e, step=st, dtype=d)]


def _np_dtype(a: np.ndarray) -> Any:
    from ..ir.types import dtype_from_numpy
    return dtype_from_numpy(a.dtype)
