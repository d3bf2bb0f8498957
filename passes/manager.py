"""The pass manager: named passes, a pipeline per optimization level, timing, verification and
dumps.

    opt_level 0   the graph as captured
    opt_level 1   dce, simplify, cse (and dce again)
    opt_level 2   + constant folding, elementwise fusion (passes/fuse.py)
    opt_level 3   everything that keeps results within floating-point tolerance of eager
                  (the default), then memory planning (passes/memory.py)

`optimize(graph, level)` works on a copy and returns it with a `PassReport`: per pass its time
and what it changed, with the source line of each node touched. Under `DUALGRAPH_CHECK=1` (the
tests set it) the verifier runs after every pass; `DUALGRAPH_DUMP=cse,dce` (or `all`) prints a
unified diff of the text form before and after those passes.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from ..ir.graph import Graph
from ..ir.text import print_graph
from ..ir.verify import verify
from .cse import cse
from .dce import dce
from .fold import fold_constants
from .fuse import fuse
from .memory import plan_memory
from .rewrite import clone
from .simplify import simplify

MAX_LEVEL = 3


@dataclass(frozen=True)
class Pass:
    """A named in-place rewrite `fn(graph, log) -> changed`, run from `level` upwards."""

    name: str
    fn: Callable
    level: int
    doc: str


PIPELINE: tuple = (
    Pass("dce", dce, 1, "remove nodes, if outputs and loop-carried values nobody needs"),
    Pass("simplify", simplify, 1, "apply the ops' algebraic identities (x*1, --x, x**2 ...)"),
    Pass("cse", cse, 1, "merge repeated pure nodes"),
    Pass("fold", fold_constants, 2, "compute constant nodes and constant control flow now"),
    Pass("dce", dce, 1, "remove what merging and folding left unread"),
    Pass("fuse", fuse, 2, "group elementwise ops into one generated kernel each"),
    Pass("memory", plan_memory, 3, "plan buffers: values whose lifetimes do not overlap share "
         "one, written with out= (last: it plans the final schedule)"),
)


@dataclass
class PassRun:
    """One pass as it ran: its time, whether it changed the graph, and what it did."""

    name: str
    seconds: float
    changed: bool
    changes: list = field(default_factory=list)  # (kind, op name, source line, what)


@dataclass
class PassReport:
    """What `optimize` did, pass by pass; prints as a table (and in notebooks)."""

    level: int
    runs: list = field(default_factory=list)
    nodes_before: int = 0
    nodes_after: int = 0

    def __str__(self) -> str:
        lines = [f"opt_level={self.level}: {self.nodes_before} -> {self.nodes_after} nodes"]
        for r in self.runs:
            lines.append(f"  {r.name:<8} {r.seconds * 1e3:7.2f} ms  "
                         f"{len(r.changes)} change(s)")
            for kind, op, source, what in r.changes:
                where = f"  [{source}]" if source else ""
                lines.append(f"    {kind:<9} {what}{where}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython
        printer.text(str(self))


def check_level(opt_level: object, where: str) -> int:
    """Validate an `opt_level` argument: an int from 0 to MAX_LEVEL."""
    if isinstance(opt_level, bool) or not isinstance(opt_level, int) or not (
            0 <= opt_level <= MAX_LEVEL):
        raise ValueError(f"{where}: opt_level must be an int from 0 to {MAX_LEVEL}, got "
                         f"{opt_level!r}")
    return opt_level


def optimize(graph: Graph, opt_level: int = MAX_LEVEL) -> tuple[Graph, PassReport]:
    """A copy of `graph` with the passes of `opt_level` applied, and what each one did."""
    check_level(opt_level, "optimize")
    report = PassReport(opt_level, nodes_before=_count(graph))
    g = clone(graph)
    dump = _dump_set()
    checking = bool(os.environ.get("DUALGRAPH_CHECK"))
    for p in PIPELINE:
        if p.level > opt_level:
            continue
        before = print_graph(g) if (p.name in dump or "all" in dump) else None
        log: list = []
        start = time.perf_counter()
        changed = bool(p.fn(g, log))
        seconds = time.perf_counter() - start
        if checking:
            verify(g)
        report.runs.append(PassRun(p.name, seconds, changed,
                                   [(kind, node.op.name, node.meta.get("source", ""), what)
                                    for kind, node, what in log]))
        if before is not None:
            _print_diff(p.name, before, print_graph(g))
    report.nodes_after = _count(g)
    return g, report


def _count(graph: Graph) -> int:
    return sum(1 for _ in graph.all_nodes())


def _dump_set() -> set:
    return {s.strip() for s in os.environ.get("DUALGRAPH_DUMP", "").split(",") if s.strip()}


def _print_diff(name: str, before: str, after: str) -> None:
    diff = difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                f"before {name}", f"after {name}")
    text = "".join(diff) or f"(pass {name} changed nothing)\n"
    sys.stderr.write(text)
