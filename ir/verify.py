"""The verifier: checks the rules every graph must keep, after every pass under test and on
every file that is loaded.

Rules: (1) SSA — every value is defined once, before it is used; (2) every node's op is known and
its attributes are the op's; (3) every node's output types equal what the op's meta function
computes from its input types; (4) the graph's outputs are defined values.
"""

from __future__ import annotations

from typing import Any

from .errors import VerificationError
from .graph import Graph, Value
from .text import format_node, print_graph, _names
from .types import FRESH, TensorType


def verify(graph: Graph) -> Graph:
    """Return the graph if it keeps every rule, else raise VerificationError naming the first
    broken rule and the node that breaks it."""
    names = _names(graph)
    defined: set = set()

    def fail(where: str, rule: str) -> None:
        raise VerificationError(f"{where}: {rule}\nin\n{print_graph(graph)}")

    for v in graph.inputs:
        if v in defined:
            fail(f"graph input %{v.name}", "defined twice")
        defined.add(v)
    for node in graph.nodes:
        where = f"node `{format_node(node, names)}`"
        for i, x in enumerate(node.inputs):
            if isinstance(x, Value) and x not in defined:
                fail(where, f"input {i} (%{names.get(x, x.name)}) is used before it is defined "
                            "(SSA order)")
        unknown = set(node.attrs) - set(node.op.attrs)
        if unknown:
            fail(where, f"attributes {sorted(unknown)} are not attributes of {node.op.name}")
        types = [x.type if isinstance(x, Value) else x for x in node.inputs]
        try:
            expected = node.op.meta_all(types, node.attrs)
        except Exception as exc:  # the meta function rejects the inputs: report its reason
            fail(where, f"the op's meta function rejects its inputs: {exc}")
        if not all(_matches(o.type, e) for o, e in zip(node.outputs, expected)) or \
                len(node.outputs) != len(expected):
            fail(where, f"output type {[o.type for o in node.outputs]} disagrees with the op's "
                        f"meta function, which gives {expected}")
        for v in node.outputs:
            if v in defined:
                fail(where, "an output is defined twice")
            defined.add(v)
    for j, v in enumerate(graph.outputs):
        if isinstance(v, Value) and v not in defined:
            fail(f"graph output {j}", "is not defined by an input or a node")
    return graph


def _matches(actual: Any, expected: Any) -> bool:
    """Types agree; a data-dependent size (FRESH) in the expectation matches any symbol."""
    if not isinstance(expected, TensorType) or not any(d is FRESH for d in expected.shape):
        return actual == expected
    return (isinstance(actual, TensorType) and actual.dtype is expected.dtype
            and actual.device is expected.device and len(actual.shape) == len(expected.shape)
            and all(isinstance(a, str) if e is FRESH else a == e
                    for a, e in zip(actual.shape, expected.shape)))
