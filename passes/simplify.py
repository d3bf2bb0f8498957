"""Algebraic simplification: `x * 1`, `x + 0`, `--x`, `x ** 1`, `x ** 2 -> x * x`, double
transposes and permutes, reshape of reshape, views and casts to what the value already is, detach
chains, sums and means over size-1 dims.

The pass names no op: it reads each op's `Algebra` record (ir/registry.py), which the op
declares beside its kernel and VJP. Every rewrite keeps the value's dtype and shape exactly —
`x * 1.0` with `x` an integer tensor is a float tensor, so it stays — and graph outputs are never
replaced by a graph input (the caller would get the input's array back). Unread nodes are left
for dce. One caveat, shared with every compiler that folds `x + 0`: it maps -0.0 to +0.0
in eager mode and keeps -0.0 here (the two compare equal).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.graph import Graph, Node, Value
from ..ir.registry import all_ops
from ..ir.types import TensorType
from .rewrite import Emitter, carried_meta, replace_uses


def simplify(graph: Graph, log: list) -> bool:
    """Apply the ops' algebraic identities in place; True if any value was rewritten."""
    protected = {v for v in graph.outputs if isinstance(v, Value)}
    inputs = set(graph.inputs)
    mapping: dict = {}
    uses = graph.uses()
    sole = lambda v: v not in protected and len(uses.get(v, ())) == 1  # noqa: E731
    graph.nodes = _scan(graph.nodes, mapping, log, protected, inputs, sole)
    replace_uses(graph, mapping)
    return bool(mapping)


def _resolve(x: Any, mapping: dict) -> Any:
    while isinstance(x, Value) and x in mapping:
        x = mapping[x]
    return x


def _scan(nodes: list, mapping: dict, log: list, protected: set, inputs: set,
          sole: Any) -> list:
    out: list = []
    for node in nodes:
        node.inputs = [_resolve(x, mapping) for x in node.inputs]
        for b in node.blocks:
            b.nodes = _scan(b.nodes, mapping, log, protected, inputs, sole)
            b.outputs = [_resolve(y, mapping) for y in b.outputs]
        out.append(node)
        if node.op.control or node.op.num_outputs != 1 or node.op.effect or node.op.random:
            continue
        emitted: list = []
        new = _rule(node, Emitter(emitted, carried_meta(node), single_use=sole))
        if new is None:
            continue
        if node.output in protected and (new in inputs or _is_literal(new)):
            continue
        out[-1:-1] = emitted
        mapping[node.output] = new
        log.append(("rewritten", node, f"{node.op.name}: {_describe(node, new)}"))
    return out


def _is_literal(x: Any) -> bool:
    return not isinstance(x, Value)


def _describe(node: Node, new: Any) -> str:
    if isinstance(new, Value) and new.node is not None and new.node is not node:
        return f"now {new.node.op.name}"
    return "removed (identity)"


def _producer(x: Any) -> Node | None:
    return x.node if isinstance(x, Value) else None


def _rule(node: Node, emit: Emitter) -> Any:
    alg, out = node.op.algebra, node.output.type
    x = node.inputs[0] if node.inputs else None
    if alg.identity is not None:
        found = _identity(node, alg.identity)
        if found is not None:
            return found
    if not isinstance(x, Value):
        return None
    src = _producer(x)
    if alg.same_type_identity and x.type == out:
        return x
    if src is not None and src.op is node.op and src.attrs == node.attrs:
        if alg.involution and _typed(src.inputs[0], out):
            return src.inputs[0]
        if alg.idempotent:
            return x
    if alg.permutation is not None:
        found = _permutation(node, x, emit)
        if found is not None or alg.rewrite is None:
            return found
    if alg.reshape_like and src is not None and src.op.algebra.reshape_like:
        return _reshape(src.inputs[0], out, emit)
    if alg.unit_reduction:
        return _unit_reduction(node, x, emit)
    if alg.rewrite is not None:
        return alg.rewrite(node, emit)
    return None


def _typed(x: Any, t: Any) -> bool:
    return isinstance(x, Value) and x.type == t


def _identity(node: Node, identity: Any) -> Any:
    rules = identity(node.attrs) if callable(identity) else identity
    for pos, neutral in rules.items():
        if len(node.inputs) != 2:
            return None
        other = node.inputs[1 - pos]
        if _is_neutral(node.inputs[pos], neutral) and _typed(other, node.output.type):
            return other
    return None


def _is_neutral(x: Any, neutral: Any) -> bool:
    if isinstance(x, Value):
        src = x.node
        if src is None or src.op.name != "constant":
            return False
        data = np.asarray(src.attrs["value"])
        return data.size > 0 and bool(np.all(data == neutral))
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == neutral


def _canonical(predicate: str) -> Any:
    """The op that expresses any reshape (`from_shape`) or any permutation (`from_permutation`)."""
    for op in all_ops():
        if getattr(op.algebra, predicate) is not None:
            return op
    return None


def _reshape(source: Any, out: TensorType, emit: Emitter) -> Any:
    if _typed(source, out):
        return source
    op = _canonical("from_shape")
    if op is None or not isinstance(source, Value):
        return None
    return emit(op, [source], op.algebra.from_shape(tuple(out.shape)))


def _permutation(node: Node, x: Value, emit: Emitter) -> Any:
    rank = len(node.output.type.shape)
    perm = list(node.op.algebra.permutation(node.attrs, rank))
    src = _producer(x)
    if perm == list(range(rank)):
        return x
    if src is None or src.op.algebra.permutation is None:
        return None
    inner = src.op.algebra.permutation(src.attrs, rank)
    total = [inner[p] for p in perm]
    base = src.inputs[0]
    if total == list(range(rank)):
        return base if _typed(base, node.output.type) else None
    op = _canonical("from_permutation")
    return None if op is None else emit(op, [base], op.algebra.from_permutation(tuple(total)))


def _unit_reduction(node: Node, x: Value, emit: Emitter) -> Any:
    shape = x.type.shape
    dims = node.attrs.get("dim")
    dims = range(len(shape)) if dims is None else (dims if isinstance(dims, (tuple, list))
                                                   else (dims,))
    if not shape or any(not isinstance(d, int) or shape[d % len(shape)] != 1 for d in dims):
        return None
    out = node.output.type
    if out.dtype is not x.type.dtype:
        return None
    return _reshape(x, out, emit)
