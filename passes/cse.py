"""Common subexpression elimination: a pure node that repeats an earlier one — same op, same
inputs, same attributes — is dropped and its readers read the earlier result.

Scoping follows the IR's: a node inside an `if` arm or a loop body may reuse a value computed
before its owner, never one from a sibling block. Random draws, effects, graph-only list ops and
control-flow nodes are never merged. Nothing is hoisted out of a block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.graph import Graph, Value
from .rewrite import is_pure, replace_uses

_CONSTANT_BYTES = 1 << 16  # larger constants are compared by identity, not by content


def cse(graph: Graph, log: list) -> bool:
    """Merge repeated pure nodes in place; True if any were merged."""
    mapping: dict = {}
    graph.nodes = _scan(graph.nodes, {}, mapping, log)
    replace_uses(graph, mapping)
    return bool(mapping)


def _scan(nodes: list, available: dict, mapping: dict, log: list) -> list:
    kept = []
    for node in nodes:
        for b in node.blocks:
            b.nodes = _scan(b.nodes, dict(available), mapping, log)
        if node.op.control or node.op.region or not is_pure(node):
            kept.append(node)
            continue
        key = (node.op.name, tuple(_input_key(x, mapping) for x in node.inputs),
               tuple((k, _freeze(v)) for k, v in sorted(node.attrs.items())))
        earlier = available.get(key)
        if earlier is None:
            available[key] = node
            kept.append(node)
            continue
        for old, new in zip(node.outputs, earlier.outputs):
            mapping[old] = new
        log.append(("merged", node, f"{node.op.name}: same as an earlier {earlier.op.name}"))
    return kept


def _input_key(x: Any, mapping: dict) -> Any:
    if isinstance(x, Value):
        while x in mapping:
            x = mapping[x]
        return ("value", id(x))
    return ("literal", type(x).__name__, _freeze(x))


def _freeze(v: Any) -> Any:
    """A hashable stand-in for an attribute value that tells apart what must differ
    (1 vs 1.0 vs True; arrays by dtype, shape and bytes)."""
    if isinstance(v, np.ndarray):
        if v.nbytes > _CONSTANT_BYTES:
            return ("array-id", id(v))
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (tuple, list)):
        return (type(v).__name__,) + tuple(_freeze(x) for x in v)
    if isinstance(v, slice):
        return ("slice", _freeze(v.start), _freeze(v.stop), _freeze(v.step))
    if isinstance(v, float) and v != v:
        return ("float", "nan")
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    return (type(v).__name__, v)
