"""A tracer that writes into nested blocks: what script's `if`/`loop` bodies and graph autodiff
emit into. Ops land in the innermost open block; constants go to the top of the graph (they
depend on nothing, so every block can see them); control-flow nodes are appended by the caller
once their blocks are complete.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ..ir.graph import Block, Graph, Node
from ..ir.registry import get
from ..ir.types import TensorType
from .tracer import Tracer, TracerTensor

FULL = get("full")


class BlockTracer(Tracer):
    """`Tracer` plus a stack of open node lists (the graph's, then each open block's) and the
    source location to stamp on new nodes (script knows the line; tracing asks the stack)."""

    def __init__(self, graph: Graph) -> None:
        super().__init__(graph)
        self.open: list = [graph.nodes]
        self.location: str | None = None

    def _emit_node(self, op: Any, inputs: list, attrs: dict) -> Node:
        node = super()._emit_node(op, inputs, attrs)
        if self.open[-1] is not self.graph.nodes:
            self.graph.nodes.pop()  # add_node appended it to the graph's own list
            self.open[-1].append(node)
        if self.location is not None:
            node.meta["source"] = self.location
        return node

    def append(self, node: Node) -> Node:
        """Add a finished node (a control-flow node with its blocks) where ops go now."""
        if self.location is not None:
            node.meta["source"] = self.location
        self.stamp_module(node)
        self.open[-1].append(node)
        return node

    @contextmanager
    def into(self, block: Block) -> Iterator[Block]:
        """Emit into `block` (appending after what it already holds) until the with ends."""
        self.open.append(block.nodes)
        try:
            yield block
        finally:
            self.open.pop()

    def filler(self, typ: TensorType, value: Any = 0) -> TracerTensor:
        """A tensor of type `typ` filled with `value`: what a block yields for a value it never
        defines (the branch that returned early), and the zero gradient."""
        return self.wrap(self._emit(FULL, [], {"size": typ.shape, "fill_value": value,
                                                "dtype": typ.dtype, "device": typ.device}))
