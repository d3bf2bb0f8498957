"""Pictures of graphs (`dualgraph.viz`): the DOT source, rendering with the real `dot` program,
the refused formats and the message when `dot` is missing."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

graphviz = pytest.importorskip("graphviz")

from dualgraph.ir.graph import Graph, Node, Value  # noqa: E402
from dualgraph.ir.registry import get  # noqa: E402
from dualgraph.ir.text import parse_graph  # noqa: E402
from dualgraph.ir.types import TensorType, float32  # noqa: E402
from dualgraph.viz import node_label, render, to_dot  # noqa: E402

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")

MLP = """
graph(%x: f32[B, 784], %fc1.weight: f32[128, 784], %fc1.bias: f32[128], %fc2.weight: f32[64, 128],
      %fc2.bias: f32[64], %fc3.weight: f32[10, 64], %fc3.bias: f32[10]) {
  %0 = transpose(%fc1.weight) {dim0=0, dim1=1} : f32[784, 128]
  %1 = matmul(%x, %0) : f32[B, 128]
  %2 = add(%1, %fc1.bias) : f32[B, 128]
  %3 = relu(%2) : f32[B, 128]
  %4 = transpose(%fc2.weight) : f32[128, 64]
  %5 = matmul(%3, %4) : f32[B, 64]
  %6 = add(%5, %fc2.bias) : f32[B, 64]
  %7 = relu(%6) : f32[B, 64]
  %8 = transpose(%fc3.weight) : f32[64, 10]
  %9 = matmul(%7, %8) : f32[B, 10]
  %10 = add(%9, %fc3.bias) {alpha=1} : f32[B, 10]
  %11 = mul(%10, 0.5) : f32[B, 10]
  %12 = sum(%11) {dim=1, keepdim=False, dtype=None} : f32[B]
  return (%10, %12)
}
"""
PARAMS = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _mlp() -> Graph:
    # the parser takes the header on one line
    text = re.sub(r",\n\s+", ", ", MLP.strip())
    graph = parse_graph(text)
    graph.meta["params"] = list(PARAMS)
    return graph


def _node_attrs(source: str, node_id: str) -> dict:
    """The attributes of one node statement in DOT source, as {name: value}."""
    line = next(ln for ln in source.splitlines() if ln.strip().startswith(node_id + " ["))
    body = line[line.index("[") + 1:line.rindex("]")]
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]+)', body)
    return {k: v.strip('"') for k, v in pairs}


def _style(attrs: dict) -> tuple:
    return attrs.get("shape"), attrs.get("fillcolor"), attrs.get("color")


class _Compiled:
    """Stands for a compiled or traced function: it only carries `.graph`."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph


# ------------------------------------------------------------------------------------ source

def test_op_labels_show_name_and_non_default_attrs():
    source = to_dot(_mlp()).source
    labels = re.findall(r'\blabel=("(?:[^"\\]|\\.)*"|\S+)', source)
    labels = [lb.strip('"') for lb in labels]
    for op in ("transpose", "matmul", "add", "relu"):
        assert op in labels
    assert r"sum\ndim=1" in labels  # keepdim / dtype are the defaults: left out
    assert r"mul\nother=0.5" in labels  # a scalar operand, named after the op's input
    assert not any("alpha" in lb or "dim0" in lb for lb in labels)


def test_node_label_shortens_long_values():
    x = Value(TensorType(float32, (30,)), "x")
    node = Node(get("reshape"), [x], {"shape": tuple(range(100, 130))},
                [TensorType(float32, (30,))])
    label = node_label(node)
    assert label.startswith("reshape\nshape=(100, 101")
    assert label.endswith("…") and len(label.splitlines()[1]) <= 28


def test_edges_carry_value_types():
    source = to_dot(_mlp()).source
    for typ in ("f32[B, 784]", "f32[128, 784]", "f32[784, 128]", "f32[B, 10]", "f32[B]"):
        assert f'label=" {typ}"' in source


def test_inputs_params_outputs_and_constants_look_different():
    g = parse_graph("""graph(%x: f32[B, 4], %w: f32[4], %running: f32[4]) {
      %0 = mul(%x, %w) : f32[B, 4]
      %1 = constant() {value=[1.0, 2.0, 3.0, 4.0]} : f32[4]
      %2 = add(%0, %1) : f32[B, 4]
      %3 = mul(%running, 0.9) : f32[4]
      return (%2, %3)
    }""")
    g.meta["params"] = ["w", "running"]
    g.meta["n_user_outputs"] = 1
    g.meta["mutations"] = [["input", 0, "inplace"]]
    source = to_dot(g).source
    styles = {
        "input": _style(_node_attrs(source, "in0")),
        "param": _style(_node_attrs(source, "in1")),
        "op": _style(_node_attrs(source, "n0")),
        "constant": _style(_node_attrs(source, "n1")),
        "output": _style(_node_attrs(source, "out0")),
        "buffer": _style(_node_attrs(source, "out1")),
    }
    assert len(set(styles.values())) == len(styles), styles
    assert _node_attrs(source, "in2")["shape"] == styles["param"][0]
    assert _node_attrs(source, "n1")["label"] == r"constant\n[1, 2, 3, 4]"
    assert "buffer update" in _node_attrs(source, "out1")["label"]


def test_many_outputs_are_numbered_and_one_output_is_not():
    source = to_dot(_mlp()).source
    assert [_node_attrs(source, f"out{j}")["label"] for j in (0, 1)] == ["output 0", "output 1"]
    assert "out0 -> out1" in source  # an invisible link keeps them in order
    single = parse_graph("graph(%x: f32[3]) {\n %0 = relu(%x) : f32[3]\n return (%0)\n}")
    assert _node_attrs(to_dot(single).source, "out0")["label"] == "output"


def test_compiled_objects_and_bad_arguments():
    graph = _mlp()
    assert to_dot(_Compiled(graph)).source == to_dot(graph).source
    with pytest.raises(TypeError, match="Graph"):
        to_dot(object())


def test_node_ids_are_safe_whatever_the_names():
    g = Graph(name='odd "name"')
    x = g.add_input(TensorType(float32, (3,)), 'a"b <c> \\n{d}')
    g.outputs = [g.add_node(get("relu"), [x]).output]
    source = to_dot(g).source
    assert re.search(r"^\s*in0 \[", source, re.M) and re.search(r"^\s*n0 \[", source, re.M)
    assert "in0 -> n0" in source and "n0 -> out0" in source


def test_big_constants_show_their_shape_not_their_data():
    g = Graph()
    x = g.add_input(TensorType(float32, (1000,)), "x")
    c = g.add_node(get("constant"), [], {"value": np.arange(1000, dtype=np.float32)})
    g.outputs = [g.add_node(get("add"), [x, c.output]).output]
    assert node_label(c) == "constant\narray[1000]"
    assert len(to_dot(g).source) < 3000


# ------------------------------------------------------------------------------------ render

@needs_dot
def test_render_svg_contains_the_labels(tmp_path):
    path = tmp_path / "mlp.svg"
    assert render(_mlp(), path) == str(path)
    svg = path.read_text()
    assert "<svg" in svg
    for text in ("matmul", "relu", "fc1.weight", "f32[B, 784]", "dim=1", "output 1"):
        assert text in svg


@needs_dot
def test_render_png_and_pdf(tmp_path):
    png = render(_mlp(), str(tmp_path / "mlp.PNG"))
    with open(png, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    pdf = render(_mlp(), tmp_path / "mlp.pdf")
    with open(pdf, "rb") as f:
        assert f.read(5) == b"%PDF-"


@needs_dot
def test_render_odd_names(tmp_path):
    g = Graph()
    x = g.add_input(TensorType(float32, (3,)), 'a"b <c> \\n{d}')
    g.outputs = [g.add_node(get("relu"), [x]).output]
    svg = (tmp_path / "odd.svg")
    render(g, svg)
    assert "a&quot;b &lt;c&gt; \\n{d}" in svg.read_text()  # shown literally, not as markup


@pytest.mark.parametrize("name", ["mlp.jpg", "mlp", "mlp.dot"])
def test_render_refuses_other_formats(tmp_path, name):
    with pytest.raises(ValueError) as info:
        render(_mlp(), tmp_path / name)
    message = str(info.value)
    assert ".svg" in message and ".png" in message and ".pdf" in message
    if name == "mlp.jpg":
        assert "'.jpg'" in message
    assert not (tmp_path / name).exists()


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(RuntimeError) as info:
        render(_mlp(), tmp_path / "mlp.svg")
    message = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda", "to_dot"):
        assert hint in message
    assert not (tmp_path / "mlp.svg").exists()
    assert "matmul" in to_dot(_mlp()).source  # the source still builds


def test_dot_vanishing_after_the_check_gives_the_same_message(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: "/usr/bin/dot")
    monkeypatch.setenv("PATH", str(tmp_path))  # graphviz's own lookup finds nothing
    with pytest.raises(RuntimeError, match="apt-get install graphviz") as info:
        render(_mlp(), tmp_path / "mlp.png")
    assert isinstance(info.value.__cause__, graphviz.ExecutableNotFound)


@needs_dot
def test_graph_repr_svg():
    svg = _mlp()._repr_svg_()
    assert isinstance(svg, str)
    assert "<svg" in svg and "matmul" in svg
