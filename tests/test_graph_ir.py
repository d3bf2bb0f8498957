"""The graph IR's text form and verifier, on graphs written by hand (Before/Expected style)."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.ir.errors import VerificationError
from dualgraph.ir.graph import Graph, Node
from dualgraph.ir.registry import get
from dualgraph.ir.text import ParseError, parse_graph, print_graph
from dualgraph.ir.types import TensorType
from dualgraph.ir.verify import verify

MLP = """graph(%x: f32[B, 784], %w: f32[784, 10], %b: f32[10]) {
  %0 = matmul(%x, %w) : f32[B, 10]
  %1 = add(%0, %b) {alpha=1} : f32[B, 10]
  %2 = relu(%1) : f32[B, 10]
  return (%2)
}"""


def test_text_round_trips_and_verifies():
    g = parse_graph(MLP)
    assert verify(g) is g
    assert print_graph(g) == MLP
    assert g.op_counts() == {"matmul": 1, "add": 1, "relu": 1}
    assert g.symbols() == ["B"]


def test_every_attribute_kind_round_trips():
    text = """graph(%x: f64[3, 4]@cuda:0) {
  %0 = getitem(%x) {index=(slice(1, None, None), ..., None, -1)} : f64[2, 1]@cuda:0
  %1 = sum(%0) {dim=(0, 1), keepdim=True, dtype=float32} : f32[1, 1]@cuda:0
  %2 = to_device(%1) {device=device('cpu')} : f32[1, 1]
  %3 = constant() {value=[[1.5, -2.0]]} : f32[1, 2]
  %4 = sub(2.5, %3) {alpha=1} : f32[1, 2]
  return (%2, %4)
}"""
    g = parse_graph(text)
    verify(g)
    assert print_graph(g) == text


def test_networkx_view():
    nxg = parse_graph(MLP).to_networkx()
    assert nxg.number_of_nodes() == 3 + 3 + 1
    ops = [d["op"] for _, d in nxg.nodes(data=True) if d["kind"] == "op"]
    assert ops == ["matmul", "add", "relu"]


@pytest.mark.parametrize("text,message", [
    ("""graph(%x: f32[3]) {
  %0 = relu(%1) : f32[3]
  return (%0)
}""", "%1 is not defined"),
    ("""graph(%x: f32[3]) {
  %0 = frobnicate(%x) : f32[3]
  return (%0)
}""", "unknown op 'frobnicate'"),
    ("graph(%x: f32[3]) {\n  %0 = relu(%x) : f32[3]\n", "missing closing"),
    ("graph(%x: f33[3]) {\n  return (%x)\n}", "expected a type"),
    ("graph(%x: f32[3]) {\n  %0 = relu(%x) {v=__import__('os')} : f32[3]\n  return (%0)\n}",
     "unsupported attribute expression"),
])
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(ParseError, match=message):
        parse_graph(text)


def _two_node_graph():
    g = Graph()
    x = g.add_input(TensorType(dg.float32, (3,)), "x")
    a = g.add_node(get("exp"), [x])
    b = g.add_node(get("neg"), [a.output])
    g.outputs = [b.output]
    return g


def test_verifier_rejects_use_before_definition():
    g = _two_node_graph()
    g.nodes.reverse()
    with pytest.raises(VerificationError, match=r"node `%0 = neg\(%1\) : f32\[3\]`: input 0 "
                                                r"\(%1\) is used before it is defined"):
        verify(g)


def test_verifier_rejects_wrong_output_types():
    g = _two_node_graph()
    g.nodes[1].outputs[0].type = TensorType(dg.float64, (3,))
    with pytest.raises(VerificationError, match="disagrees with the op's meta function"):
        verify(g)


def test_verifier_rejects_inputs_the_op_refuses():
    text = """graph(%x: f32[3], %y: f32[4]) {
  %0 = add(%x, %y) {alpha=1} : f32[4]
  return (%0)
}"""
    with pytest.raises(VerificationError, match=r"meta function rejects its inputs: add\(\): "
                                                "The size of tensor a"):
        verify(parse_graph(text))


def test_verifier_rejects_unknown_attributes_and_undefined_outputs():
    g = _two_node_graph()
    g.nodes[0].attrs["axis"] = 1
    with pytest.raises(VerificationError, match=r"attributes \['axis'\] are not attributes of exp"):
        verify(g)
    g = _two_node_graph()
    stray = Node(get("exp"), [g.inputs[0]], {}, [TensorType(dg.float32, (3,))])
    g.outputs = [stray.output]
    with pytest.raises(VerificationError, match="graph output 0: is not defined"):
        verify(g)


def test_large_constants_print_by_reference():
    traced = dg.jit.trace(lambda x: x + dg.tensor(np.arange(40.0, dtype=np.float32)), dg.ones(40))
    text = print_graph(traced.graph)
    assert "value='@c0'" in text
    again = parse_graph(text, traced.graph.tensors)
    assert print_graph(again) == text
    with pytest.raises(ParseError, match="constant @c0 has no data"):
        parse_graph(text)


def test_unnamed_large_constants_print_inline_and_odd_literals_round_trip():
    g = Graph()
    x = g.add_input(TensorType(dg.float32, (20,)), "x")
    c = g.add_node(get("constant"), [], {"value": np.arange(20, dtype=np.float32)})
    y = g.add_node(get("add"), [x, c.output])
    z = g.add_node(get("mul"), [y.output, float("inf")])
    g.outputs = [z.output]
    verify(g)
    text = print_graph(g)
    assert "mul(%1, inf)" in text
    assert print_graph(parse_graph(text)) == text


def test_parser_fills_default_attributes_and_graph_tensors():
    g = parse_graph("graph(%x: f32[2, 3]) {\n  %0 = sum(%x) {dim=1} : f32[2]\n  return (%0)\n}")
    assert g.nodes[0].attrs == {"dim": 1, "keepdim": False, "dtype": None}
    traced = dg.jit.trace(lambda x: x + dg.tensor(np.arange(40.0, dtype=np.float32)), dg.ones(40))
    again = parse_graph(print_graph(traced.graph), traced.graph.tensors)
    assert set(again.tensors) == {"c0"}


def test_verifier_reports_a_bad_cast_attribute():
    text = "graph(%x: f32[2]) {\n  %0 = to_dtype(%x) {dtype=None} : f32[2]\n  return (%0)\n}"
    with pytest.raises(VerificationError, match="attribute dtype must be a dtype"):
        verify(parse_graph(text))


def test_tuple_and_list_types_round_trip_in_text_and_json():
    from dualgraph.ir.types import ListType, TupleType
    from dualgraph.serialize import graph_from_json, graph_tensors, graph_to_json
    text = """graph(%xs: list[f32[3]], %pair: tuple[f32[B, 2], int], %n: int) {
  return (%xs, %pair, %n)
}"""
    g = verify(parse_graph(text))
    assert g.inputs[0].type == ListType(TensorType(dg.float32, (3,)))
    assert g.inputs[1].type == TupleType((TensorType(dg.float32, ("B", 2)), int))
    assert print_graph(g) == text
    again = graph_from_json(graph_to_json(g), graph_tensors(g))
    assert print_graph(again) == text
