"""Which submodule emitted each captured node: its module path (`fc1`, `layers.0.attn`).

The tracer records each node's source line but not the module that called it, so `add_graph`
learns it here, from outside the tracer: while the model is traced, a forward pre-hook and a
forward hook on every submodule note where in the graph each call's nodes begin and end; when a
call returns, the nodes it emitted that no inner call claimed get its path, in
`node.meta[MODULE_KEY]`. A path already there (recorded by capture itself) is kept.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from dualgraph.dispatch import active
from dualgraph.ir.graph import Graph, Node

MODULE_KEY = "module"


def _capturing_graph() -> Graph | None:
    """The graph of the innermost interpreter on this thread that is building one (a tracer)."""
    for interpreter in reversed(active()):
        graph = getattr(interpreter, "graph", None)
        if isinstance(graph, Graph):
            return graph
    return None


@contextmanager
def module_paths(model: Any) -> Iterator[None]:
    """While active, calls of `model`'s submodules label the nodes a trace captures with their
    module path. Does nothing for a model that is not an nn.Module (a plain function)."""
    named = getattr(model, "named_modules", None)
    if named is None:
        yield
        return
    starts: list = []
    handles = []

    def pre(module: Any, args: Any) -> None:
        graph = _capturing_graph()
        starts.append((graph, len(graph.nodes) if graph is not None else 0))

    def post(path: str) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            graph, start = starts.pop()
            if graph is not None and path:
                for node in graph.nodes[start:]:
                    node.meta.setdefault(MODULE_KEY, path)
        return hook

    try:
        for path, module in named():
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post(path)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def module_of(node: Node) -> str:
    """The module path recorded for `node`; a node with blocks (a fused group, `if`, `loop`)
    takes the longest path its inner nodes share; '' for the top level."""
    path = node.meta.get(MODULE_KEY)
    if isinstance(path, str):
        return path
    inner = [module_of(n) for block in node.blocks for n in block.nodes]
    if not inner:
        return ""
    parts = [p.split(".") if p else [] for p in inner]
    common = []
    for level in zip(*parts):
        if any(x != level[0] for x in level):
            break
        common.append(level[0])
    return ".".join(common)
