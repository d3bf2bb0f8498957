"""`f.memory_plan(**sizes)`: the memory plan of a compiled function as a user reads it.

The planning pass (passes/memory.py) plans each optimized graph once, in formulas of its
symbolic sizes. `MemoryPlan` evaluates those formulas for the sizes given (`B=64`): the peak and
the naive sum become ints when every symbol has a value, and stay formulas (a `SymExpr` such as
`4096*B`, or a `MaxBytes` of several where none provably dominates) otherwise. Printing a plan
gives its table: value, op, source line, size, where it lives, live range.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from html import escape
from typing import Any, Mapping

from .._html import html_table
from ..ir.symbolic import SymExpr, add, mul


class MaxBytes:
    """The larger of several byte formulas none of which is provably larger than the others
    (`max(2048*B + 65536, 4096*B)`); `evaluate(sizes)` gives the int."""

    def __init__(self, terms: list) -> None:
        self.terms = list(terms)

    def evaluate(self, sizes: Mapping[str, int]) -> Any:
        return _max([substitute(t, sizes) for t in self.terms], ())

    def __str__(self) -> str:
        return f"max({', '.join(str(t) for t in self.terms)})"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MaxBytes) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(tuple(self.terms))


def substitute(expr: Any, sizes: Mapping[str, int]) -> Any:
    """A byte formula with the symbols in `sizes` replaced by their values (an int when all
    of its symbols are given)."""
    if isinstance(expr, MaxBytes):
        return expr.evaluate(sizes)
    if not isinstance(expr, str):
        return expr
    total: Any = 0
    for mono, c in SymExpr(expr).poly.items():
        term: Any = c
        for s in mono:
            term = mul(term, sizes[s] if s in sizes else SymExpr(s))
        total = add(total, term)
    return total


def _max(values: list, symbols: tuple) -> Any:
    """The maximum of formulas: an int when all are ints, else the formulas that no other one
    provably exceeds (one: itself; several: a MaxBytes)."""
    from dualgraph.passes.memory import _geq  # late: passes import jit
    if all(not isinstance(v, str) for v in values):
        return max(values, default=0)
    kept: list = []
    for v in dict.fromkeys(values):
        if any(_geq(k, v, symbols) for k in kept):
            continue
        kept = [k for k in kept if not _geq(v, k, symbols)] + [v]
    return kept[0] if len(kept) == 1 else MaxBytes(kept)


@dataclass
class PlanRow:
    """One value of the table."""

    value: str
    op: str
    source: str
    nbytes: Any
    storage: str  # "b0", "own", "view of %3", "constant"
    start: int
    end: int
    output: bool


@dataclass
class MemoryPlan:
    """The plan of one graph for given sizes. `peak_bytes`: the most bytes live at once
    (planned buffers while they live, arrays kernels allocate, a control node's blocks, kernel
    workspace); `naive_bytes`: the sum of every intermediate (what allocating each value anew
    and never freeing would take); `buffers`: index -> bytes; `buffer(name)` for a value."""

    graph: str
    sizes: dict
    peak_bytes: Any
    naive_bytes: Any
    buffers: dict
    rows: list
    notes: list = field(default_factory=list)

    def buffer(self, value: str) -> int | None:
        """The planned buffer a value (its name, as in the graph text: `"3"` or `"%3"`) is
        written into, or None when its kernel allocates it, it is a view, or a constant."""
        name = value.lstrip("%")
        for r in self.rows:
            if r.value == name:
                return int(r.storage[1:]) if r.storage.startswith("b") else None
        raise KeyError(f"memory_plan: the graph {self.graph} has no value %{name}")

    def shared(self) -> dict:
        """Buffer index -> the names of the values written into it, in schedule order."""
        found: dict = {}
        for r in self.rows:
            if r.storage.startswith("b"):
                found.setdefault(int(r.storage[1:]), []).append(r.value)
        return found

    def __str__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        head = [f"memory plan of {self.graph}" + (f" ({sizes})" if sizes else ""),
                f"  peak {self.peak_bytes} bytes, naive {self.naive_bytes} bytes, "
                f"{len(self.buffers)} buffer(s)"]
        table = [("value", "op", "source", "bytes", "buffer", "live")]
        for r in self.rows:
            live = f"{r.start}..{r.end}" + (" (output)" if r.output else "")
            table.append((f"%{r.value}", r.op, r.source, str(r.nbytes), r.storage, live))
        widths = [max(len(row[i]) for row in table) for i in range(6)]
        lines = head + ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
                        for row in table]
        lines += [f"  {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython
        printer.text(str(self))

    def _repr_html_(self) -> str:
        """The table as HTML, for notebooks: the same columns as `str(plan)`."""
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        head = (f"memory plan of {self.graph}" + (f" ({sizes})" if sizes else "")
                + f": peak {self.peak_bytes} bytes, naive {self.naive_bytes} bytes, "
                f"{len(self.buffers)} buffer(s)")
        rows = [(f"%{r.value}", r.op, r.source, str(r.nbytes), r.storage,
                 f"{r.start}..{r.end}" + (" (output)" if r.output else "")) for r in self.rows]
        return html_table(head, ("value", "op", "source", "bytes", "buffer", "live"), rows,
                          self.notes)


@dataclass
class TrainingMemoryPlan:
    """The plans of a training step: the forward graph that saves residuals, the backward
    graph, and the residuals themselves (what the step holds from forward to backward).
    `peak_bytes` is the larger of the forward's peak and the residuals plus the backward's
    peak (the backward's incoming gradients, its inputs, are not counted)."""

    forward: MemoryPlan
    backward: MemoryPlan
    residuals: list  # PlanRow of each residual the backward reads
    residual_bytes: Any
    peak_bytes: Any
    budget: Any = None  # memory_budget in bytes (None: unconstrained)
    recomputed: list = field(default_factory=list)  # Recomputed rows (passes/recompute.py)

    def __str__(self) -> str:
        lines = [f"training step: peak {self.peak_bytes} bytes, residuals "
                 f"{self.residual_bytes} bytes", str(self.forward), str(self.backward),
                 "residuals saved for backward:"]
        lines += [f"  %{r.value}  {r.op}  {r.source}  {r.nbytes}" for r in self.residuals]
        if self.budget is not None:
            lines.append(f"memory budget {self.budget} bytes; recomputed in backward "
                         "(op, source, bytes saved, FLOPs, nodes):")
            lines += [f"  {r.op}  {r.source}  {r.bytes_saved}  {r.flops}  {r.nodes} "
                      f"({' -> '.join(r.chain)})" for r in self.recomputed]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Both plans and the residuals as HTML tables, for notebooks."""
        head = (f"training step: peak {self.peak_bytes} bytes, residuals "
                f"{self.residual_bytes} bytes")
        residuals = html_table("residuals saved for backward", ("value", "op", "source", "bytes"),
                               [(f"%{r.value}", r.op, r.source, str(r.nbytes))
                                for r in self.residuals])
        return (f"<div><p>{escape(head)}</p>{self.forward._repr_html_()}"
                f"{self.backward._repr_html_()}{residuals}</div>")


def check_sizes(where: str, symbols: tuple, sizes: Mapping[str, Any]) -> dict:
    """Validate `**sizes`: names of the graph's symbols, ints >= 1."""
    for k, v in sizes.items():
        if k not in symbols:
            known = ", ".join(symbols) or "none (its sizes are all concrete)"
            raise TypeError(f"{where}: unknown size {k!r}; the graph's symbolic sizes are "
                            f"{known}")
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{where}: size {k} must be an int, got {type(v).__name__}")
        if v < 1:
            raise ValueError(f"{where}: size {k} must be >= 1, got {v}")
    return dict(sizes)


def resolve(plan: Any, name: str, sizes: Mapping[str, int]) -> MemoryPlan:
    """The user's MemoryPlan of a SymbolicPlan (passes/memory.py) for `sizes`."""
    rows = []
    naive: Any = 0
    for e in plan.entries:
        nbytes = substitute(e.nbytes, sizes)
        if e.kind in ("buffer", "own"):
            naive = add(naive, nbytes)
        if e.kind == "buffer":
            storage = f"b{e.buffer}"
        elif e.kind == "view":
            base = plan.names.get(e.base) if e.base is not None else None
            storage = f"view of %{base}" if base else "view"
        else:
            storage = e.kind
        rows.append(PlanRow(e.name, e.op, e.source, nbytes, storage, e.start, e.end,
                            e.output))
    left = tuple(s for s in plan.symbols if s not in sizes)
    peak = _max([substitute(s, sizes) for s in plan.steps], left)
    buffers = {b.index: substitute(b.nbytes, sizes) for b in plan.buffers}
    return MemoryPlan(name, dict(sizes), peak, naive, buffers, rows, [n for _, n in plan.notes])


def training(forward: MemoryPlan, backward: MemoryPlan, residuals: list,
             symbols: tuple, budget: Any = None) -> TrainingMemoryPlan:
    """The plan of a training step from its two graphs' plans and its residuals (and what a
    memory budget recomputes: `budget` is the pass's `Budgeted`, or None)."""
    total: Any = 0
    for r in residuals:
        total = add(total, r.nbytes)
    step = _max(_terms(forward.peak_bytes) + [add(total, t) for t in _terms(backward.peak_bytes)],
                symbols)
    if budget is None:
        return TrainingMemoryPlan(forward, backward, residuals, total, step)
    sizes = forward.sizes
    rows = [replace(r, bytes_saved=substitute(r.bytes_saved, sizes),
                    flops=substitute(r.flops, sizes)) for r in budget.recomputed]
    return TrainingMemoryPlan(forward, backward, residuals, total, step,
                              substitute(budget.budget, sizes), rows)


def _terms(x: Any) -> list:
    return x.terms if isinstance(x, MaxBytes) else [x]
