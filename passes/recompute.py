"""Recomputation under a memory budget: residuals of a forward/backward pair (the autodiff pass)
that are cheap to compute again are recomputed in the backward graph instead of being saved.

The idea is Inductor's min-cut partitioner's; the rule here is greedy:

1. Residuals: the forward values the backward reads. A residual's bytes are its tensor's
   (numel * itemsize, a formula of the symbols); forward inputs and views cost nothing (the
   caller holds the inputs; a view is planned as 0 bytes), as in `f.memory_plan()`.
2. Candidates: a residual made by an elementwise, deterministic node of the forward's top
   level. Its *chain* walks up through such nodes (at most MAX_CHAIN) until every leaf is
   available in the backward: a saved residual, a forward input (then saved, at no cost), a
   literal. A leaf of any other kind would have to be saved: its bytes count against the
   candidate. Bytes saved = the residual's bytes - those new residuals' bytes; cost = the
   chain's elements computed (one FLOP per element per node) and its node count.
3. Greedy: while the residual bytes exceed the budget, recompute the candidate with the most
   bytes saved per FLOP (ranked with every symbol at RANK_SIZE); re-evaluate after each (a
   recomputed value is no longer available to the next chain). Stop when none saves bytes.
4. Rewrite: the chain's nodes are copied into the backward graph right before the first node
   that reads the residual, reading backward inputs; the residual leaves the forward's outputs
   and the backward's inputs; new leaves become residuals.

A budget is bytes (an int; the sizes must be concrete) or a fraction of the unconstrained
residual bytes (a float in (0, 1]). With symbolic sizes, "fits" means for every size >= 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Node, Value, walk
from ..ir.registry import ELEMENTWISE, VIEW
from ..ir.symbolic import SymExpr, add, mul, prod, sub
from .memory import _geq, value_bytes

MAX_CHAIN = 8  # nodes recomputed for one residual at most: recomputation stays cheap
RANK_SIZE = 64  # the value of each symbol when candidates are ranked by bytes per FLOP


@dataclass
class Recomputed:
    """One residual recomputed in the backward: its op chain (forward order), source line,
    bytes no longer saved (net of new residuals), FLOPs (elements computed) and node count."""

    op: str
    source: str
    chain: list
    bytes_saved: Any
    flops: Any
    nodes: int


@dataclass
class Budgeted:
    """What the pass decided: the budget in bytes, the residual bytes before and after."""

    budget: Any
    before: Any
    after: Any
    fits: bool
    recomputed: list = field(default_factory=list)


def check_budget(budget: Any, where: str, symbolic: bool) -> Any:
    """`memory_budget=`: None, bytes (an int >= 0, concrete sizes only) or a fraction in (0, 1]."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise TypeError(f"{where}: memory_budget must be an int (bytes) or a float (a fraction "
                        f"of the residual bytes), got {type(budget).__name__}")
    if isinstance(budget, float):
        if not 0.0 < budget <= 1.0:
            raise ValueError(f"{where}: memory_budget as a fraction must be in (0, 1], got "
                             f"{budget}")
        return budget
    if budget < 0:
        raise ValueError(f"{where}: memory_budget in bytes must be >= 0, got {budget}")
    if symbolic:
        raise ValueError(f"{where}: the graph has symbolic sizes, so its residual bytes are "
                         f"formulas; give memory_budget as a fraction (0.5), not {budget} bytes")
    return budget


def _substitute(expr: Any, size: int) -> Any:
    if not isinstance(expr, str):
        return expr
    total: Any = 0
    for mono, c in expr.poly.items():
        term: Any = c
        for _ in mono:
            term *= size
        total += term
    return total


class _Pass:
    def __init__(self, g: Any) -> None:
        self.g = g
        self.fwd, self.bwd = g.forward, g.backward
        self.n_grads = len(g.grad_outputs)
        self.inputs = set(self.fwd.inputs)
        self.top = {id(n) for n in self.fwd.nodes}
        self.symbols = tuple(self.fwd.symbols())

    # ------------------------------------------------------------------------- residuals
    def residuals(self) -> list:
        """(forward value, backward input) of each residual."""
        outs = self.fwd.outputs[self.g.n_outputs:]
        return list(zip(outs, self.bwd.inputs[self.n_grads:]))

    def cost(self, v: Any) -> Any:
        if not isinstance(v, Value) or v in self.inputs:
            return 0
        if v.node is not None and v.node.op.kind == VIEW:
            return 0
        return value_bytes(v)

    def total(self) -> Any:
        out: Any = 0
        for v, _ in self.residuals():
            out = add(out, self.cost(v))
        return out

    def recomputable(self, v: Any) -> bool:
        n = v.node if isinstance(v, Value) else None
        return (n is not None and id(n) in self.top and n.op.kind == ELEMENTWISE
                and not n.op.random and not n.blocks and len(n.outputs) == 1)

    # ------------------------------------------------------------------------ candidates
    def chain(self, v: Value, saved: set) -> tuple | None:
        """(nodes in forward order, leaves to newly save) to recompute v, or None."""
        nodes: list = []
        leaves: dict = {}
        seen: set = set()

        def visit(x: Any) -> bool:
            if not isinstance(x, Value) or x in saved or x in seen:
                return True
            seen.add(x)
            if x in self.inputs:
                leaves[x] = None
                return True
            if not self.recomputable(x):
                leaves[x] = None
                return True
            if len(nodes) >= MAX_CHAIN:
                return False
            for y in x.node.inputs:
                if not visit(y):
                    return False
            nodes.append(x.node)
            return True

        if not self.recomputable(v):
            return None
        for y in v.node.inputs:
            if not visit(y):
                return None
        nodes.append(v.node)
        order = {id(n): i for i, n in enumerate(self.fwd.nodes)}
        nodes.sort(key=lambda n: order[id(n)])
        return nodes, list(leaves)

    def best(self) -> tuple | None:
        saved = {v for v, _ in self.residuals()}
        bound = self._bound_elsewhere
        found = None
        for v, b in self.residuals():
            if self.cost(v) == 0 or not bound(b):
                continue
            got = self.chain(v, saved)
            if got is None:
                continue
            nodes, leaves = got
            gain: Any = self.cost(v)
            for x in leaves:
                gain = sub(gain, self.cost(x))
            flops: Any = 0
            for n in nodes:
                flops = add(flops, prod(n.outputs[0].type.shape))
            g_at, f_at = _substitute(gain, RANK_SIZE), _substitute(flops, RANK_SIZE)
            if not isinstance(gain, str) and gain <= 0 or g_at <= 0:
                continue
            score = g_at / max(f_at, 1)
            if found is None or score > found[0]:
                found = (score, v, b, nodes, leaves, gain, flops)
        return found

    def _bound_elsewhere(self, b: Value) -> bool:
        """Whether every symbol of b's shape is still carried by another backward input."""
        syms = {d for d in getattr(b.type, "shape", ()) if isinstance(d, str)}
        if not syms:
            return True
        others = {d for x in self.bwd.inputs if x is not b
                  for d in getattr(x.type, "shape", ()) if isinstance(d, str)}
        return syms <= others

    # --------------------------------------------------------------------------- rewrite
    def apply(self, v: Value, b: Value, nodes: list, leaves: list) -> None:
        residuals = dict(self.residuals())
        for x in leaves:  # new residuals (forward inputs cost nothing)
            if x not in residuals:
                self.fwd.outputs.append(x)
                residuals[x] = self.bwd.add_input(x.type, f"saved_r{len(self.bwd.inputs)}")
        env = {x: bx for x, bx in residuals.items()}
        made = []
        for n in nodes:
            new = Node(n.op, [env.get(x, x) if isinstance(x, Value) else x for x in n.inputs],
                       n.attrs, [o.type for o in n.outputs])
            new.meta = dict(n.meta)
            env[n.outputs[0]] = new.outputs[0]
            made.append(new)
        replacement = env[v]
        at = next((i for i, n in enumerate(self.bwd.nodes)
                   if any(x is b for m in walk([n]) for x in m.input_values())
                   or any(y is b for m in walk([n]) for blk in m.blocks for y in blk.outputs)),
                  len(self.bwd.nodes))
        self.bwd.nodes[at:at] = made
        for m in self.bwd.all_nodes():
            m.inputs = [replacement if x is b else x for x in m.inputs]
            for blk in m.blocks:
                blk.outputs = [replacement if y is b else y for y in blk.outputs]
        self.bwd.outputs = [replacement if y is b else y for y in self.bwd.outputs]
        k = self.bwd.inputs.index(b)
        del self.bwd.inputs[k]
        del self.fwd.outputs[self.g.n_outputs + k - self.n_grads]


def recompute_under_budget(g: Any, budget: Any) -> Budgeted:
    """Rewrite the Gradient `g` (passes/autodiff.py) in place so its residual bytes fit
    `budget` where cheap recomputation allows; return what was decided."""
    p = _Pass(g)
    before = p.total()
    if not isinstance(budget, float):
        limit: Any = budget
    elif isinstance(before, int):
        limit = int(before * budget)
    else:
        limit = _scale(before, budget)
    done = []
    while not _geq(limit, p.total(), p.symbols):
        found = p.best()
        if found is None:
            break
        _, v, b, nodes, leaves, gain, flops = found
        n = v.node
        done.append(Recomputed(n.op.name, n.meta.get("source", ""), [m.op.name for m in nodes],
                               gain, flops, len(nodes)))
        p.apply(v, b, nodes, leaves)
    after = p.total()
    return Budgeted(limit, before, after, _geq(limit, after, p.symbols), done)


def _scale(expr: Any, fraction: float) -> Any:
    """fraction * a byte formula, rounded down per coefficient (a formula of ints)."""
    total: Any = 0
    for mono, c in SymExpr(expr).poly.items():
        term: Any = int(c * fraction)
        for s in mono:
            term = mul(term, SymExpr(s))
        total = add(total, term)
    return total
