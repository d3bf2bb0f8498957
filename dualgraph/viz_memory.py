"""The memory picture (`to_dot(f, memory=True)`): each value coloured by its planned buffer.

The planning pass (passes/memory.py) gives each intermediate value of an optimized graph
(opt_level 3) the buffer it is written into; values whose lifetimes do not overlap share one.
The picture fills each op with its output's buffer colour and names the buffer in the label
(`→ b2`), so values that share memory read at a glance; graph inputs, outputs and values left
to their kernels (too small, views, constants) keep the neutral colours. A legend lists each
buffer: its bytes (a formula of the symbolic sizes, such as `2048*B`) and its values in order.
"""

from __future__ import annotations

from typing import Any

from dualgraph.ir.graph import Graph, Value

# twelve distinguishable pastels (ColorBrewer's Set3 order); buffer k takes PALETTE[k % 12]
PALETTE = ("#8DD3C7", "#FFFFB3", "#BEBADA", "#FB8072", "#80B1D3", "#FDB462", "#B3DE69",
           "#FCCDE5", "#BC80BD", "#CCEBC5", "#FFED6F", "#D9D9D9")


def color(buffer: int) -> str:
    """The fill colour of planned buffer `buffer`."""
    return PALETTE[buffer % len(PALETTE)]


def memory_plan(obj: Any, graph: Graph) -> Any:
    """The planning pass's plan of `graph` (passes/memory.py `plan_of`); a clear error when the
    graph was not planned (compiled below opt_level 3, or a graph no pass ran on)."""
    from dualgraph.passes.memory import plan_of  # late: passes sit above the core
    plan = plan_of(graph)
    if plan is None:
        level = getattr(obj, "opt_level", None)
        how = f" (it was compiled at opt_level={level})" if level is not None else ""
        raise ValueError(f"to_dot(memory=True): the graph {graph.name} has no memory plan{how}; "
                         "memory planning runs at opt_level 3: draw a function from "
                         "dg.jit.trace(..., opt_level=3) or call .compile(3) first")
    return plan


def buffers_of(plan: Any) -> dict:
    """Value -> the index of the buffer it is written into, for every planned value."""
    return {e.value: e.buffer for e in plan.entries if e.kind == "buffer"}


def add_legend(dot: Any, plan: Any, label: Any) -> None:
    """A framed legend: one swatch per buffer with its bytes and the values written into it."""
    if not plan.buffers:
        return
    with dot.subgraph(name="cluster_memory_legend") as legend:
        legend.attr(label=label("memory plan: planned buffers"), style="rounded",
                    color="#B0BEC5", fontsize="12")
        for b in plan.buffers:
            names = ", ".join("%" + plan.names.get(v, "?") for v in b.values)
            text = f"b{b.index}: {b.nbytes} bytes\n{names}"
            legend.node(f"legend_b{b.index}", label(text), shape="box", style="filled",
                        fillcolor=color(b.index), color="#607D8B", fontsize="11")
        for a, b in zip(plan.buffers, plan.buffers[1:]):  # a column, in buffer order
            legend.edge(f"legend_b{a.index}", f"legend_b{b.index}", style="invis")


def value_buffer(buffers: dict, v: Any) -> int | None:
    """The buffer of value `v`, or None (not planned, not a Value)."""
    return buffers.get(v) if isinstance(v, Value) else None
