"""Import entries for ONNX If and Loop: their subgraphs become the blocks of `if` / `loop` nodes
(a Loop's `cond` input to its body is always true where the body runs, so it is the literal)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.graph import Node, Value
from ..ir.registry import get
from ..ir.text import format_type
from ..ir.types import FRESH, TensorType, int64
from .import_builder import Builder

IF, LOOP = get("if"), get("loop")


def _scalar(b: Builder, v: Any) -> Any:
    """A condition or trip count of shape [1] as the 0-d tensor `if`/`loop` take."""
    if isinstance(v, Value) and isinstance(v.type, TensorType) and v.type.shape == (1,):
        return b.emit("reshape", [v], shape=())
    return v


def _literal(b: Builder, i: int, kind: type) -> Any:
    known = b.static_array(b.onnx_node.input[i])
    if isinstance(known, np.ndarray) and known.size == 1:
        return kind(known.reshape(()).item())
    return _scalar(b, b.value(i))


def _check_same(b: Builder, what: str, got: list, want: list) -> None:
    for g, w in zip(got, want):
        if g != w:
            b.fail(f"{what}: {format_type(g)} where {format_type(w)} is expected (dualgraph's "
                   "control flow keeps types fixed)", unsupported=True)


def if_(b: Builder) -> list:
    cond = _literal(b, 0, bool)
    node, where = b.onnx_node, b.where
    blocks, outs = [], []
    for name, attr in (("then", "then_branch"), ("else", "else_branch")):
        block, outer = b.block(name)
        try:
            outs.append(b.run_subgraph(b.attr(attr), f"{where}: {attr}"))
        finally:
            b.scope, b.onnx_node, b.where = outer, node, where
        block.outputs = outs[-1]
        blocks.append(block)
    types = [_type(v) for v in outs[0]]
    _check_same(b, "the else branch yields", [_type(v) for v in outs[1]], types)
    if not isinstance(cond, Value):
        return _inline(b, blocks[0 if cond else 1])
    n = Node(IF, [cond], {}, types, blocks)
    b.append(n)
    return list(n.outputs)


def _inline(b: Builder, block: Any) -> list:
    for n in block.nodes:
        b.append(n)
    return list(block.outputs)


def _type(v: Any) -> Any:
    return v.type if isinstance(v, Value) else type(v)


def loop(b: Builder) -> list:
    node, where = b.onnx_node, b.where
    trip = _literal(b, 0, int) if b.has(0) else (1 << 63) - 1
    cond = _literal(b, 1, bool) if b.has(1) else True
    carried = [b.value(i) for i in range(2, b.n_inputs())]
    body = b.attr("body")
    counter = Value(int, "i")
    state = [Value(v.type, f"carried{k}") for k, v in enumerate(carried)]
    block, outer = b.block("body", [counter, *state])
    try:
        names = [i.name for i in body.input]
        if len(names) != 2 + len(carried):
            b.fail(f"the body takes {len(names)} inputs for {len(carried)} carried values")
        b.define(names[0], b.emit("scalar_tensor", [counter], dtype=int64))
        b.define(names[1], b.constant(np.asarray(True)))
        for name, v in zip(names[2:], state):
            b.define(name, v)
        outs = b.run_subgraph(body, f"{where}: body")
        outs[0] = _scalar(b, outs[0])
    finally:
        b.scope, b.onnx_node, b.where = outer, node, where
    block.outputs = outs
    _check_same(b, "the body yields a carried value", [_type(v) for v in outs[1:1 + len(state)]],
                [v.type for v in state])
    scans = [TensorType(v.type.dtype, (FRESH, *v.type.shape), v.type.device)
             for v in outs[1 + len(state):]]
    types = [v.type for v in carried] + [b.graph._name_fresh(t) for t in scans]
    n = Node(LOOP, [trip, cond, *carried], {}, types, [block])
    b.append(n)
    return list(n.outputs)
