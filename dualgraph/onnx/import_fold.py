"""Import-time folding of small integer tensors whose entries may be symbolic sizes: what
`Shape -> Gather -> Concat -> Reshape` chains (ours and PyTorch's exporters') compute, so the
Reshape gets its shape as an attribute. Only integer vectors and scalars fold; the arithmetic is
that of sizes (ints and SymExprs), never anything from the file."""

from __future__ import annotations

from typing import Any

import numpy as np

from .import_builder import Builder, Symbolic

MAX_FOLD = 64  # entries: longer vectors are data, not shapes


def as_items(known: Any) -> tuple | None:
    """(entries, is 0-d) of a static value that folds, else None."""
    if isinstance(known, Symbolic):
        return known.items, known.scalar
    if isinstance(known, np.ndarray) and known.dtype.kind in "iub" and known.ndim <= 1 \
            and known.size <= MAX_FOLD:
        return [int(v) for v in known.reshape(-1)], known.ndim == 0
    return None


def make(items: list, scalar: bool = False, dtype: Any = np.int64) -> Any:
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, str) for v in items):
        a = np.asarray(items, dtype)
        return a.reshape(()) if scalar else a
    return Symbolic(items, scalar)


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "Add":
        return a + b
    if op == "Sub":
        return a - b
    if op == "Mul":
        return a * b
    if op == "Mod":
        return a % b
    if op == "Div":
        if isinstance(a, int) and isinstance(b, int) and not isinstance(a, str):
            q = abs(a) // abs(b)
            return q if (a >= 0) == (b > 0) else -q
        return a // b
    raise KeyError(op)


def fold(b: Builder, op_type: str) -> Any:
    """The static result of this node, or None when it does not fold."""
    node = b.onnx_node
    if op_type not in FOLDS or len(node.output) != 1:
        return None
    ins = []
    for name in node.input:
        known = b.static_array(name) if name else None
        items = as_items(known) if known is not None else None
        if items is None:
            return None
        ins.append(items)
    if not ins:
        return None
    try:
        return FOLDS[op_type](b, ins)
    except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError):
        return None


def _gather(b: Builder, ins: list) -> Any:
    (data, _), (idx, scalar) = ins
    if b.attr("axis", 0) != 0:
        return None
    out = [data[int(i)] for i in idx]
    return make(out, scalar)


def _slice(b: Builder, ins: list) -> Any:
    data = ins[0][0]
    starts, ends = ins[1][0], ins[2][0]
    if len(ins) > 3 and ins[3][0] not in ([0], [-1]):
        return None
    step = ins[4][0][0] if len(ins) > 4 else 1
    return make(data[slice(starts[0], ends[0], step)])


def _concat(b: Builder, ins: list) -> Any:
    out: list = []
    for items, _ in ins:
        out.extend(items)
    return make(out)


def _binary(op: str):
    def f(b: Builder, ins: list) -> Any:
        (x, xs), (y, ys) = ins
        if len(x) == 1 and len(y) > 1:
            x = x * len(y)
        if len(y) == 1 and len(x) > 1:
            y = y * len(x)
        return make([_arith(op, p, q) for p, q in zip(x, y)], xs and ys)
    return f


def _unary(fn):
    return lambda b, ins: make([fn(v) for v in ins[0][0]], ins[0][1])


def _extreme(pick):
    def f(b: Builder, ins: list) -> Any:
        out, scalar = list(ins[0][0]), ins[0][1]
        for items, s in ins[1:]:
            if len(out) == 1 and len(items) > 1:
                out = out * len(items)
            if len(items) == 1 and len(out) > 1:
                items = items * len(out)
            if any(isinstance(v, str) for v in out + items):
                return None  # which of two symbolic sizes is larger is not known
            out = [pick(p, q) for p, q in zip(out, items)]
            scalar = scalar and s
        return make(out, scalar)
    return f


def _reduce_prod(b: Builder, ins: list) -> Any:
    if len(ins) > 1 or b.attr("keepdims", 1):
        return None
    n: Any = 1
    for v in ins[0][0]:
        n = n * v
    return make([n], True)


def _range(b: Builder, ins: list) -> Any:
    (start,), (limit,), (delta,) = (i[0] for i in ins)
    if any(isinstance(v, str) for v in (start, limit, delta)) or delta == 0:
        return None
    out = list(range(start, limit, delta))
    return make(out) if len(out) <= MAX_FOLD else None


def _where(b: Builder, ins: list) -> Any:
    (cond, _), (x, xs), (y, ys) = ins
    n = max(len(cond), len(x), len(y))
    stretch = lambda v: v * n if len(v) == 1 else v
    return make([p if c else q for c, p, q in zip(stretch(cond), stretch(x), stretch(y))],
                xs and ys)


def _equal(b: Builder, ins: list) -> Any:
    (x, xs), (y, ys) = ins
    n = max(len(x), len(y))
    stretch = lambda v: v * n if len(v) == 1 else v
    out = []
    for p, q in zip(stretch(x), stretch(y)):
        if (isinstance(p, str) or isinstance(q, str)) and p != q:
            return None  # a symbol may take any value
        out.append(int(p == q))
    return make(out, xs and ys, np.bool_)


def _constant_of_shape(b: Builder, ins: list) -> Any:
    from onnx import numpy_helper
    (shape, _), = ins
    t = b.attr_proto("value")
    value = numpy_helper.to_array(t.t).reshape(-1) if t is not None else None
    if value is None or value.dtype.kind not in "iub" or len(shape) != 1 or \
            isinstance(shape[0], str) or shape[0] > MAX_FOLD:
        return None
    return make([value[0].item()] * shape[0], False, value.dtype)


def _logical(fn):
    def f(b: Builder, ins: list) -> Any:
        if any(isinstance(v, str) for items, _ in ins for v in items):
            return None
        if len(ins) == 1:
            return make([int(fn(v)) for v in ins[0][0]], ins[0][1], np.bool_)
        (x, xs), (y, ys) = ins
        n = max(len(x), len(y))
        stretch = lambda v: v * n if len(v) == 1 else v
        return make([int(fn(p, q)) for p, q in zip(stretch(x), stretch(y))], xs and ys,
                    np.bool_)
    return f


def _cast(b: Builder, ins: list) -> Any:
    from .dtypes import INT32, INT64
    if b.attr("to") not in (INT64, INT32):
        return None
    return make(*ins[0])


FOLDS = {
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Unsqueeze": lambda b, ins: make(ins[0][0]) if ins[0][1] else None,
    "Squeeze": lambda b, ins: make(ins[0][0], True) if len(ins[0][0]) == 1 else None,
    "Identity": lambda b, ins: make(*ins[0]),
    "Cast": _cast,
    "Mod": lambda b, ins: None if b.attr("fmod", 0) else _binary("Mod")(b, ins),
    "Not": _logical(lambda v: not v), "And": _logical(lambda p, q: bool(p) and bool(q)),
    "Or": _logical(lambda p, q: bool(p) or bool(q)),
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "Reshape": lambda b, ins: make(ins[0][0]) if ins[1][0] in ([-1], [len(ins[0][0])])
    else None,
    "ConstantOfShape": _constant_of_shape,
    "Size": lambda b, ins: make([len(ins[0][0])] if not ins[0][1] else [1], True),
    "Shape": lambda b, ins: make([len(ins[0][0])] if not ins[0][1] else []),
    "Neg": _unary(lambda v: -v), "Abs": _unary(lambda v: v if isinstance(v, str) else abs(v)),
    "Max": _extreme(max), "Min": _extreme(min),
    "ReduceProd": _reduce_prod, "Range": _range, "Where": _where, "Equal": _equal,
}
