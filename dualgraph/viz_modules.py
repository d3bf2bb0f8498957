"""Drawing a graph by module (`to_dot(f, collapse="module")`): one box per submodule.

Capture records, on each node, the path of the submodule whose forward emitted it
(`node.meta["module"]`, `layers.0.attn.q`). A node is drawn inside the box of the first prefix
of its path that is not *open*: prefixes shorter than `depth` are open (depth=1: `layers` is a
box; depth=2: `layers.0` and `layers.1` are, framed by a dashed `layers`), and so is every
prefix of a path named in `expand` (`expand=("layers.0",)` draws layers.0's children as boxes
and keeps layers.1 one box). A node whose whole path is open is drawn as itself, inside the
frames of its open modules; nodes of the model's own forward sit at the top level.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from dualgraph.ir.graph import Graph, Node, module_of

COLLAPSE = ("module",)  # the values `collapse=` takes (besides None)
MAX_LABEL_OPS = 6  # a box names at most this many op kinds, then "…"
OPS_PER_LINE = 3

BOX_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#E8EAF6", "color": "#5C6BC0",
             "penwidth": "1.4"}
FRAME_STYLE = {"style": "rounded,dashed", "color": "#9FA8DA", "fontcolor": "#3949AB"}


def check_options(collapse: Any, expand: Any, depth: Any) -> tuple:
    """(collapse, expand as a tuple of paths, depth) after checking them; depth defaults to 1."""
    if collapse is not None and collapse not in COLLAPSE:
        raise ValueError(f"to_dot(): collapse must be None or one of "
                         f"{', '.join(repr(c) for c in COLLAPSE)}, got {collapse!r}")
    paths = (expand,) if isinstance(expand, str) else tuple(expand or ())
    bad = [p for p in paths if not isinstance(p, str) or not p]
    if bad:
        raise TypeError(f"to_dot(): expand takes module paths (non-empty str such as "
                        f"'layers.0'), got {bad[0]!r}")
    if collapse is None:
        given = [n for n, v in (("expand", paths), ("depth", depth)) if v not in ((), None)]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            raise ValueError(f"to_dot(): {' and '.join(given)} {verb} only with "
                             "collapse='module'")
        return None, (), None
    if depth is None:
        depth = 1
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(f"to_dot(): depth must be an int >= 1, got {type(depth).__name__}")
    if depth < 1:
        raise ValueError(f"to_dot(): depth must be >= 1, got {depth}")
    return collapse, paths, depth


def prefixes(path: str) -> list:
    """`layers.0.attn` -> ["layers", "layers.0", "layers.0.attn"]; [] for the top level."""
    parts = path.split(".") if path else []
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def parent(path: str) -> str | None:
    """The enclosing module's path, or None at the top level."""
    head, dot, _ = path.rpartition(".")
    return head if dot else None


class ModuleLayout:
    """Where each top-level node of `graph` is drawn: in the box of a collapsed module
    (`box[i]`, its path) or as itself (`box[i]` None) inside the frame `frame[i]` (the path of
    its innermost open module; None for the top level)."""

    def __init__(self, graph: Graph, depth: int, expand: Iterable[str]) -> None:
        paths = [module_of(node) for node in graph.nodes]
        known = {p for path in paths for p in prefixes(path)}
        expand = tuple(expand)
        for e in expand:
            if e not in known:
                shown = ", ".join(sorted(known)[:12]) or "none (no node records a module)"
                raise ValueError(f"to_dot(): expand names {e!r}, which no node of the graph "
                                 f"{graph.name} belongs to; its module paths are: {shown}")
        self.open = {p for p in known if p.count(".") + 1 < depth}
        self.open |= {p for e in expand for p in prefixes(e)}
        self.box: list = []
        self.frame: list = []
        for path in paths:
            box = next((p for p in prefixes(path) if p not in self.open), None)
            self.box.append(box)
            self.frame.append(parent(box) if box is not None else (path or None))
        self.members: dict = {}  # box path -> the nodes inside, in schedule order
        for node, box in zip(graph.nodes, self.box):
            if box is not None:
                self.members.setdefault(box, []).append(node)


def op_counts(nodes: Iterable[Node]) -> Counter:
    """How many of each op the nodes hold; a fused node counts as the ops fused in it."""
    counts: Counter = Counter()
    for node in nodes:
        if node.op.region:
            counts.update(m.op.name for b in node.blocks for m in b.nodes)
        else:
            counts[node.op.name] += 1
    return counts


def _count_text(name: str, n: int) -> str:
    return name if n == 1 else f"{name} ×{n}"


def box_label(path: str, nodes: list, n_params: int, buffers: list) -> tuple:
    """(label, tooltip) of a collapsed module: its path, how many ops (and parameters) it holds,
    the most frequent op kinds; the tooltip lists them all. `buffers`: planned buffers used."""
    counts = op_counts(nodes)
    total = sum(counts.values())
    summary = f"{total} op{'s' * (total != 1)}"
    if n_params:
        summary += f", {n_params} param{'s' * (n_params != 1)}"
    kinds = [_count_text(k, n) for k, n in counts.most_common()]
    shown = kinds[:MAX_LABEL_OPS] + (["…"] if len(kinds) > MAX_LABEL_OPS else [])
    lines = [path, summary]
    lines += [", ".join(shown[i:i + OPS_PER_LINE]) for i in range(0, len(shown), OPS_PER_LINE)]
    if buffers:
        lines.append("buffers " + " ".join(f"b{b}" for b in buffers))
    tooltip = f"module {path}: {summary}\n" + "\n".join(kinds)
    return "\n".join(lines), tooltip
