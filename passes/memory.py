"""Memory planning: the buffer each intermediate value is written into, planned once per graph
in formulas of its symbolic sizes (`B`, `T`), never per shape.

Stages:
1. Sizes: every tensor value's bytes as a polynomial of the graph's symbols (numel * itemsize).
2. Liveness over the top-level schedule: a value lives from its node to its last reader; a
   read inside an `if`/`loop` block is a read by the node that owns the block (a body runs many
   times); graph outputs (the user's, write-backs of mutations, residuals for backward) and
   values nobody reads live to the end of the call.
3. Aliases: a value that may share memory with an input of its node — a VIEW op, an op with
   `may_alias` (contiguous of a C-ordered input), control flow and list ops (a block may yield
   an outer value), a fused body yielding its own input — keeps that input's storage alive:
   the storage's range is extended to the alias's last use, transitively.
4. Buffers: a value is *planned* when its node has one output, the backend's kernel accepts
   `out=` (kernels declare it: `OUT` in their family) and the value is not a graph output, not
   0-d, sized by the input symbols only, and not of a concrete size below MIN_PLANNED_BYTES. In schedule order a planned value takes a free
   buffer (whose range ended strictly before the value's node) of the same size, else the
   smallest one provably larger, else the largest one provably smaller (which then grows):
   two sizes of different expressions are compared only when one is >= the other for every
   value >= 1 of the symbols (`_geq`); incomparable sizes never share. Any dtype may reuse a
   buffer of enough bytes. Graph inputs are never written (they are never in a buffer).
5. Peak: per step, the bytes live — buffers over their range, values their kernels allocate
   ("own") over theirs, an upper bound of a control node's block contents, a kernel's declared
   workspace (`WORKSPACE`) — and the peak as the maximum over steps, kept as the formulas no
   other one provably exceeds.

The pass leaves the graph unchanged: it stores the plan beside it (`plan_of(graph)`), which code
generation reads (jit/codegen.py) and `f.memory_plan()` reports (jit/memory_plan.py).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Block, Graph, Node, Value, walk
from ..ir.registry import VIEW
from ..ir.symbolic import SymExpr, add, mul, prod, sub, symbols_of
from ..ir.text import _names as value_names
from ..ir.types import TensorType

_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

# Values of a concrete size below this many bytes are left to their kernels: NumPy serves such
# small blocks from its own cache faster than a planned buffer is allocated and checked (a
# chain of 4x4 matmuls ran 5% slower planned). Symbolic sizes are always planned.
MIN_PLANNED_BYTES = 1024


@dataclass
class Entry:
    """One value a node of the graph defines: its bytes, how it is stored, its live range."""

    value: Value
    name: str  # as the graph's text prints it (`3` for %3)
    index: int  # the defining top-level node's position in the schedule
    op: str
    source: str
    nbytes: Any  # int or SymExpr; 0 for views and constants
    kind: str  # "buffer" (written with out=), "own" (its kernel allocates), "view", "constant"
    start: int
    end: int  # the last step its storage is needed (aliases included)
    output: bool = False
    buffer: int | None = None
    base: Value | None = None  # a view's (first) input whose memory it may share
    workspace: Any = 0  # bytes of temporary its kernel allocates at its node


@dataclass
class Buffer:
    """A planned buffer: allocated once per call before its first value, freed after its last."""

    index: int
    nbytes: Any
    start: int
    end: int
    values: list = field(default_factory=list)
    typed: tuple | None = None  # (shape, dtype) when every value has the same: no byte view


@dataclass
class SymbolicPlan:
    """The plan of one graph in formulas of its symbols (`plan_of`); jit/memory_plan.py turns it
    into the user's `MemoryPlan` for given sizes."""

    nodes: tuple  # the schedule planned (a stale plan of a changed graph is never used)
    symbols: tuple
    entries: list
    buffers: list
    steps: list  # live bytes at each step (a formula per top-level node)
    notes: list  # (value, why values of different size expressions share a buffer)
    by_value: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # Value -> its name in the graph's text

    def valid_for(self, graph: Graph) -> bool:
        return len(self.nodes) == len(graph.nodes) and all(
            a is b for a, b in zip(self.nodes, graph.nodes))


def plan_of(graph: Graph) -> SymbolicPlan | None:
    """The memory plan the pass made for this graph, or None (not planned, or changed since)."""
    plan = _PLANS.get(graph)
    return plan if plan is not None and plan.valid_for(graph) else None


def plan_memory(graph: Graph, log: list) -> bool:
    """The pass: plan the graph's buffers (stored beside it); the graph itself is unchanged."""
    plan = make_plan(graph)
    _PLANS[graph] = plan
    for e in plan.entries:
        if e.kind == "buffer":
            b = plan.buffers[e.buffer]
            first = b.values[0] is e.value
            what = (f"%{e.name} -> b{e.buffer} ({e.nbytes} bytes)" if first else
                    f"%{e.name} reuses b{e.buffer} (after %{plan.names[_before(b, e.value)]})")
            log.append(("buffer" if first else "reuse", e.value.node, what))
    for note in plan.notes:
        log.append(("compare", note[0].node, note[1]))
    return False


def _before(buf: Buffer, v: Value) -> Value:
    return buf.values[buf.values.index(v) - 1]


# ----------------------------------------------------------------------------- the planner

def make_plan(graph: Graph) -> SymbolicPlan:
    """Stages 1-5 of the module docstring."""
    n = len(graph.nodes)
    symbols = tuple(graph.symbols())
    names = value_names(graph)
    last = _last_reads(graph)
    outputs = {id(v) for v in graph.outputs if isinstance(v, Value)}
    entries: list = []
    by_value: dict = {}
    roots: dict = {}  # id(value) -> the entries whose storage it may share
    for k, node in enumerate(graph.nodes):
        aliased = _aliased_inputs(node)
        for out in node.outputs:
            e = _entry(node, k, out, symbols, id(out) in outputs)
            e.name = names.get(out, "?")
            end = n - 1 if e.output or id(out) not in last else last[id(out)]
            e.end = end
            entries.append(e)
            by_value[out] = e
            own = [e] if e.kind in ("buffer", "own") else []
            shared = [r for x in aliased for r in roots.get(id(x), ())]
            roots[id(out)] = own + shared
            if e.kind == "view" and aliased:
                e.base = aliased[0]
            for r in shared:  # the storage lives as long as its alias (roots are transitive)
                r.end = max(r.end, end)
    buffers, notes = _assign(entries, symbols)
    steps = _steps(graph, entries, buffers, symbols)
    return SymbolicPlan(tuple(graph.nodes), symbols, entries, buffers, steps, notes, by_value,
                        names)


def _entry(node: Node, k: int, out: Value, symbols: tuple, is_output: bool) -> Entry:
    source = node.meta.get("source", "") if isinstance(node.meta, dict) else ""
    nbytes = value_bytes(out)
    op = node.op
    if op.name == "constant" and not is_output:
        kind, nbytes = "constant", 0
    elif op.kind == VIEW:
        kind, nbytes = "view", 0
    elif _plannable(node, out, symbols, is_output):
        kind = "buffer"
    else:
        kind = "own"
    e = Entry(out, "", k, op.name, source, nbytes, kind, k, k, is_output)
    per_element = _backend_workspace(node)
    if per_element and isinstance(out.type, TensorType):
        e.workspace = mul(prod(out.type.shape), per_element)
    return e


def value_bytes(v: Value) -> Any:
    """A tensor value's bytes (an int or a SymExpr); 0 for lists and other non-tensors."""
    t = v.type
    if not isinstance(t, TensorType):
        return 0
    return mul(prod(t.shape), t.dtype.itemsize)


def _plannable(node: Node, out: Value, symbols: tuple, is_output: bool) -> bool:
    op = node.op
    if is_output or op.num_outputs != 1 or op.control or op.region or op.random:
        return False
    t = out.type
    if not isinstance(t, TensorType) or not t.shape:
        return False
    if t.dtype.compute is not t.dtype:
        return False  # computed in float32 and rounded after (bfloat16): no out= buffer
    if any(s not in symbols for d in t.shape for s in symbols_of(d)):
        return False  # a size bound only while running (nonzero's count)
    nbytes = value_bytes(out)
    if not isinstance(nbytes, str) and nbytes < MIN_PLANNED_BYTES:
        return False
    backend = _backend(t)
    return backend is not None and backend.accepts_out(op.name)


def _backend(t: TensorType) -> Any:
    from ..runtime import backend_for
    try:
        return backend_for(t.device)
    except (RuntimeError, ImportError):  # a device whose library is missing: plan nothing
        return None


def _backend_workspace(node: Node) -> int:
    out = node.outputs[0].type if node.outputs else None
    if not isinstance(out, TensorType) or node.op.control or node.op.region:
        return 0
    backend = _backend(out)
    return backend.workspace.get(node.op.name, 0) if backend is not None else 0


def _last_reads(graph: Graph) -> dict:
    """id(value) -> the last top-level step reading it (a read inside blocks is the owner's)."""
    last: dict = {}
    for k, node in enumerate(graph.nodes):
        for inner in walk([node]):
            for x in list(inner.inputs) + [y for b in inner.blocks for y in b.outputs]:
                if isinstance(x, Value):
                    last[id(x)] = k
    return last


def _aliased_inputs(node: Node) -> list:
    """The values whose memory the node's outputs may share."""
    op = node.op
    if op.control or op.graph_only or any(not isinstance(o.type, TensorType)
                                          for o in node.outputs):
        return _reads(node)  # a block may yield an outer value; a list holds its items
    if op.kind == VIEW or op.may_alias:
        return [x for x in node.inputs if isinstance(x, Value)]
    if op.region:
        body = node.blocks[0]
        through = _block_aliases(body)
        return [x for i, x in enumerate(node.inputs) if isinstance(x, Value) and i in through]
    return []


def _reads(node: Node) -> list:
    found = []
    for inner in walk([node]):
        found += [x for x in inner.inputs if isinstance(x, Value)]
        found += [y for b in inner.blocks for y in b.outputs if isinstance(y, Value)]
    return found


def _block_aliases(block: Block) -> set:
    """Positions of a region body's inputs that a yield of the body may share memory with."""
    reach: dict = {id(v): {i} for i, v in enumerate(block.inputs)}
    for node in block.nodes:
        sources = set().union(*(reach.get(id(x), set()) for x in _aliased_inputs(node)))
        for o in node.outputs:
            reach[id(o)] = sources
    return set().union(*(reach.get(id(y), set()) for y in block.outputs if isinstance(y, Value)))


# ------------------------------------------------------------------------------ comparing

def _geq(p: Any, q: Any, at_least_one: tuple) -> bool:
    """Whether p >= q for every value >= 1 of the symbols in `at_least_one` (and >= 0 of any
    other symbol): p - q, with each such symbol s replaced by s + 1, has no negative
    coefficient. Sufficient, not necessary: some true inequalities are not found (then the
    sizes do not share a buffer)."""
    d = sub(p, q)
    if not isinstance(d, str):
        return d >= 0
    shifted: Any = 0
    for mono, c in d.poly.items():
        term: Any = c
        for s in mono:
            term = mul(term, add(SymExpr(s), 1) if s in at_least_one else SymExpr(s))
        shifted = add(shifted, term)
    if not isinstance(shifted, str):
        return shifted >= 0
    return all(c >= 0 for c in shifted.poly.values())


def _assign(entries: list, symbols: tuple) -> tuple:
    """Linear scan over planned values in schedule order (stage 4)."""
    buffers: list = []
    notes: list = []
    for e in entries:
        if e.kind != "buffer":
            continue
        free = [b for b in buffers if b.end < e.start]
        pick = _pick(free, e.nbytes, symbols)
        t = e.value.type
        if pick is None:
            b = Buffer(len(buffers), e.nbytes, e.start, e.end, [e.value],
                       (tuple(t.shape), t.dtype))
            buffers.append(b)
        else:
            b = pick
            if b.nbytes != e.nbytes:
                bigger, smaller = (e.nbytes, b.nbytes) if _geq(e.nbytes, b.nbytes, symbols) \
                    else (b.nbytes, e.nbytes)
                notes.append((e.value, f"%{e.name} ({e.nbytes} bytes) shares b{b.index} "
                              f"({b.nbytes} bytes): {bigger} >= {smaller} for all "
                              f"{', '.join(symbols) or 'sizes'} >= 1"))
                b.nbytes = bigger
            if b.typed != (tuple(t.shape), t.dtype):
                b.typed = None
            b.values.append(e.value)
            b.end = max(b.end, e.end)
        e.buffer = b.index
    return buffers, notes


def _pick(free: list, nbytes: Any, symbols: tuple) -> Buffer | None:
    same = [b for b in free if b.nbytes == nbytes]
    if same:
        return same[0]
    larger = [b for b in free if _geq(b.nbytes, nbytes, symbols)]
    if larger:
        return min(larger, key=lambda b: _Order(b.nbytes, symbols))
    smaller = [b for b in free if _geq(nbytes, b.nbytes, symbols)]
    if smaller:
        return max(smaller, key=lambda b: _Order(b.nbytes, symbols))
    return None


class _Order:
    """Sort key of sizes by provable order (a partial order: incomparable sizes keep theirs)."""

    def __init__(self, nbytes: Any, symbols: tuple) -> None:
        self.nbytes, self.symbols = nbytes, symbols

    def __lt__(self, other: "_Order") -> bool:
        return self.nbytes != other.nbytes and _geq(other.nbytes, self.nbytes, self.symbols)


# --------------------------------------------------------------------------------- peak

def _steps(graph: Graph, entries: list, buffers: list, symbols: tuple) -> list:
    """The live bytes at each top-level step, as formulas (stage 5)."""
    steps: list = []
    for k, node in enumerate(graph.nodes):
        live: Any = 0
        for b in buffers:
            if b.start <= k <= b.end:
                live = _add(live, b.nbytes)
        for e in entries:
            if e.kind == "own" and e.start <= k <= e.end:
                live = _add(live, e.nbytes)
            if e.index == k:
                live = _add(live, e.workspace)
        if node.op.control:  # a fused region's body runs inside its kernel: no arrays
            live = _add(live, _inner_bytes(node, symbols))
        steps.append(live)
    return steps


def _add(a: Any, b: Any) -> Any:
    return add(a, b)


def _inner_bytes(node: Node, symbols: tuple) -> Any:
    """An upper bound of what a control node's blocks hold while one of them runs: every
    tensor a block's nodes make, live at once (the larger arm of an `if` where provable, else
    both), plus the items a loop collects for its scan outputs."""
    arms = [_block_bytes(b, symbols) for b in node.blocks]
    total: Any = 0
    if node.op.name == "if" and len(arms) == 2:
        a, b = arms
        total = a if _geq(a, b, symbols) else b if _geq(b, a, symbols) else _add(a, b)
    else:
        for a in arms:
            total = _add(total, a)
    if node.op.name == "loop":
        for out in node.outputs[len(node.inputs) - 2:]:  # scan outputs: their item lists
            total = _add(total, value_bytes(out))
    return total


def _block_bytes(block: Block, symbols: tuple) -> Any:
    total: Any = 0
    for node in block.nodes:
        if node.op.kind == VIEW or node.op.name == "constant":
            continue
        if node.op.control:
            total = _add(total, _inner_bytes(node, symbols))
        for out in node.outputs:
            total = _add(total, value_bytes(out))
    return total
