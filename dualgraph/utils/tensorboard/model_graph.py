"""The graph `add_graph` draws: a model traced on an example input (capture records each node's
submodule path), or a graph the user already captured."""

from __future__ import annotations

from typing import Any

from dualgraph.ir.graph import Graph


def _has_mutable_container(tree: Any) -> bool:
    if tree is None:
        return False
    kind, items = tree
    if kind in ("list", "dict"):
        return True
    return any(_has_mutable_container(x) for x in items)


def model_graph(model: Any, input_to_model: Any = None, use_strict_trace: bool = True,
                opt_level: int = 0) -> Graph:
    """`model` traced on `input_to_model` (a tensor or a tuple of them) and optimized at
    `opt_level` (0: as captured); or, without an input, the graph of a Graph, a traced,
    scripted or compiled function (its `.graph`, already optimized). With `use_strict_trace`
    (PyTorch's default) a model returning a list or dict is refused, as torch.jit.trace's
    strict mode does; pass False to accept it."""
    if input_to_model is None:
        graph = model if isinstance(model, Graph) else getattr(model, "graph", None)
        if not isinstance(graph, Graph):
            raise TypeError(f"add_graph: input_to_model is needed to trace a "
                            f"{type(model).__name__}; only a Graph or a traced/scripted "
                            "function (with a .graph) can be drawn without one")
        return graph
    from dualgraph.jit.trace import trace  # late: the writer works without the jit loaded
    traced = trace(model, input_to_model, opt_level=opt_level)
    if use_strict_trace and _has_mutable_container(traced.graph.meta.get("out_tree")):
        raise RuntimeError("add_graph: the model returns a list or dict, which a strict trace "
                           "refuses (its length or keys could change between calls); return a "
                           "tuple, or pass use_strict_trace=False")
    return traced.graph
