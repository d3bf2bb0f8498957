"""Pictures of eager autograd graphs (`dg.viz.to_dot(tensor)` / `render`): the DOT of the
tutorials' Net against the graph PyTorch builds for it, saved tensors, the depth limit, SVG
from the real `dot` program (node counts and labels), and the refusals.

PyTorch's graph of seed 004's Net output, captured from torch 2.13 (walking grad_fn):
AddmmBackward0 <- AccumulateGrad (fc2.bias), ReluBackward0, TBackward0 <- AccumulateGrad
(fc2.weight); ReluBackward0 <- AddmmBackward0 <- AccumulateGrad (fc1.bias), TBackward0 <-
AccumulateGrad (fc1.weight). AddmmBackward0 saves mat1 and mat2, ReluBackward0 its result."""

from __future__ import annotations

import re
import shutil
from collections import Counter

import pytest

graphviz = pytest.importorskip("graphviz")

import dualgraph as torch  # noqa: E402
import dualgraph.nn as nn  # noqa: E402
from dualgraph.ir.text import parse_graph  # noqa: E402
from dualgraph.viz import render, to_dot  # noqa: E402

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")

T = "TBackward0"  # the node of weight.t(), PyTorch's name
NET_EDGES = Counter([
    ("AccumulateGrad", "AddmmBackward0"), ("ReluBackward0", "AddmmBackward0"),
    (T, "AddmmBackward0"), ("AccumulateGrad", T),
    ("AddmmBackward0", "ReluBackward0"),
    ("AccumulateGrad", "AddmmBackward0"), (T, "AddmmBackward0"), ("AccumulateGrad", T),
    ("fc2.bias\n(10,) float32", "AccumulateGrad"),
    ("fc2.weight\n(10, 128) float32", "AccumulateGrad"),
    ("fc1.bias\n(128,) float32", "AccumulateGrad"),
    ("fc1.weight\n(128, 784) float32", "AccumulateGrad"),
    ("AddmmBackward0", "(4, 10) float32"),
])


class Net(nn.Module):  # seed 004, as written
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = torch.relu(x)
        x = self.fc2(x)
        output = x
        return output


def _net_output():
    torch.manual_seed(0)
    net = Net()
    return net, net(torch.randn(4, 1, 28, 28))


def _parse(source):
    """{id: (label, attributes)} and [(from, to, attributes)] of a DOT text."""
    nodes, edges = {}, []
    for line in source.splitlines():
        line = line.strip()
        m = re.fullmatch(r"(n\d+) -> (n\d+)(?: \[(.*)\])?", line)
        if m:
            edges.append((m[1], m[2], m[3] or ""))
            continue
        m = re.fullmatch(r"(n\d+) \[label=(\"(?:[^\"\\]|\\.)*\"|\S+) (.*)\]", line)
        if m:
            nodes[m[1]] = (m[2].strip('"').replace("\\n", "\n"), m[3])
    return nodes, edges


def _labelled_edges(source, dashed=None):
    """(from label, to label) of each edge: all, only the dashed ones, or only the solid."""
    nodes, edges = _parse(source)
    return Counter((nodes[a][0], nodes[b][0]) for a, b, attrs in edges
                   if dashed is None or ("dashed" in attrs) == dashed)


def test_dot_of_the_tutorial_net_is_pytorchs_graph():
    net, out = _net_output()
    source = to_dot(out, params=dict(net.named_parameters())).source
    assert _labelled_edges(source) == NET_EDGES
    nodes, _ = _parse(source)
    assert Counter(label for label, _ in nodes.values())["AccumulateGrad"] == 4
    assert len(nodes) == 14  # 8 backward nodes, 4 leaves, the output
    leaf_styles = {attrs for label, attrs in nodes.values() if label.startswith("fc")}
    assert len(leaf_styles) == 1 and "#D6E9F8" in leaf_styles.pop()
    assert to_dot(out, params=dict(net.named_parameters())).source == source  # deterministic


def test_leaves_without_names_show_shape_and_dtype():
    w = torch.ones(2, 3, dtype=torch.float64, requires_grad=True)
    source = to_dot((w * 2).sum()).source
    labels = {label for label, _ in _parse(source)[0].values()}
    assert labels == {"SumBackward0", "MulBackward0", "AccumulateGrad", "(2, 3) float64",
                      "() float64"}


def test_show_saved_draws_the_tensors_each_node_saved():
    net, out = _net_output()
    source = to_dot(out, params=dict(net.named_parameters()), show_saved=True).source
    saved = _labelled_edges(source, dashed=True)
    assert saved == Counter({("AddmmBackward0", "mat1\n(4, 784) float32"): 1,
                             ("AddmmBackward0", "mat2\n(784, 128) float32"): 1,
                             ("AddmmBackward0", "mat1, result\n(4, 128) float32"): 1,
                             ("AddmmBackward0", "mat2\n(128, 10) float32"): 1,
                             ("ReluBackward0", "mat1, result\n(4, 128) float32"): 1})
    # the saved activation of relu is the matrix the second addmm saved: one box, two lines
    nodes, edges = _parse(source)
    relu_out = [n for n, (label, _) in nodes.items() if label.endswith("(4, 128) float32")]
    assert len(relu_out) == 1
    assert _labelled_edges(source, dashed=False) == NET_EDGES  # data edges unchanged


def test_saved_tensors_are_freed_by_backward_and_then_not_drawn():
    w = torch.ones(3, requires_grad=True)
    y = (w * w).sum()
    # mul saved its two inputs, both w: dashed lines to w's own (leaf) box
    assert _labelled_edges(to_dot(y, show_saved=True).source, dashed=True) == \
        Counter({("MulBackward0", "(3,) float32"): 2})
    y.backward()
    assert _labelled_edges(to_dot(y, show_saved=True).source, dashed=True) == Counter()


def test_max_depth_cuts_the_walk_and_says_how_much_is_hidden():
    net, out = _net_output()
    source = to_dot(out, params=dict(net.named_parameters()), max_depth=2).source
    nodes, _ = _parse(source)
    labels = Counter(label for label, _ in nodes.values())
    assert labels == Counter({"AddmmBackward0": 1, "AccumulateGrad": 1, "ReluBackward0": 1,
                              T: 1, "fc2.bias\n(10,) float32": 1, "... 4 more nodes": 1,
                              "... 1 more node": 1, "(4, 10) float32": 1})
    cut = _labelled_edges(source, dashed=True)
    assert cut == Counter({("... 4 more nodes", "ReluBackward0"): 1, ("... 1 more node", T): 1})
    assert to_dot(out, max_depth=100).source == to_dot(out).source
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_depth must be a positive int"):
            to_dot(out, max_depth=bad)


def test_several_outputs_and_a_tensor_without_history():
    a = torch.ones(2, requires_grad=True)
    b = a * 3
    labels = Counter(label for label, _ in _parse(to_dot((b, b.sum())).source)[0].values())
    assert labels["output 0\n(2,) float32"] == 1 and labels["output 1\n() float32"] == 1
    assert labels["MulBackward0"] == 1  # shared by both outputs, drawn once
    alone = _parse(to_dot(torch.zeros(3)).source)[0]
    assert [label for label, _ in alone.values()] == ["(3,) float32"]


def test_a_compiled_functions_output_shows_its_backward_node_and_residuals():
    net, _ = _net_output()
    x = torch.randn(4, 1, 28, 28)
    traced = torch.jit.trace(net, x)
    out = traced(x)
    source = to_dot(out, show_saved=True).source
    labels = [label for label, _ in _parse(source)[0].values()]
    assert "DifferentiableGraphBackward" in labels and labels.count("AccumulateGrad") == 4
    assert any(label.startswith("residual") for label in labels)


def test_refusals():
    net, out = _net_output()
    with pytest.raises(TypeError, match="params must map names to tensors"):
        to_dot(out, params=list(net.parameters()))
    g = parse_graph("graph(%x: f32[2]) {\n  %0 = relu(%x) : f32[2]\n  return (%0)\n}")
    with pytest.raises(TypeError, match="show_saved apply to a tensor's autograd graph"):
        to_dot(g, show_saved=True)
    with pytest.raises(TypeError, match="expected a Tensor"):
        to_dot([out, 3])


@needs_dot
def test_svg_of_the_net_with_saved_tensors(tmp_path):
    net, out = _net_output()
    loss = nn.CrossEntropyLoss()(out, torch.tensor([1, 2, 3, 4]))
    path = render(loss, tmp_path / "net.svg", params=dict(net.named_parameters()),
                  show_saved=True)
    svg = open(path).read()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    expected = _parse(to_dot(loss, params=dict(net.named_parameters()),
                             show_saved=True).source)
    assert svg.count('class="node"') == len(expected[0])
    assert svg.count('class="edge"') == len(expected[1])
    # log_softmax's output is what NllLossBackward0 saves as `self` and LogSoftmaxBackward0 as
    # `result`: one tensor, one box with both names
    for text in ("fc1.weight", "(128, 784) float32", "AccumulateGrad", "NllLossBackward0",
                 "LogSoftmaxBackward0", "mat1", "target", "self, result"):
        assert f">{text}</text>" in svg


@needs_dot
def test_svg_of_a_twelve_layer_mlp_and_its_depth_limited_view(tmp_path):
    layers = []
    for _ in range(12):
        layers += [nn.Linear(8, 8), nn.ReLU()]
    mlp = nn.Sequential(*layers)
    y = mlp(torch.randn(2, 8)).sum()
    svg = open(render(y, tmp_path / "mlp.svg", params=dict(mlp.named_parameters()))).read()
    # per layer: Addmm, Relu, Transpose, 2 AccumulateGrad, 2 leaves; then Sum and the output
    assert svg.count('class="node"') == 12 * 7 + 2
    assert svg.count(">AddmmBackward0</text>") == 12 and ">22.weight</text>" in svg
    short = open(render(y, tmp_path / "mlp3.svg", max_depth=3)).read()
    assert short.count('class="node"') == 3 + 1 + 1  # Sum, Relu, Addmm, the cut, the output
    assert short.count(f">... {12 * 5 - 2} more nodes</text>") == 1
