"""Pictures of static graphs: `to_dot` builds a Graphviz diagram, `render` writes SVG, PNG or PDF.

    from dualgraph.ir.text import parse_graph
    from dualgraph.viz import render, to_dot

    g = parse_graph('''
    graph(%x: f32[B, 784], %w: f32[784, 10], %b: f32[10]) {
      %0 = matmul(%x, %w) : f32[B, 10]
      %1 = add(%0, %b) : f32[B, 10]
      %2 = relu(%1) : f32[B, 10]
      return (%2)
    }''')
    g.meta["params"] = ["w", "b"]
    print(to_dot(g).source)        # DOT text; needs only the `graphviz` Python package
    render(g, "/tmp/graph.svg")    # needs the `dot` program too

`to_dot(tensor)` draws an eager tensor's autograd graph instead (`dualgraph.viz_autograd`: the
grad_fn chain as torchviz draws it; options `params=`, `show_saved=`, `max_depth=`).

One rounded box per op, labelled with the op name and its non-default attributes (`sum` then
`dim=1`); each edge carries its value's type (`f32[B, 10]`). User inputs are blue ovals,
parameters and buffers amber cylinders, constants grey notes, outputs green double ovals. In a
notebook a Graph shows this picture by itself (`Graph._repr_svg_`).

Bigger graphs fold: `to_dot(f, collapse="module")` draws one box per submodule from the module
paths capture records (`depth=`, `expand=`: viz_modules.py), and `to_dot(f, memory=True)` colours
the values of an optimized function by the buffer its memory plan writes them into
(viz_memory.py). docs/PROFILING.md shows both.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from dualgraph.ir.graph import MODULE, Graph, Node, Value
from dualgraph.ir.text import format_attr, format_node, format_type
from dualgraph.tensor import Tensor
from dualgraph.viz_autograd import _graphviz, _label, autograd_dot
from dualgraph.viz_memory import add_legend, buffers_of, memory_plan, value_buffer
from dualgraph.viz_memory import color as buffer_color
from dualgraph.viz_modules import BOX_STYLE, FRAME_STYLE, ModuleLayout, box_label, check_options
from dualgraph.viz_modules import parent, prefixes

FORMATS = ("svg", "png", "pdf")
MAX_ATTR_CHARS = 28  # longer attribute values are cut with an ellipsis
MAX_TOOLTIP_CHARS = 400  # hover text in SVG: the node's text-IR line
MAX_INLINE_ELEMENTS = 8  # constants up to this size show their values
PNG_DPI = "144"

FONT = "Helvetica,Arial,sans-serif"
MONO = "Courier,monospace"
INK = "#37474F"  # text and outlines
EDGE_INK = "#78909C"  # edges and type labels

# kind -> node attributes; one calm pastel per kind, the same outline weight everywhere
STYLES: dict[str, dict[str, str]] = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#F5F7FA",
           "color": "#607D8B"},
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#D6E9F8",
              "color": "#4A7FB0"},
    "param": {"shape": "cylinder", "style": "filled", "fillcolor": "#FBE9C8",
              "color": "#B08529"},
    "constant": {"shape": "note", "style": "filled", "fillcolor": "#ECEFF1",
                 "color": "#90A4AE"},
    "output": {"shape": "ellipse", "style": "filled", "peripheries": "2",
               "fillcolor": "#D8EFD9", "color": "#4C8C50"},
    "buffer": {"shape": "ellipse", "style": "filled,dashed", "peripheries": "2",
               "fillcolor": "#FBE9C8", "color": "#B08529"},
}

_INSTALL_HINT = (
    "the Graphviz `dot` program is needed to render pictures; install it with "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install -c conda-forge graphviz`, then make sure `dot` is on your PATH. "
    "to_dot() still works without it: it builds the diagram whose `.source` is DOT text."
)


def _as_graph(obj: Any) -> Graph:
    """The Graph itself, or the `.graph` of a compiled or traced function."""
    if isinstance(obj, Graph):
        return obj
    inner = getattr(obj, "graph", None)
    if isinstance(inner, Graph):
        return inner
    raise TypeError(f"to_dot(): expected a Graph, an object with a .graph Graph, or a Tensor "
                    f"(its autograd graph), got {type(obj).__name__}")


# ------------------------------------------------------------------------------------ labels

def _shorten(text: str, limit: int = MAX_ATTR_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _format_number(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.4g}"  # float32 data reads 1e-05, not 9.99999747378752e-06
    if isinstance(x, list):
        return "[" + ", ".join(_format_number(e) for e in x) + "]"
    return repr(x)


def _format_value(v: Any) -> str:
    """An attribute value as the text IR prints it; floats to 4 digits, big arrays by shape."""
    if isinstance(v, np.ndarray):
        if v.size > MAX_INLINE_ELEMENTS:
            return f"array{list(v.shape)}"
        return _format_number(v.tolist())
    if isinstance(v, float):
        return _format_number(v)
    try:
        return format_attr(v)
    except TypeError:
        return repr(v)


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if type(value) is not type(default) or isinstance(value, np.ndarray):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def node_attrs(node: Node) -> list[str]:
    """`name=value` for every attribute that differs from the op's default, values shortened."""
    defaults = node.op.attrs
    shown = {k: v for k, v in node.attrs.items()
             if k not in defaults or not _is_default(v, defaults[k])}
    return [_shorten(f"{k}={_format_value(v)}") for k, v in shown.items()]


def _literal_inputs(node: Node) -> list[str]:
    """Python scalar operands (`mul(%x, 2.0)`), named after the op's input names."""
    names = node.op.inputs
    out = []
    for i, x in enumerate(node.inputs):
        if not isinstance(x, Value):
            name = names[i] if i < len(names) else f"arg{i}"
            out.append(_shorten(f"{name}={_format_value(x)}"))
    return out


def node_label(node: Node) -> str:
    """The lines of an op box: the op name, then literal operands and non-default attributes;
    a constant shows its value (or its shape, when large)."""
    if node.op.name == "constant":
        return "constant\n" + _shorten(_format_value(node.attrs.get("value")))
    lines = [node.op.name] + _literal_inputs(node) + node_attrs(node)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- graph

def _new_digraph(graph: Graph) -> Any:
    gv = _graphviz()
    dot = gv.Digraph(name=graph.name)
    dot.attr(rankdir="TB", nodesep="0.35", ranksep="0.45", bgcolor="white", pad="0.25",
             fontname=FONT, fontsize="13", fontcolor=INK)
    dot.attr("node", fontname=FONT, fontsize="12", fontcolor=INK, penwidth="1.2",
             margin="0.16,0.06", height="0.36")
    dot.attr("edge", fontname=MONO, fontsize="10", fontcolor=EDGE_INK, color=EDGE_INK,
             arrowsize="0.7", penwidth="1.0")
    if graph.name and graph.name != "graph":
        dot.attr(label=_label(graph.name), labelloc="t")
    return dot


def _buffer_outputs(graph: Graph) -> dict[int, str]:
    """Output index -> the input or buffer it writes back, from the trace's `meta['mutations']`
    (one [kind, index, how] per output after the user's outputs)."""
    first = graph.meta.get("n_user_outputs", len(graph.outputs))
    n_user = graph.meta.get("user_inputs", 0)
    out = {}
    for j, (kind, index, _) in enumerate(graph.meta.get("mutations") or ()):
        target = graph.inputs[index if kind == "input" else n_user + index]
        out[first + j] = target.name or ""
    return out


def _tooltip(node: Node, names: dict) -> Any:
    """The node's full text-IR line, shown on hover in SVG (attributes are not shortened)."""
    try:
        text = format_node(node, names)
    except (KeyError, TypeError):
        text = node.op.name
    if node.meta.get(MODULE):
        text += f"  (module {node.meta[MODULE]})"
    return _label(_shorten(text, MAX_TOOLTIP_CHARS))


def _print_names(graph: Graph) -> dict:
    """Value -> name as the text form prints it: inputs by name, node outputs numbered."""
    names = {v: v.name for v in graph.inputs}
    outputs = (v for node in graph.nodes for v in node.outputs)
    names.update((v, str(k)) for k, v in enumerate(outputs))
    return names


def _type_text(v: Value) -> str:
    try:
        return format_type(v.type)
    except TypeError:
        return str(v.type)


def _edge_label(v: Value, more: int = 0) -> Any:
    text = _type_text(v)
    if v.node is not None and len(v.node.outputs) > 1:
        text = f"#{v.index} {text}"
    if more:
        text += f" (+{more} more)"
    return _label(" " + text)  # a leading space keeps the text off the edge line


class _Picture:
    """One drawing of a graph: the digraph, where each value is drawn (`where`: Value -> DOT
    node id), the frames of open modules (`collapse="module"`) and the planned buffers
    (`memory=True`)."""

    def __init__(self, graph: Graph, layout: ModuleLayout | None, buffers: dict) -> None:
        self.graph, self.layout, self.buffers = graph, layout, buffers
        self.dot = _new_digraph(graph)
        self.where: dict = {}
        self.frames: dict = {}  # module path -> the cluster Digraph of its frame
        self.params = set(graph.meta.get("params") or ())
        self.box_ids = {box: f"box{k}" for k, box in enumerate(layout.members)} if layout else {}
        self.absorbed = self._absorbed_params()

    def draw(self) -> Any:
        self.inputs()
        self.nodes()
        self.attach_frames()  # before any edge names their nodes, so the nodes stay inside
        self.edges()
        self.outputs()
        return self.dot

    # -------------------------------------------------------------------------- places
    def container(self, path: str | None) -> Any:
        """The digraph to draw into for module frame `path` (the graph itself for None)."""
        if path is None:
            return self.dot
        frame = self.frames.get(path)
        if frame is None:
            frame = self.frames[path] = _graphviz().Digraph(name=f"cluster_module_{path}")
            frame.attr(label=_label(path), **FRAME_STYLE)
            self.container(parent(path))  # its enclosing frames exist too
        return frame

    def attach_frames(self) -> None:
        """Put each frame into its enclosing one, innermost first (a subgraph is copied)."""
        for path in sorted(self.frames, key=lambda p: -p.count(".")):
            self.container(parent(path)).subgraph(self.frames[path])

    def _absorbed_params(self) -> dict:
        """Parameter -> the box of a collapsed module that alone reads it (drawn inside it)."""
        if self.layout is None:
            return {}
        readers: dict = {}
        for node, box in zip(self.graph.nodes, self.layout.box):
            for x in node.input_values():
                readers.setdefault(x, set()).add(box)
        return {v: next(iter(readers[v])) for v in self.graph.inputs
                if v.name in self.params and len(readers.get(v, ())) == 1
                and next(iter(readers[v])) is not None}

    # ---------------------------------------------------------------------------- nodes
    def inputs(self) -> None:
        for i, v in enumerate(self.graph.inputs):
            if v in self.absorbed:
                self.where[v] = self.box_ids[self.absorbed[v]]
                continue
            kind = "param" if v.name in self.params else "input"
            hover = f"{'parameter' if kind == 'param' else 'input'} %{v.name}: {_type_text(v)}"
            target = self._param_frame(v) if kind == "param" else self.dot
            target.node(f"in{i}", _label(v.name or f"input {i}"), tooltip=_label(hover),
                        **STYLES[kind])
            self.where[v] = f"in{i}"

    def _param_frame(self, v: Value) -> Any:
        """Where a parameter not drawn inside a box goes: the frame of the innermost open
        module on its owner's path (`layers.0.attn.o.bias` in `layers.0`), else the top."""
        if self.layout is None:
            return self.dot
        owner = parent(v.name or "") or ""
        opened = [p for p in prefixes(owner) if p in self.layout.open]
        return self.container(opened[-1] if opened else None)

    def _op_node(self, target: Any, node_id: str, node: Node, value: Any, tooltip: Any) -> None:
        """One op box; with memory=True filled with the colour of `value`'s buffer."""
        kind = "constant" if node.op.name == "constant" else "op"
        style = dict(STYLES[kind])
        text = node_label(node)
        b = value_buffer(self.buffers, value)
        if b is not None:
            style["fillcolor"] = buffer_color(b)
            text += f"\n→ b{b}"
        target.node(node_id, _label(text), tooltip=tooltip, **style)

    def nodes(self) -> None:
        names = _print_names(self.graph)
        layout = self.layout
        for i, node in enumerate(self.graph.nodes):
            if layout is not None and layout.box[i] is not None:
                for v in node.outputs:
                    self.where[v] = self.box_ids[layout.box[i]]
                continue
            target = self.container(layout.frame[i] if layout is not None else None)
            if node.op.region:
                self._region(target, node, i)
                continue
            value = node.outputs[0] if len(node.outputs) == 1 else None
            self._op_node(target, f"n{i}", node, value, _tooltip(node, names))
            for v in node.outputs:
                self.where[v] = f"n{i}"
        for box, members in (layout.members.items() if layout is not None else ()):
            self._box(box, members)

    def _box(self, path: str, members: list) -> None:
        """A collapsed module: one box naming its path and the ops inside."""
        n_params = sum(1 for box in self.absorbed.values() if box == path)
        used = sorted({b for m in members for v in m.outputs
                       if (b := value_buffer(self.buffers, v)) is not None})
        text, tooltip = box_label(path, members, n_params, used)
        self.container(parent(path)).node(self.box_ids[path], _label(text),
                                          tooltip=_label(tooltip), **BOX_STYLE)

    def _region(self, target: Any, node: Node, i: int) -> None:
        """A fused node as a cluster named after its kernel, one box per op inside; its body's
        values are drawn where they are computed."""
        body = node.blocks[0]
        planned = {y: v for y, v in zip(body.outputs, node.outputs)}
        with target.subgraph(name=f"cluster_n{i}") as cluster:
            cluster.attr(label=f"fused[{node.attrs.get('kernel', '')}]", style="rounded,dashed",
                         color="#90A4AE", fontcolor=INK)
            for k, member in enumerate(body.nodes):
                value = planned.get(member.outputs[0]) if len(member.outputs) == 1 else None
                self._op_node(cluster, f"n{i}_{k}", member, value, _label(member.op.name))
                for v in member.outputs:
                    self.where[v] = f"n{i}_{k}"
        for y, v in zip(body.outputs, node.outputs):
            self.where[v] = self.where[y]

    # ---------------------------------------------------------------------------- edges
    def edges(self) -> None:
        """Edges along values; between two collapsed modules, or a module and an op, one edge
        per pair of ends (labelled with the first value's type and how many other values)."""
        merged: dict = {}  # (src, dst) -> the values it carries, for edges touching a box
        boxes = set(self.box_ids.values())
        for i, node in enumerate(self.graph.nodes):
            if node.op.region and self.where.get(node.outputs[0]) not in boxes:
                outer = dict(zip(node.blocks[0].inputs, node.inputs))
                for k, member in enumerate(node.blocks[0].nodes):
                    for x in member.input_values():
                        self._edge(outer.get(x, x), f"n{i}_{k}", "4", merged, boxes)
                continue
            dst = self.where.get(node.outputs[0]) if node.outputs else f"n{i}"
            for x in node.input_values():
                # data edges pull harder than parameter edges: the main path runs straight down
                weight = "1" if x.node is None and x.name in self.params else "4"
                self._edge(x, dst or f"n{i}", weight, merged, boxes)
        for (src, dst), values in merged.items():
            first = next(iter(values))
            self.dot.edge(src, dst, label=_edge_label(first, len(values) - 1), weight="4",
                          penwidth="1.4")

    def _edge(self, x: Value, dst: str, weight: str, merged: dict, boxes: set) -> None:
        src = self.where.get(x)
        if src is None or src == dst:
            return
        if src in boxes or dst in boxes:  # distinct values, however many ops read each
            merged.setdefault((src, dst), {})[x] = None
            return
        self.dot.edge(src, dst, label=_edge_label(x), weight=weight)

    def outputs(self) -> None:
        graph = self.graph
        buffers = _buffer_outputs(graph)
        many = len(graph.outputs) > 1
        with self.dot.subgraph(name="outputs") as sink:
            sink.attr(rank="sink")
            for j in range(len(graph.outputs)):
                if j in buffers:
                    name = buffers[j]
                    kind, text = "buffer", f"buffer update\n{name}" if name else "buffer update"
                else:
                    kind, text = "output", f"output {j}" if many else "output"
                sink.node(f"out{j}", _label(text), **STYLES[kind])
            for j in range(1, len(graph.outputs)):  # invisible links keep outputs in order
                sink.edge(f"out{j - 1}", f"out{j}", style="invis")
        for j, v in enumerate(graph.outputs):
            if isinstance(v, Value) and v in self.where:
                self.dot.edge(self.where[v], f"out{j}", label=_edge_label(v))


def to_dot(obj: Any, *, collapse: str | None = None, expand: Any = (), depth: int | None = None,
           memory: bool = False, params: Any = None, show_saved: bool = False,
           max_depth: int | None = None) -> Any:
    """A `graphviz.Digraph` of a Graph (or of `obj.graph`), or of a tensor's autograd graph.
    `collapse="module"` draws one box per submodule (`depth`: how many levels of module paths
    open, default 1; `expand`: paths to open as well); `memory=True` colours each value by its
    planned buffer (an optimized function). `params`, `show_saved` and `max_depth` are for
    tensors (`viz_autograd`)."""
    if isinstance(obj, Tensor) or (isinstance(obj, (tuple, list)) and
                                   any(isinstance(t, Tensor) for t in obj)):
        wrong = [name for name, value, default in (("collapse", collapse, None),
                                                   ("expand", expand, ()), ("depth", depth, None),
                                                   ("memory", memory, False))
                 if value is not default and value != default]
        if wrong:
            raise TypeError(f"to_dot(): {', '.join(wrong)} apply to a captured graph, not to a "
                            "tensor's autograd graph")
        return autograd_dot(obj, params=params, show_saved=show_saved, max_depth=max_depth)
    given = [name for name, value, default in (("params", params, None),
                                               ("show_saved", show_saved, False),
                                               ("max_depth", max_depth, None))
             if value is not default]
    if given:
        raise TypeError(f"to_dot(): {', '.join(given)} apply to a tensor's autograd graph, not "
                        f"to a {type(obj).__name__}")
    collapse, expand, depth = check_options(collapse, expand, depth)
    if not isinstance(memory, bool):
        raise TypeError(f"to_dot(): memory must be a bool, got {type(memory).__name__}")
    graph = _as_graph(obj)
    plan = memory_plan(obj, graph) if memory else None
    layout = ModuleLayout(graph, depth, expand) if collapse == "module" else None
    dot = _Picture(graph, layout, buffers_of(plan) if plan is not None else {}).draw()
    if plan is not None:
        add_legend(dot, plan, _label)
    return dot


# ------------------------------------------------------------------------------------ render

def _format_of(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    if ext not in FORMATS:
        shown = repr(path.suffix) if path.suffix else "no extension"
        raise ValueError(f"render(): cannot write {shown}; choose one of "
                         + ", ".join("." + f for f in FORMATS))
    return ext


def render(obj: Any, path: str | Path, *, collapse: str | None = None, expand: Any = (),
           depth: int | None = None, memory: bool = False, params: Any = None,
           show_saved: bool = False, max_depth: int | None = None) -> str:
    """Write the picture of `obj` (a graph, or a tensor's autograd graph: options as `to_dot`)
    to `path` as SVG, PNG or PDF (by the extension) with `dot`; returns the path written."""
    path = Path(path)
    fmt = _format_of(path)
    if shutil.which("dot") is None:
        raise RuntimeError(_INSTALL_HINT)
    dot = to_dot(obj, collapse=collapse, expand=expand, depth=depth, memory=memory,
                 params=params, show_saved=show_saved, max_depth=max_depth)
    if fmt == "png":
        dot.attr(dpi=PNG_DPI)
    try:
        data = dot.pipe(format=fmt)
    except _graphviz().ExecutableNotFound as e:
        raise RuntimeError(_INSTALL_HINT) from e
    path.write_bytes(data)
    return str(path)
