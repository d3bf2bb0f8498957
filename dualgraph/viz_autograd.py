"""Pictures of eager autograd graphs: a tensor's `grad_fn` chain drawn as torchviz draws it.

    loss = nn.CrossEntropyLoss()(net(x), y)
    dg.viz.render(loss, "net.svg", params=dict(net.named_parameters()), show_saved=True)

One grey box per backward node, named as PyTorch names it (`AddmmBackward0`, `AccumulateGrad`);
edges run from the inputs' nodes to the node that consumes them, so leaves sit at the top and
the tensor drawn (green) at the bottom. Each leaf (blue) shows its name from `params`, its shape
and its dtype (torchviz omits the dtype); with `show_saved=True` the tensors a node saved for
backward (orange) hang off it by dashed lines, named as PyTorch names its `_saved_*` attributes
(`self`, `other`, `mat1`; `result` for a saved output). `max_depth=k` draws k levels of nodes
below the tensor and one "... n more nodes" box where the rest was cut, so big graphs stay
readable.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Mapping

from .tensor import Tensor

FONT = "Helvetica,Arial,sans-serif"
MONO = "Courier,monospace"
INK = "#37474F"
EDGE_INK = "#78909C"

STYLES: dict[str, dict[str, str]] = {
    "fn": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ECEFF1", "color": "#607D8B"},
    "leaf": {"shape": "box", "style": "filled", "fillcolor": "#D6E9F8", "color": "#4A7FB0"},
    "saved": {"shape": "box", "style": "filled", "fillcolor": "#FFD8A8", "color": "#C77C1E"},
    "root": {"shape": "box", "style": "filled", "fillcolor": "#D8EFD9", "color": "#4C8C50"},
    "cut": {"shape": "box", "style": "dashed", "color": "#90A4AE", "fontcolor": "#78909C"},
}


def _graphviz() -> Any:
    """The graphviz package, or an ImportError saying how to install it (shared with viz.py)."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("dualgraph.viz needs the `graphviz` Python package: "
                          "pip install graphviz") from None
    return graphviz


def _label(text: str) -> Any:
    """A DOT label that shows `text` literally (backslashes, `<...>`), lines centred."""
    return _graphviz().nohtml("\\n".join(line.replace("\\", "\\\\") for line in text.split("\n")))


def tensor_text(shape: Iterable[int], dtype: Any, name: str = "") -> str:
    """`name` over `(2, 3) float32`, the label of a tensor box."""
    dims = tuple(int(d) for d in shape)
    dtype = getattr(dtype, "name", dtype)  # dg.float32 and np.dtype('float32') alike
    text = f"({', '.join(map(str, dims))}{',' if len(dims) == 1 else ''}) {dtype}"
    return f"{name}\n{text}" if name else text


def _roots(obj: Any) -> list[Tensor]:
    items = list(obj) if isinstance(obj, (tuple, list)) else [obj]
    for t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot(): expected a Tensor (or a tuple of Tensors) whose "
                            f"autograd graph to draw, got {type(t).__name__}")
    return items


def _param_names(params: Mapping[str, Tensor] | None) -> dict[int, str]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError("to_dot(): params must map names to tensors (e.g. "
                        f"dict(model.named_parameters())), got {type(params).__name__}")
    return {id(t): name for name, t in params.items()}


def _check_depth(max_depth: int | None) -> None:
    if max_depth is not None and (not isinstance(max_depth, int) or isinstance(max_depth, bool)
                                  or max_depth < 1):
        raise ValueError(f"to_dot(): max_depth must be a positive int or None, got {max_depth!r}")


def walk(roots: list[Tensor], max_depth: int | None) -> tuple[dict, dict]:
    """Breadth-first from the roots' grad_fns: {node: depth} of the nodes drawn (depth 1 is a
    root's grad_fn) and {node: nodes hidden below it} where `max_depth` cut the walk."""
    depth: dict = {}
    queue: deque = deque()
    for t in roots:
        fn = t.grad_fn
        if fn is not None and fn not in depth:
            depth[fn] = 1
            queue.append(fn)
    cut: dict = {}
    while queue:
        node = queue.popleft()
        for child, _ in node.next_functions:
            if child is None or child in depth:
                continue
            if max_depth is not None and depth[node] >= max_depth:
                cut.setdefault(node, []).append(child)
                continue
            depth[child] = depth[node] + 1
            queue.append(child)
    return depth, {node: _hidden(children, depth) for node, children in cut.items()}


def _hidden(children: list, drawn: dict) -> int:
    """How many nodes not drawn are reachable from `children`."""
    seen = set()
    stack = [c for c in children if c not in drawn]
    while stack:
        node = stack.pop()
        if node in seen or node in drawn:
            continue
        seen.add(node)
        stack.extend(c for c, _ in node.next_functions if c is not None)
    return len(seen)


def saved_tensors(node: Any) -> list[tuple[str, Any]]:
    """(name, array) of each tensor `node` saved for backward and still holds."""
    op = getattr(node, "_op", None)
    found = []
    if op is not None:  # an op's node: saved inputs by the op's input names, then its output
        # PyTorch's saved-attribute names (`_saved_self`): its first input is `self`
        names = ["self" if n == "input" else n.lstrip("*") for n in op.inputs]
        for i, s in enumerate(getattr(node, "_saved", ()) or ()):
            if s.__class__ is tuple and s and isinstance(s[0], Tensor):
                found.append((names[i] if i < len(names) else f"input{i}", s[0]._data))
        out = getattr(node, "_out", None)
        if isinstance(out, tuple):
            found += [(f"result{i}", o.data) for i, o in enumerate(out) if hasattr(o, "data")]
        elif hasattr(out, "data"):  # not when saved_tensors_hooks packed it
            found.append(("result", out.data))
        return found
    residuals = getattr(node, "_saved", None)  # a compiled backward graph's residual arrays
    if isinstance(residuals, list):
        found += [(f"residual{i}", a) for i, a in enumerate(residuals) if hasattr(a, "shape")]
    return found


class _Drawing:
    """The DOT statements of one autograd picture. Boxes are numbered in the order first
    referred to and declared at the end, so a tensor saved by several nodes (or a saved leaf)
    is one box: a leaf keeps its leaf label, a saved tensor lists every name it was saved as."""

    def __init__(self, names: dict[int, str], show_saved: bool) -> None:
        gv = _graphviz()
        self.dot = gv.Digraph(name="autograd")
        self.dot.attr(rankdir="TB", nodesep="0.3", ranksep="0.35", bgcolor="white",
                      pad="0.25", fontname=FONT, fontcolor=INK)
        self.dot.attr("node", fontname=MONO, fontsize="11", fontcolor=INK, penwidth="1.2",
                      margin="0.14,0.05", height="0.32")
        self.dot.attr("edge", color=EDGE_INK, arrowsize="0.7", penwidth="1.0")
        self.names, self.show_saved = names, show_saved
        self.ids: dict = {}
        self.boxes: dict = {}  # key -> (text, kind)
        self.saved: dict = {}  # key -> ([names], shape, dtype)

    def ref(self, key: Any) -> str:
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = f"n{len(self.ids)}"
        return found

    def box(self, key: Any, text: str, kind: str) -> str:
        self.boxes.setdefault(key, (text, kind))
        return self.ref(key)

    def function(self, node: Any) -> str:
        fn_id = self.box(("fn", id(node)), node.name(), "fn")
        variable = getattr(node, "variable", None)  # AccumulateGrad: its leaf above it
        if isinstance(variable, Tensor):
            leaf = self.box(("array", id(variable._data)), tensor_text(
                variable._data.shape, variable._dtype, self.names.get(id(variable), "")), "leaf")
            self.dot.edge(leaf, fn_id)
        if self.show_saved:
            for name, array in saved_tensors(node):
                key = ("array", id(array))
                entry = self.saved.setdefault(key, ([], array.shape, array.dtype))
                if name not in entry[0]:
                    entry[0].append(name)
                self.dot.edge(fn_id, self.ref(key), dir="none", style="dashed")
        return fn_id

    def finish(self) -> Any:
        for key, box_id in self.ids.items():
            if key in self.boxes:
                text, kind = self.boxes[key]
            else:
                names, shape, dtype = self.saved[key]
                text, kind = tensor_text(shape, dtype, ", ".join(names)), "saved"
            self.dot.node(box_id, _label(text), **STYLES[kind])
        return self.dot


def autograd_dot(obj: Any, params: Mapping[str, Tensor] | None = None,
                 show_saved: bool = False, max_depth: int | None = None) -> Any:
    """A `graphviz.Digraph` of the autograd graph behind a tensor (or tensors); see the
    module docstring."""
    roots = _roots(obj)
    _check_depth(max_depth)
    drawing = _Drawing(_param_names(params), bool(show_saved))
    depth, cut = walk(roots, max_depth)
    for node in depth:
        drawing.function(node)
    for node in depth:
        for child, _ in node.next_functions:
            if child in depth:
                drawing.dot.edge(drawing.ids[("fn", id(child))], drawing.ids[("fn", id(node))])
    for node, hidden in cut.items():
        more = drawing.box(("cut", id(node)), f"... {hidden} more node{'s' * (hidden != 1)}",
                           "cut")
        drawing.dot.edge(more, drawing.ids[("fn", id(node))], style="dashed")
    for i, t in enumerate(roots):
        name = drawing.names.get(id(t), "" if len(roots) == 1 else f"output {i}")
        root = drawing.box(("root", i), tensor_text(t._data.shape, t._dtype, name), "root")
        if t.grad_fn is not None:
            drawing.dot.edge(drawing.ids[("fn", id(t.grad_fn))], root)
    return drawing.finish()
