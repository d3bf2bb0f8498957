"""The verifier: checks the rules every graph must keep, after every pass under test and on
every file that is loaded.

Rules: (1) SSA — every value is defined once, before it is used, and is visible where it is used
(a block sees what was defined before its node, in enclosing scopes; nothing leaks out of a block);
(2) every node's op is known and its attributes are the op's; (3) every node's output types equal
what the op's meta function computes from its input types — for `if` and `loop`, what their
blocks yield, by the structural rules below; (4) the graph's outputs are defined values.

Its work is bounded by the graph's size, also for hostile graphs (loaded files): an op whose
number of outputs follows from its inputs (`unbind` of a dim of 10**7) is refused from a probe
before any of its output types is built, and messages show at most MAX_SHOWN types and
MAX_LINES lines of the graph.
"""

from __future__ import annotations

from typing import Any

from .errors import VerificationError
from .graph import Block, Graph, Node, Value, operand_type
from .text import _names, format_node, format_type, print_graph
from .types import FRESH, TensorType

MAX_SHOWN = 8  # output types shown in a message
MAX_LINES = 60  # lines of the printed graph shown in a message


class _Checker:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.names = _names(graph)
        self.seen: set = set()  # every value defined anywhere: each may be defined once

    def fail(self, where: str, rule: str) -> None:
        lines = print_graph(self.graph).splitlines()
        if len(lines) > MAX_LINES:
            half = MAX_LINES // 2
            lines = lines[:half] + [f"  ... ({len(lines) - MAX_LINES} lines not shown)"] + \
                lines[-half:]
        raise VerificationError(f"{where}: {rule}\nin\n" + "\n".join(lines))

    def define(self, v: Value, scope: set, where: str) -> None:
        if v in self.seen:
            self.fail(where, "a value is defined twice")
        self.seen.add(v)
        scope.add(v)

    def nodes(self, nodes: list, scope: set) -> None:
        for node in nodes:
            where = f"node `{format_node(node, self.names)}`"
            for i, x in enumerate(node.inputs):
                if isinstance(x, Value) and x not in scope:
                    self.fail(where, f"input {i} (%{self.names.get(x, x.name)}) is used before it "
                                     "is defined, or outside its block (SSA order)")
            unknown = set(node.attrs) - set(node.op.attrs)
            if unknown:
                self.fail(where, f"attributes {sorted(unknown)} are not attributes of "
                                 f"{node.op.name}")
            if node.op.control:
                self.control(node, scope, where)
            elif node.op.region:
                self.region(node, scope, where)
            else:
                self.typed(node, where)
            for v in node.outputs:
                self.define(v, scope, where)

    def typed(self, node: Node, where: str) -> None:
        if node.blocks:
            self.fail(where, f"{node.op.name} is not a control-flow op but has blocks")
        operands = [operand_type(x) for x in node.inputs]
        probe = _probe_count(node, operands)
        if probe is not None and probe > len(node.outputs):
            self.fail(where, f"the op's meta function gives at least {probe} outputs, but the "
                             f"node has {len(node.outputs)}")
        try:
            expected = node.op.meta_all(operands, node.attrs)
        except Exception as exc:  # the meta function rejects the inputs: report its reason
            self.fail(where, f"the op's meta function rejects its inputs: {_short(str(exc))}")
        if len(node.outputs) != len(expected) or not all(
                _matches(o.type, e) for o, e in zip(node.outputs, expected)):
            self.fail(where, f"output type {_shown([o.type for o in node.outputs])} disagrees "
                             f"with the op's meta function, which gives {_shown(expected)}")

    def block(self, block: Block, scope: set, where: str) -> None:
        """Check a block in a copy of the enclosing scope (nothing defined in it leaks out)."""
        inner = set(scope)
        for v in block.inputs:
            self.define(v, inner, where)
        self.nodes(block.nodes, inner)
        for j, y in enumerate(block.outputs):
            if isinstance(y, Value) and y not in inner:
                self.fail(where, f"block {block.name} yields %{self.names.get(y, y.name)} "
                                 f"(position {j}), which is not defined in it or around it")

    def control(self, node: Node, scope: set, where: str) -> None:
        out_types = [o.type for o in node.outputs]
        if node.op.name == "if":
            self._check_if(node, scope, where, out_types)
        else:
            self._check_loop(node, scope, where, out_types)

    def region(self, node: Node, scope: set, where: str) -> None:
        """A region node (a fused kernel): one block whose inputs have the node's input types
        and whose yields have its output types; the block sees nothing from outside."""
        if len(node.blocks) != 1:
            self.fail(where, f"{node.op.name} has one block, its body")
        body = node.blocks[0]
        in_types = [x.type if isinstance(x, Value) else type(x) for x in node.inputs]
        if [v.type for v in body.inputs] != in_types:
            self.fail(where, f"the body takes {_fmt([v.type for v in body.inputs])} but the node "
                             f"is given {_fmt(in_types)}")
        self.block(body, set(), where)
        if _yield_types(body) != [o.type for o in node.outputs]:
            self.fail(where, f"the body yields {_fmt(_yield_types(body))} but the node produces "
                             f"{_fmt([o.type for o in node.outputs])}")

    def _check_if(self, node: Node, scope: set, where: str, out_types: list) -> None:
        if [b.name for b in node.blocks] != ["then", "else"] or len(node.inputs) != 1:
            self.fail(where, "`if` takes one condition and two blocks named then and else")
        _condition(self, node.inputs[0], where)
        for block in node.blocks:
            if block.inputs:
                self.fail(where, f"block {block.name} of `if` takes no inputs")
            self.block(block, scope, where)
            if _yield_types(block) != out_types:
                self.fail(where, f"block {block.name} yields {_fmt(_yield_types(block))} but the "
                                 f"`if` produces {_fmt(out_types)}")

    def _check_loop(self, node: Node, scope: set, where: str, out_types: list) -> None:
        if [b.name for b in node.blocks] != ["body"] or len(node.inputs) < 2:
            self.fail(where, "`loop` takes a trip count, a condition, carried values and one "
                             "block named body")
        trip, cond, *carried = node.inputs
        if not (isinstance(trip, int) or _is_int_scalar(trip)):
            self.fail(where, "the trip count must be an int or a 0-d integer tensor")
        _condition(self, cond, where)
        carried_types = [x.type if isinstance(x, Value) else type(x) for x in carried]
        body = node.blocks[0]
        want_inputs = [int] + carried_types
        if [v.type for v in body.inputs] != want_inputs:
            self.fail(where, f"the body takes {_fmt([v.type for v in body.inputs])}; it must take "
                             f"the count and the carried values: {_fmt(want_inputs)}")
        self.block(body, scope, where)
        yields = _yield_types(body)
        n_scan = len(out_types) - len(carried)
        if n_scan < 0:
            self.fail(where, f"the loop produces {_fmt(out_types)} but carries "
                             f"{_fmt(carried_types)}")
        if len(yields) != len(carried) + 1 + n_scan or yields[1:1 + len(carried)] != \
                carried_types:
            self.fail(where, f"the body yields {_fmt(yields)}; it must yield a condition, the "
                             f"carried values {_fmt(carried_types)} and one item per scan "
                             f"output ({n_scan})")
        if out_types[:len(carried)] != carried_types:
            self.fail(where, f"the loop produces {_fmt(out_types)} but carries "
                             f"{_fmt(carried_types)}")
        runs_to_end = isinstance(trip, int) and cond is True and body.outputs[0] is True
        for k in range(n_scan):
            item, out = yields[1 + len(carried) + k], out_types[len(carried) + k]
            self._check_scan(item, out, max(trip, 0) if runs_to_end else None, where)

    def _check_scan(self, item: Any, out: Any, trip: int | None, where: str) -> None:
        """A scan output is its items stacked: [n, *item], n an int only for a loop that runs
        its literal trip count to the end (then n is that count), else a size expression."""
        if not isinstance(item, TensorType):
            self.fail(where, f"a scan output's item must be a tensor, the body yields "
                             f"{_fmt([item])}")
        want = format_type(TensorType(item.dtype, ["n", *item.shape], item.device))
        if not (isinstance(out, TensorType) and out.dtype is item.dtype
                and out.device == item.device and list(out.shape[1:]) == list(item.shape)
                and len(out.shape) == len(item.shape) + 1):
            self.fail(where, f"a scan output of items {format_type(item)} must have type {want} "
                             f"(n the number of iterations), not {format_type(out)}")
        n = out.shape[0]
        if isinstance(n, int) and n != trip:
            self.fail(where, f"a scan output's first size is {n}, an int, but the loop "
                             + ("runs a trip count known only at run time or may stop early: "
                                "it must be a size expression" if trip is None else
                                f"runs {trip} iterations"))


def _probe_count(node: Node, operands: list) -> int | None:
    """For an op of several outputs, how many its dtype rule gives when every concrete dim is
    clamped to (declared outputs + 1): for a count that grows with the dims (unbind), a number
    over the declared count proves the node wrong without building the real count's types; a
    count that does not depend on dims is unchanged. None when the op has one output or the
    probe itself is refused (the real check then decides)."""
    op = node.op
    if op.num_outputs <= 1 or op.type_rule is not None:
        return None
    cap = len(node.outputs) + 1
    clamped = [TensorType(t.dtype, [d if isinstance(d, str) else min(d, cap) for d in t.shape],
                          t.device) if isinstance(t, TensorType) else t for t in operands]
    try:
        dtypes, _ = op.dtype_rule(clamped, op.full_attrs(node.attrs))
        return len(dtypes)
    except Exception:
        return None


def _shown(types: list) -> str:
    """A list of types for a message: at most MAX_SHOWN of them, then how many more."""
    shown = ", ".join(str(t) for t in types[:MAX_SHOWN])
    more = f", ... ({len(types) - MAX_SHOWN} more)" if len(types) > MAX_SHOWN else ""
    return f"[{shown}{more}]"


def _short(text: str, limit: int = 2000) -> str:
    """`text`, cut after `limit` characters (a meta function's message may list many types)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more)"


def _yield_types(block: Block) -> list:
    return [y.type if isinstance(y, Value) else type(y) for y in block.outputs]


def _fmt(types: list) -> str:
    return "(" + ", ".join(format_type(t) for t in types) + ")"


def _is_int_scalar(x: Any) -> bool:
    if not isinstance(x, Value):
        return False
    t = x.type
    return t is int or (isinstance(t, TensorType) and not t.shape
                        and not t.dtype.is_floating_point and t.dtype.name != "bool")


def _condition(checker: _Checker, cond: Any, where: str) -> None:
    ok = isinstance(cond, bool) or (isinstance(cond, Value) and (
        cond.type is bool or (isinstance(cond.type, TensorType) and not cond.type.shape)))
    if not ok:
        checker.fail(where, "the condition must be a bool or a 0-d tensor")


def _matches(actual: Any, expected: Any) -> bool:
    """Types agree; a data-dependent size (FRESH) in the expectation matches any symbol."""
    if not isinstance(expected, TensorType) or not any(d is FRESH for d in expected.shape):
        return actual == expected
    return (isinstance(actual, TensorType) and actual.dtype is expected.dtype
            and actual.device is expected.device and len(actual.shape) == len(expected.shape)
            and all(isinstance(a, str) if e is FRESH else a == e
                    for a, e in zip(actual.shape, expected.shape)))


def verify(graph: Graph) -> Graph:
    """Return the graph if it keeps every rule, else raise VerificationError naming the first
    broken rule and the node that breaks it."""
    checker = _Checker(graph)
    scope: set = set()
    for v in graph.inputs:
        checker.define(v, scope, f"graph input %{v.name}")
    checker.nodes(graph.nodes, scope)
    for j, v in enumerate(graph.outputs):
        if isinstance(v, Value) and v not in scope:
            checker.fail(f"graph output {j}", "is not defined by an input or a node")
    return graph
