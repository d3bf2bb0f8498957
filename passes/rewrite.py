"""Graph editing helpers the passes share: copy a graph, redirect the uses of a value, and find
which values a region reads.

Passes work on a copy (`clone`), so a compiled function keeps the graph as captured
(`graph_before_passes`) beside the optimized one.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, Sequence

from ..ir.graph import MODULE, Block, Graph, Node, Value, common_module, operand_type, walk

CARRIED = ("source", MODULE)  # the annotations a node's replacements inherit


def carried_meta(node: Node) -> dict:
    """What nodes emitted in place of `node` inherit: its source line and module path."""
    return {k: node.meta[k] for k in CARRIED if k in node.meta}


def merged_meta(nodes: Sequence[Node]) -> dict:
    """The annotations of a node made of several (a fused group): their source lines joined,
    and the module path they share (the longest common prefix; none when it is the top level)."""
    meta: dict = {}
    sources = [n.meta["source"] for n in nodes if n.meta.get("source")]
    if sources:
        meta["source"] = ", ".join(dict.fromkeys(sources))
    path = common_module([n.meta.get(MODULE) or "" for n in nodes])
    if path:
        meta[MODULE] = path
    return meta


class Emitter:
    """Adds nodes (typed by their meta functions) to be placed before the node being rewritten;
    each carries `meta` (the rewritten node's `carried_meta`: source line, module path) when
    given."""

    def __init__(self, emitted: list, meta: dict | None = None,
                 single_use: Any = None) -> None:
        self.emitted = emitted
        self.meta = meta
        self._single_use = single_use

    def single_use(self, value: Value) -> bool:
        """Whether `value` is read by the node being rewritten alone (no other node, not a graph
        output): a rule may then replace the node that makes it. False when not known."""
        return bool(self._single_use and self._single_use(value))

    def __call__(self, op: Any, inputs: list, attrs: dict | None = None) -> Value:
        attrs = op.full_attrs(attrs or {})
        types = op.meta_all([operand_type(x) for x in inputs], attrs)
        node = Node(op, inputs, attrs, types)
        if self.meta:
            node.meta.update(self.meta)
        self.emitted.append(node)
        return node.output


def clone(graph: Graph) -> Graph:
    """A deep copy of the graph's structure: new Values, Nodes and Blocks; attribute values and
    constant data are shared (passes never mutate them in place)."""
    mapping: dict = {}

    def value(v: Value) -> Value:
        new = Value(v.type, v.name)
        mapping[v] = new
        return new

    def ref(x: Any) -> Any:
        return mapping.get(x, x) if isinstance(x, Value) else x

    def nodes(src: Sequence[Node]) -> list:
        out = []
        for node in src:
            new = Node.__new__(Node)
            new.op, new.attrs, new.meta = node.op, dict(node.attrs), dict(node.meta)
            new.inputs = [ref(x) for x in node.inputs]
            new.blocks = [Block(b.name, [value(v) for v in b.inputs], (), ()) for b in node.blocks]
            for nb, b in zip(new.blocks, node.blocks):
                nb.nodes = nodes(b.nodes)
                nb.outputs = [ref(y) for y in b.outputs]
            new.outputs = []
            for v in node.outputs:
                nv = value(v)
                nv.node, nv.index = new, v.index
                new.outputs.append(nv)
            out.append(new)
        return out

    g = Graph([value(v) for v in graph.inputs], (), (), graph.name)
    g.nodes = nodes(graph.nodes)
    g.outputs = [ref(v) for v in graph.outputs]
    g.tensors = dict(graph.tensors)
    g.meta = copy.deepcopy(graph.meta)
    return g


def replace_uses(graph: Graph, mapping: dict) -> None:
    """Make every reader of a value in `mapping` (node inputs, block yields, graph outputs) read
    its replacement instead. Chains (a -> b -> c) resolve to the end."""
    if not mapping:
        return

    def final(x: Any) -> Any:
        while isinstance(x, Value) and x in mapping:
            x = mapping[x]
        return x

    for node in graph.all_nodes():
        node.inputs = [final(x) for x in node.inputs]
        for b in node.blocks:
            b.outputs = [final(y) for y in b.outputs]
    graph.outputs = [final(v) for v in graph.outputs]


def reads(nodes: Iterable[Node]) -> set:
    """Every value the nodes (and their blocks, yields included) read."""
    found: set = set()
    for node in walk(list(nodes)):
        found.update(x for x in node.inputs if isinstance(x, Value))
        for b in node.blocks:
            found.update(y for y in b.outputs if isinstance(y, Value))
    return found


def is_pure(node: Node) -> bool:
    """May be removed when unread, or merged with an identical node: no side effect, no random
    draw, not a graph-only (mutable) list op, and blocks that are pure throughout."""
    op = node.op
    if op.effect or op.random or op.graph_only:
        return False
    return all(is_pure(n) for b in node.blocks for n in b.nodes)
