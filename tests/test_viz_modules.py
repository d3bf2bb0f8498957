"""Module paths recorded by capture (`node.meta["module"]`), kept through the text IR, .dgm files,
passes and autodiff; pictures by module (`collapse="module"`, `depth`, `expand`) and by planned
buffer (`memory=True`), rendered with the real `dot` and read back from the SVG; the CLI flags;
notebook forms (`_repr_html_`, `_repr_svg_`)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest

import dualgraph as dg
from dualgraph import nn
from dualgraph.cli import main
from dualgraph.ir.graph import module_of
from dualgraph.ir.text import _names, parse_graph, print_graph
from dualgraph.passes.autodiff import differentiate

graphviz = pytest.importorskip("graphviz")
from dualgraph.viz import render, to_dot  # noqa: E402

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
SVG = "{http://www.w3.org/2000/svg}"


class Attn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(8, 8)
        self.o = nn.Linear(8, 8)

    def forward(self, x):
        return self.o(self.q(x).softmax(-1))


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.attn = Attn()
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8))

    def forward(self, x):
        x = x + self.attn(self.norm(x))
        return x + self.mlp(x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([Block(), Block()])
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.head(x).relu()


# What each layer's forward emits, by the layers' definitions: Linear is t + addmm,
# LayerNorm is layer_norm then its affine mul and add, GELU one gelu; Attn's softmax, Block's two
# residual adds and Net's relu belong to the forward that calls them.
LAYER0 = [("layer_norm", "layers.0.norm"), ("mul", "layers.0.norm"), ("add", "layers.0.norm"),
          ("t", "layers.0.attn.q"), ("addmm", "layers.0.attn.q"),
          ("softmax", "layers.0.attn"),
          ("t", "layers.0.attn.o"), ("addmm", "layers.0.attn.o"), ("add", "layers.0"),
          ("t", "layers.0.mlp.0"), ("addmm", "layers.0.mlp.0"),
          ("gelu", "layers.0.mlp.1"),
          ("t", "layers.0.mlp.2"), ("addmm", "layers.0.mlp.2"), ("add", "layers.0")]
EXPECTED = (LAYER0 + [(op, path.replace("layers.0", "layers.1")) for op, path in LAYER0]
            + [("t", "head"), ("addmm", "head"), ("relu", None)])


def _net() -> Net:
    dg.manual_seed(0)
    return Net()


def _paths(graph) -> list:
    return [(n.op.name, n.meta.get("module")) for n in graph.nodes]


def _svg(path) -> dict:
    """The SVG's node texts by DOT id, cluster labels by cluster name, node fills by DOT id."""
    root = ET.parse(path).getroot()
    nodes, clusters, fills = {}, {}, {}
    for g in root.iter(SVG + "g"):
        title = g.find(SVG + "title")
        texts = [t.text or "" for t in g.iter(SVG + "text")]
        if g.get("class") == "node":
            nodes[title.text] = texts
            shapes = [e for e in g.iter() if e.tag in (SVG + "path", SVG + "polygon",
                                                         SVG + "ellipse") and e.get("fill")]
            fills[title.text] = shapes[0].get("fill").upper() if shapes else None
        elif g.get("class") == "cluster":
            clusters[title.text] = texts
    return {"nodes": nodes, "clusters": clusters, "fills": fills}


def _boxes(svg: dict) -> dict:
    """Collapsed module boxes: their first label line (the path) -> all label lines."""
    return {texts[0]: texts for name, texts in svg["nodes"].items() if name.startswith("box")}


def _ops_in(graph, prefix: str) -> int:
    """How many ops the graph holds under a module path (a fused node: its members)."""
    total = 0
    for node in graph.nodes:
        path = module_of(node)
        if path == prefix or path.startswith(prefix + "."):
            total += len(node.blocks[0].nodes) if node.op.region else 1
    return total


# ------------------------------------------------------------------------------- capture

def test_trace_records_the_innermost_submodule_of_each_node():
    traced = dg.jit.trace(_net(), dg.randn(2, 8), opt_level=0)
    assert _paths(traced.graph) == EXPECTED
    assert "module" not in traced.graph.nodes[-1].meta  # Net's own relu: the top level


def test_script_records_the_same_paths_as_trace():
    net = _net()
    scripted = dg.jit.script(net)
    x = dg.randn(2, 8)
    scripted(x)
    assert _paths(scripted.compiled.graph_before_passes) == EXPECTED
    traced = dg.jit.trace(net, x, opt_level=0)
    assert print_graph(scripted.compiled.graph_before_passes) == print_graph(traced.graph)


def test_a_plain_function_without_modules_records_no_module():
    traced = dg.jit.trace(lambda x: (x * 2).relu(), dg.randn(3), opt_level=0)
    assert all("module" not in n.meta for n in traced.graph.nodes)


def _prefixed(prefix: str) -> list:
    """EXPECTED seen from a function that calls the model by the name `prefix`: every path
    starts with it, as the parameters' names do, and the model's own ops are under it."""
    return [(op, f"{prefix}.{path}" if path else prefix) for op, path in EXPECTED]


def test_a_plain_function_calling_a_model_records_paths_under_the_models_name():
    model, x = _net(), dg.randn(2, 8)

    def predict(x):
        return model(x) * 2

    traced = dg.jit.trace(predict, x, opt_level=0)
    assert _paths(traced.graph) == _prefixed("model") + [("mul", None)]
    assert [v.name for v in traced.graph.inputs[1:3]] == ["model.layers.0.norm.weight",
                                                         "model.layers.0.norm.bias"]


def test_script_of_a_plain_function_records_the_same_paths():
    model = _net()

    def predict(x):
        return model(x) * 2

    scripted = dg.jit.script(predict)
    scripted(dg.randn(2, 8))
    paths = [p for p in _paths(scripted.compiled.graph_before_passes) if p[0] != "constant"]
    assert paths == _prefixed("model") + [("mul", None)]


NET_GLOBAL = Net()  # a model a function reaches through its module's globals


def _global_predict(x):
    return NET_GLOBAL(x)


def test_a_model_reached_through_globals_is_named_by_its_global():
    traced = dg.jit.trace(_global_predict, dg.randn(2, 8), opt_level=0)
    assert _paths(traced.graph) == _prefixed("NET_GLOBAL")


def test_a_traced_training_step_records_the_forward_ops_module_paths():
    model = _net()
    opt = dg.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    traced = dg.jit.trace(step, dg.randn(2, 8), opt_level=0)
    paths = _paths(traced.graph)
    assert paths[:len(EXPECTED)] == _prefixed("model")
    # backward ops take their forward op's module; the optimizer's update belongs to none
    assert {m for _, m in paths} == {m for _, m in _prefixed("model")} | {None}
    assert [m for op, m in paths if op == "gelu_backward"] == ["model.layers.1.mlp.1",
                                                               "model.layers.0.mlp.1"]
    assert paths[-1][1] is None


def test_module_paths_survive_the_text_ir():
    graph = dg.jit.trace(_net(), dg.randn(2, 8)).graph  # O3: fused nodes, blocks
    text = print_graph(graph)
    assert "addmm(%layers.0.attn.q.bias" in text and "# module: layers.0.attn.q" in text
    again = parse_graph(text, graph.tensors)
    assert print_graph(again) == text

    def walk(nodes):
        for n in nodes:
            yield n.op.name, n.meta.get("module")
            for b in n.blocks:
                yield from walk(b.nodes)
    assert list(walk(again.nodes)) == list(walk(graph.nodes))


def test_parse_reads_a_module_comment_and_only_at_the_line_end():
    g = parse_graph("""graph(%x: f32[3]) {
  %0 = relu(%x) : f32[3]  # module: enc.layers.0
  %1 = mul(%0, 2.0) : f32[3]
  return (%1)
}""")
    assert [n.meta.get("module") for n in g.nodes] == ["enc.layers.0", None]


def test_module_paths_survive_save_and_load(tmp_path):
    traced = dg.jit.trace(_net(), dg.randn(2, 8), dynamic_dims={0: "B"})
    traced.save(tmp_path / "net.dgm")
    loaded = dg.jit.load(tmp_path / "net.dgm", opt_level=0)
    assert _paths(loaded.graph) == EXPECTED


def test_fusion_keeps_the_path_the_members_share():
    graph = dg.jit.trace(_net(), dg.randn(2, 8)).graph
    fused = {n.attrs["kernel"] + "@" + str(n.meta.get("module")) for n in graph.nodes
             if n.op.name == "fused"}
    # bias add of mlp.0 + gelu of mlp.1 share layers.0.mlp; the attention's bias add and the
    # residual add share layers.0; head's bias add + Net's relu share nothing (top level)
    assert {"add, gelu@layers.0.mlp", "add, add@layers.0", "add, relu@None"} <= fused
    # an addmm whose bias add fuses with its reader is split: the matmul keeps the Linear's
    # path (attn.q's addmm feeds softmax, which does not fuse, so it stays whole)
    matmuls = [n.meta.get("module") for n in graph.nodes if n.op.name == "matmul"]
    assert matmuls == [f"layers.{i}.{m}" for i in (0, 1) for m in ("attn.o", "mlp.0", "mlp.2")] \
        + ["head"]
    assert [n.meta.get("module") for n in graph.nodes if n.op.name == "addmm"] == [
        "layers.0.attn.q", "layers.1.attn.q"]


def test_backward_nodes_take_their_forward_nodes_module():
    graph = dg.jit.trace(_net(), dg.randn(2, 8), opt_level=0).graph
    grad = differentiate(graph, [True] * len(graph.inputs))
    forward = {p for _, p in EXPECTED if p}
    backward = [n.meta.get("module") for n in grad.backward.nodes]
    assert {p for p in backward if p} <= forward
    assert {"layers.0.norm", "layers.1.attn.q", "layers.0.mlp.1", "head"} <= set(backward)


# ------------------------------------------------------------------------------ pictures

@needs_dot
def test_collapse_depth_1_draws_one_box_per_top_level_module(tmp_path):
    traced = dg.jit.trace(_net(), dg.randn(2, 8), dynamic_dims={0: "B"})
    svg = _svg(render(traced, tmp_path / "net.svg", collapse="module"))
    boxes = _boxes(svg)
    assert set(boxes) == {"layers", "head"}
    n = _ops_in(traced.graph, "layers")
    assert f"{n} ops, 20 params" == boxes["layers"][1]  # 2 x (norm 2 + q 2 + o 2 + mlp 4)
    assert not [c for c in svg["clusters"] if c.startswith("cluster_module")]
    # the top-level fused add + relu still draws as a cluster with its two ops
    fused = [c for c, texts in svg["clusters"].items() if texts == ["fused[add, relu]"]]
    assert len(fused) == 1
    assert sum(1 for t in svg["nodes"].values() if t in (["add"], ["relu"])) == 2
    assert "layers.0.norm.weight" not in str(svg["nodes"])  # drawn inside its box


@needs_dot
def test_collapse_depth_2_opens_layers_into_one_box_per_block(tmp_path):
    traced = dg.jit.trace(_net(), dg.randn(2, 8), dynamic_dims={0: "B"})
    svg = _svg(render(traced, tmp_path / "net.svg", collapse="module", depth=2))
    boxes = _boxes(svg)
    assert set(boxes) == {"layers.0", "layers.1"}
    assert svg["clusters"]["cluster_module_layers"] == ["layers"]
    # head has no submodule: opened, it shows its own ops in its frame
    assert svg["clusters"]["cluster_module_head"] == ["head"]
    source = to_dot(traced, collapse="module", depth=2).source
    head = source[source.index("subgraph cluster_module_head {"):]
    head = head[:head.index("\n\t}")]
    assert "label=t " in head and "label=matmul" in head
    assert boxes["layers.0"][1] == f"{_ops_in(traced.graph, 'layers.0')} ops, 10 params"


@needs_dot
def test_expand_opens_the_chosen_module_only(tmp_path):
    traced = dg.jit.trace(_net(), dg.randn(2, 8), dynamic_dims={0: "B"})
    svg = _svg(render(traced, tmp_path / "net.svg", collapse="module", expand=("layers.0",)))
    assert set(_boxes(svg)) == {"layers.0.norm", "layers.0.attn", "layers.0.mlp", "layers.1",
                                "head"}
    module_frames = {c for c in svg["clusters"] if c.startswith("cluster_module")}
    assert module_frames == {"cluster_module_layers", "cluster_module_layers.0"}
    fused = [texts for texts in svg["clusters"].values() if texts == ["fused[add, add]"]]
    assert len(fused) == 2  # layers.0's two residual groups, drawn op by op


def test_collapse_options_are_checked():
    traced = dg.jit.trace(_net(), dg.randn(2, 8))
    with pytest.raises(ValueError, match="collapse must be None or one of 'module'"):
        to_dot(traced, collapse="modules")
    with pytest.raises(ValueError, match="expand names 'layers.7'.*layers.0.attn"):
        to_dot(traced, collapse="module", expand="layers.7")
    with pytest.raises(ValueError, match="depth must be >= 1, got 0"):
        to_dot(traced, collapse="module", depth=0)
    with pytest.raises(ValueError, match="depth applies only with collapse='module'"):
        to_dot(traced, depth=2)
    with pytest.raises(TypeError, match="collapse apply to a captured graph"):
        to_dot(dg.ones(2, requires_grad=True) * 2, collapse="module")


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(32, 64), nn.Linear(64, 64), nn.Linear(64, 16)

    def forward(self, x):
        h = self.fc1(x).relu()
        return self.fc3((self.fc2(h) * self.fc2(h.tanh())).softmax(-1)).log_softmax(-1)


@needs_dot
def test_memory_colours_values_by_their_planned_buffer(tmp_path):
    dg.manual_seed(0)
    traced = dg.jit.trace(Mlp(), dg.randn(8, 32), dynamic_dims={0: "B"})
    plan = traced.memory_plan(B=8)
    shared = plan.shared()
    assert any(len(vs) > 1 for vs in shared.values()) and len(shared) >= 2
    svg = _svg(render(traced, tmp_path / "mem.svg", memory=True))
    names = _names(traced.graph)
    node_of = {names[v]: f"n{i}" for i, n in enumerate(traced.graph.nodes) for v in n.outputs}
    colour = {b: {svg["fills"][node_of[v]] for v in vs} for b, vs in shared.items()}
    assert all(len(c) == 1 for c in colour.values())  # one colour per buffer
    assert len({next(iter(c)) for c in colour.values()}) == len(shared)  # buffers differ
    for b, vs in shared.items():
        for v in vs:
            assert svg["nodes"][node_of[v]][-1] == f"→ b{b}"
    legend = {k: t for k, t in svg["nodes"].items() if k.startswith("legend_b")}
    assert len(legend) == len(shared)
    assert legend["legend_b0"][1] == ", ".join("%" + v for v in shared[0])
    assert svg["fills"]["in0"] == "#D6E9F8"  # the input keeps its neutral colour
    planned = {f for b in colour.values() for f in b}
    assert svg["fills"]["out0"] not in planned


def test_memory_needs_an_optimized_function():
    traced = dg.jit.trace(Mlp(), dg.randn(8, 32), opt_level=1)
    with pytest.raises(ValueError, match="no memory plan .*opt_level=1.*opt_level 3"):
        to_dot(traced, memory=True)


@needs_dot
def test_memory_and_collapse_together_name_the_buffers_a_box_uses(tmp_path):
    dg.manual_seed(0)
    traced = dg.jit.trace(Mlp(), dg.randn(8, 32), dynamic_dims={0: "B"})
    boxes = _boxes(_svg(render(traced, tmp_path / "m.svg", collapse="module", memory=True)))
    assert boxes["fc1"][-1] == "buffers b0"


# ----------------------------------------------------------------------------------- CLI

@needs_dot
def test_cli_viz_flags(tmp_path, capsys):
    traced = dg.jit.trace(_net(), dg.randn(2, 8), dynamic_dims={0: "B"})
    path = str(tmp_path / "net.dgm")
    traced.save(path)
    out = tmp_path / "plain.svg"
    assert main(["viz", path, "-o", str(out)]) == 0
    plain = _svg(out)
    assert not any(t == ["fused[add, relu]"] for t in plain["clusters"].values())  # as saved
    assert main(["viz", path, "-o", str(out), "--optimized"]) == 0
    assert any(t == ["fused[add, relu]"] for t in _svg(out)["clusters"].values())
    assert main(["viz", path, "-o", str(out), "--collapse", "module", "--depth", "2"]) == 0
    assert set(_boxes(_svg(out))) == {"layers.0", "layers.1"}
    assert main(["viz", path, "-o", str(out), "--collapse", "module", "--expand", "layers.1"]) == 0
    assert set(_boxes(_svg(out))) == {"layers.0", "layers.1.norm", "layers.1.attn",
                                      "layers.1.mlp", "head"}
    assert main(["viz", path, "-o", str(out), "--memory"]) == 0
    assert any(k.startswith("legend_b") for k in _svg(out)["nodes"])
    capsys.readouterr()
    assert main(["viz", path, "-o", str(out), "--depth", "2"]) == 1
    assert "depth applies only with collapse='module'" in capsys.readouterr().err


# ------------------------------------------------------------------------------ notebook

def test_memory_plan_and_profiler_tables_have_html_forms():
    dg.manual_seed(0)
    traced = dg.jit.trace(Mlp(), dg.randn(8, 32), dynamic_dims={0: "B"})
    plan = traced.memory_plan(B=8)
    html = plan._repr_html_()
    assert html.count("<tr>") == len(plan.rows) + 1 and "<th>buffer</th>" in html
    assert "peak 6144 bytes" in html or f"peak {plan.peak_bytes} bytes" in html
    with dg.profiler.profile() as prof:
        traced(dg.randn(4, 32))
        dg.randn(3, 3).relu()
    table = prof.key_averages()
    html = table._repr_html_()
    assert "<th>Self CPU %</th>" in html and "<th># of Calls</th>" in html
    assert html.count("<tr>") == len(table) + 1


@needs_dot
def test_scripted_functions_show_as_svg():
    scripted = dg.jit.script(_net())
    scripted(dg.randn(2, 8))
    svg = scripted._repr_svg_()
    assert "<svg" in svg and "layer_norm" in svg


def test_a_file_whose_module_path_is_not_a_string_is_refused():
    from dualgraph.serialize import SerializationError
    from dualgraph.serialize.schema import graph_from_json, graph_to_json
    graph = dg.jit.trace(_net(), dg.randn(2, 8), opt_level=0).graph
    obj = graph_to_json(graph)
    assert obj["nodes"][0]["meta"]["module"] == "layers.0.norm"
    obj["nodes"][0]["meta"]["module"] = ["layers", 0]
    where = r"nodes\[0\] \(layer_norm\)\.meta\.module: expected a string"
    with pytest.raises(SerializationError, match=where):
        graph_from_json(obj, graph.tensors)
