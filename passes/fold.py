"""Constant folding: a node whose inputs are all constants runs now, through the same eager
kernels a call would use, and becomes a `constant` node.

Limits: results above `FOLD_LIMIT` elements stay nodes (folding `zeros(4096, 4096)` would put
64 MB into the graph and the file), as do random draws, effects, graph-only ops and values off
the CPU. Control flow with a constant condition folds too: an `if` becomes the arm it takes, and
a loop whose trip count is 0 (or whose condition is false on entry) becomes its carried inputs
(and its scan outputs empty constants, where their type has no symbolic size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.graph import Graph, Node, Value
from ..ir.registry import get
from ..ir.types import TensorType
from .rewrite import is_pure, replace_uses

FOLD_LIMIT = 1 << 16  # elements: the largest result folded into a constant


def fold_constants(graph: Graph, log: list, limit: int = FOLD_LIMIT) -> bool:
    """Fold constant nodes and constant control flow in place; True if anything folded.
    `limit` is the largest result folded, in elements (freezing raises it to the size of the
    largest parameter, so `weight.t()` folds however large the layer)."""
    mapping: dict = {}
    graph.nodes = _fold(graph.nodes, mapping, log, limit)
    replace_uses(graph, mapping)
    return bool(mapping) or any(entry[0] == "folded" for entry in log)


def _constant_of(x: Any, mapping: dict) -> Any:
    """The data of an operand known now: a literal as it is, a constant node's array, else None."""
    while isinstance(x, Value) and x in mapping:
        x = mapping[x]
    if not isinstance(x, Value):
        return x
    node = x.node
    if node is not None and node.op.name == "constant":
        return node.attrs["value"]
    return None


def _fold(nodes: list, mapping: dict, log: list, limit: int) -> list:
    out: list = []
    for node in nodes:
        if node.op.control:
            out += _fold_control(node, mapping, log, limit)
            continue
        for b in node.blocks:
            b.nodes = _fold(b.nodes, mapping, log, limit)
        if _foldable(node, mapping, limit):
            try:
                arrays = _evaluate(node, mapping)
            except Exception:  # an error the call would raise at run time stays a run-time error
                out.append(node)
                continue
            for v, a in zip(node.outputs, arrays):
                const = _constant_node(a, v, node)
                out.append(const)
                mapping[v] = const.outputs[0]
            log.append(("folded", node, f"{node.op.name}: computed at compile time"))
            continue
        out.append(node)
    return out


def _foldable(node: Node, mapping: dict, limit: int) -> bool:
    if node.op.name == "constant" or node.op.region or not is_pure(node) or \
            node.op.moves_device:
        return False
    for v in node.outputs:
        t = v.type
        if not isinstance(t, TensorType) or t.device.type != "cpu":
            return False
        if any(not isinstance(d, int) for d in t.shape) or int(np.prod(t.shape)) > limit:
            return False
    return all(_constant_of(x, mapping) is not None for x in node.inputs)


def _evaluate(node: Node, mapping: dict) -> list:
    from dualgraph.autograd.grad_mode import no_grad  # late: passes sit below the runtime
    from dualgraph.tensor import _wrap
    args = []
    for x in node.inputs:
        data = _constant_of(x, mapping)
        if isinstance(x, Value) and isinstance(x.type, TensorType):
            data = _wrap(np.array(data, dtype=x.type.dtype.np, copy=True), x.type.dtype,
                         x.type.device)
        args.append(data)
    with no_grad():
        result = node.op.eager(args, node.attrs)
    results = result if node.op.num_outputs > 1 else (result,)
    return [np.asarray(r._data, dtype=v.type.dtype.np) for r, v in zip(results, node.outputs)]


def _constant_node(array: np.ndarray, like: Value, source: Node) -> Node:
    const = Node(get("constant"), [], {"value": array}, [like.type])
    const.meta = dict(source.meta)
    return const


def _fold_control(node: Node, mapping: dict, log: list, limit: int) -> list:
    """Fold inside the blocks, then the node itself when its condition is known now."""
    for b in node.blocks:
        b.nodes = _fold(b.nodes, mapping, log, limit)
    if node.op.name == "if":
        cond = _constant_of(node.inputs[0], mapping)
        if cond is None:
            return [node]
        arm = node.blocks[0] if bool(np.asarray(cond)) else node.blocks[1]
        for v, y in zip(node.outputs, arm.outputs):
            mapping[v] = y
        log.append(("folded", node, f"if: the condition is constant, kept the {arm.name} arm"))
        return arm.nodes
    trip = _constant_of(node.inputs[0], mapping)
    cond = _constant_of(node.inputs[1], mapping)
    never = (trip is not None and int(np.asarray(trip)) <= 0) or (
        cond is not None and not bool(np.asarray(cond)))
    if not never:
        return [node]
    empties = []  # a scan output of no iteration: an empty [0, *item] tensor
    for v in node.outputs[len(node.inputs) - 2:]:
        if any(not isinstance(d, int) for d in v.type.shape) or v.type.shape[0] != 0:
            return [node]  # sizes known only at run time: the loop stays
        empties.append(_constant_node(np.zeros(v.type.shape, v.type.dtype.np), v, node))
    for v, x in zip(node.outputs, node.inputs[2:] + [e.outputs[0] for e in empties]):
        mapping[v] = x
    log.append(("folded", node, "loop: runs zero times"))
    return empties
