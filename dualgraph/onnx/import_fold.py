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
    if isinstance(known, np.ndarray) and known.dtype.kind in "iu" and known.ndim <= 1 \
            and known.size <= MAX_FOLD:
        return [int(v) for v in known.reshape(-1)], known.ndim == 0
    return None


def make(items: list, scalar: bool = False) -> Any:
    if all(isinstance(v, int) and not isinstance(v, str) for v in items):
        a = np.asarray(items, np.int64)
        return a.reshape(()) if scalar else a
    return Symbolic(items, scalar)


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "Add":
        return a + b
    if op == "Sub":
        return a - b
    if op == "Mul":
        return a * b
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
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "Reshape": lambda b, ins: make(ins[0][0]) if ins[1][0] == [-1] else None,
}
