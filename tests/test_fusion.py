"""The fusion pass and its generated kernels: groups in the IR, schedules that stay legal, every
templated elementwise op through a kernel equal to eager, and the kernel cache on disk."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.dispatch import bind
from dualgraph.ir.graph import Block, Node, Value
from dualgraph.ir.registry import ELEMENTWISE, all_ops, get
from dualgraph.ir.text import parse_graph, print_graph
from dualgraph.passes.fuse import fuse

numba = pytest.importorskip("numba")
from dualgraph.runtime import fusion  # noqa: E402  (needs numba)


def _fused(text: str) -> str:
    g = parse_graph(text)
    log: list = []
    fuse(g, log)
    return print_graph(g)


def test_chain_becomes_one_fused_node_with_the_ops_named():
    out = _fused("""
    graph(%x: f32[B, 8], %y: f32[8]) {
      %0 = mul(%x, 2.0) : f32[B, 8]
      %1 = add(%0, %y) {alpha=1} : f32[B, 8]
      %2 = tanh(%1) : f32[B, 8]
      return (%2)
    }""")
    assert "fused(%x, %y) {kernel='mul, add, tanh'} : f32[B, 8]" in out
    assert out.count("= mul(") == 1 and "yield (%" in out
    assert print_graph(parse_graph(out)) == out  # the text form round-trips


def test_value_read_outside_the_group_is_written_out():
    out = _fused("""
    graph(%x: f32[4]) {
      %0 = exp(%x) : f32[4]
      %1 = mul(%0, 3.0) : f32[4]
      %2 = sum(%0) {dim=None, keepdim=False, dtype=None} : f32[]
      return (%1, %2)
    }""")
    assert "fused(%x) {kernel='exp, mul'} : f32[4], f32[4]" in out  # exp's value and mul's


def test_a_reader_between_members_blocks_the_join():
    """`c = a + matmul(a, w)` cannot join a's group: matmul needs a before c's group runs."""
    g = parse_graph("""
    graph(%x: f32[4, 4], %w: f32[4, 4]) {
      %0 = mul(%x, 2.0) : f32[4, 4]
      %1 = exp(%0) : f32[4, 4]
      %2 = matmul(%1, %w) : f32[4, 4]
      %3 = add(%1, %2) {alpha=1} : f32[4, 4]
      %4 = neg(%3) : f32[4, 4]
      return (%4)
    }""")
    log: list = []
    fuse(g, log)
    ops = [n.op.name for n in g.nodes]
    assert ops == ["fused", "matmul", "fused"]
    assert [n.attrs["kernel"] for n in g.nodes if n.op.name == "fused"] == ["mul, exp", "add, neg"]
    dg.ir.verify.verify(g)


def test_no_fusion_across_shapes_and_for_ops_without_templates():
    g = parse_graph("""
    graph(%x: f32[3, 4], %y: f32[4]) {
      %0 = exp(%y) : f32[4]
      %1 = mul(%x, %0) : f32[3, 4]
      %2 = add(%1, 1.0) {alpha=1} : f32[3, 4]
      return (%2)
    }""")
    log: list = []
    fuse(g, log)
    assert [n.op.name for n in g.nodes] == ["exp", "fused"]
    assert any("shapes" in what for kind, node, what in log if kind == "kept")


def test_addmm_splits_so_bias_and_activation_are_one_kernel_over_the_product():
    """A matmul epilogue: addmm becomes the BLAS matmul and an add that fuses with its reader."""
    g = parse_graph("""
    graph(%x: f32[B, 8], %w: f32[8, 4], %b: f32[4], %r: f32[B, 4]) {
      %0 = addmm(%b, %x, %w) {beta=1, alpha=2.0} : f32[B, 4]
      %1 = relu(%0) : f32[B, 4]
      %2 = add(%1, %r) {alpha=1} : f32[B, 4]
      return (%2)
    }""")
    log: list = []
    fuse(g, log)
    assert [n.op.name for n in g.nodes] == ["matmul", "fused"]
    assert g.nodes[1].attrs["kernel"] == "mul, add, relu, add"  # alpha, bias, relu, residual
    assert any(kind == "rewritten" and "addmm split into matmul, mul, add" in what
               for kind, node, what in log)
    dg.ir.verify.verify(g)


def test_addmm_stays_whole_without_a_fusible_reader_or_when_it_is_an_output():
    for text in ("""
    graph(%x: f32[2, 8], %w: f32[8, 4], %b: f32[4]) {
      %0 = addmm(%b, %x, %w) {beta=1, alpha=1} : f32[2, 4]
      %1 = sum(%0) {dim=None, keepdim=False, dtype=None} : f32[]
      return (%1)
    }""", """
    graph(%x: f32[2, 8], %w: f32[8, 4], %b: f32[4]) {
      %0 = addmm(%b, %x, %w) {beta=1, alpha=1} : f32[2, 4]
      %1 = relu(%0) : f32[2, 4]
      return (%0, %1)
    }""", """
    graph(%x: f32[2, 8], %w: f32[8, 4], %b: f64[4]) {
      %0 = addmm(%b, %x, %w) {beta=1, alpha=1} : f64[2, 4]
      %1 = relu(%0) : f64[2, 4]
      return (%1)
    }"""):
        g = parse_graph(text)
        fuse(g, [])
        assert "addmm" in g.op_counts(), text


def test_addmm_splits_through_the_view_back_to_three_dims():
    """A linear layer on [B, T, 8] (rows, addmm, view back): the view moves between the matmul
    and the bias add, which fuses with the residual add after it; a bias that is a full matrix
    of rows would not broadcast the same way after the view, so that addmm stays whole."""
    text = """
    graph(%x: f32[B, 3, 8], %w: f32[8, 4], %b: f32[{bias}], %r: f32[B, 3, 4]) {{
      %0 = reshape(%x) {{shape=('3*B', 8)}} : f32[3*B, 8]
      %1 = addmm(%b, %0, %w) {{beta=1, alpha=1}} : f32[3*B, 4]
      %2 = view(%1) {{shape=('B', 3, 4)}} : f32[B, 3, 4]
      %3 = add(%2, %r) {{alpha=1}} : f32[B, 3, 4]
      return (%3)
    }}"""
    g = parse_graph(text.format(bias="4"))
    log: list = []
    fuse(g, log)
    dg.ir.verify.verify(g)
    assert [n.op.name for n in g.nodes] == ["reshape", "matmul", "view", "fused"]
    assert g.nodes[3].attrs["kernel"] == "add, add"
    assert any("addmm split into matmul, view, add" in what for _, _, what in log)
    g = parse_graph(text.format(bias="3*B, 4"))
    fuse(g, [])
    assert "addmm" in g.op_counts()
    layer = dg.nn.Sequential(dg.nn.Linear(8, 6), dg.nn.GELU())
    x = dg.randn(2, 5, 8)
    traced = dg.jit.trace(layer, (x,))
    assert [n.attrs["kernel"] for n in traced.graph.nodes if n.op.name == "fused"] == \
        ["add, gelu"]
    assert np.array_equal(traced(x).detach().numpy(), layer(x).detach().numpy())


def test_linear_layers_fuse_their_epilogues_and_match_eager_bit_for_bit():
    m = dg.nn.Sequential(dg.nn.Linear(20, 16), dg.nn.ReLU(), dg.nn.Linear(16, 16), dg.nn.GELU(),
                         dg.nn.Linear(16, 3))
    x = dg.randn(5, 20)
    traced = dg.jit.trace(m, (x,))
    assert [n.attrs["kernel"] for n in traced.graph.nodes if n.op.name == "fused"] == [
        "add, relu", "add, gelu"]
    out = traced(x)
    out.sum().backward()
    grads = [p.grad.numpy().copy() for p in m.parameters()]
    for p in m.parameters():
        p.grad = None
    ref = m(x)
    ref.sum().backward()
    assert np.array_equal(out.detach().numpy(), ref.detach().numpy())
    for got, p in zip(grads, m.parameters()):
        np.testing.assert_allclose(got, p.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_fused_graph_matches_eager_with_grads_and_explain_says_so():
    def f(x, y):
        return (dg.sigmoid(x * 2 + y) * (x - y)).sum()

    x = dg.randn(64, 32, requires_grad=True)
    y = dg.randn(32, requires_grad=True)
    traced = dg.jit.trace(f, (x, y))
    assert "fused" in traced.graph.op_counts()
    assert "fused[mul, add, sigmoid, sub, mul]" in str(traced.explain())
    out = traced(x, y)
    out.backward()
    gx, gy = x.grad.numpy().copy(), y.grad.numpy().copy()
    x.grad = y.grad = None
    ref = f(x, y)
    ref.backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gy, y.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert traced.compile(0).graph.op_counts().get("fused") is None  # O0: as captured


def test_fused_kernels_inside_loop_bodies():
    @dg.jit.script
    def f(x, n: int):
        for _ in range(n):
            x = dg.tanh(x * 0.5 + 1.0)
        return x

    x = dg.randn(100)
    body = next(n for n in f.graph_for(x, 3).all_nodes() if n.op.name == "loop")
    assert any(n.op.name == "fused" for n in body.blocks[0].nodes)
    ref = x
    for _ in range(3):
        ref = dg.tanh(ref * 0.5 + 1.0)
    np.testing.assert_allclose(f(x, 3).numpy(), ref.numpy(), rtol=1e-6)


# ------------------------------------------------------------------ the `fused` column: every op

TEMPLATED = [op for op in all_ops() if op.kind == ELEMENTWISE and op.template is not None]
GROUP_SIZE = 24  # cases per kernel: one Numba compile covers them all (compiles dominate the time)


def _float_or_own(x, dtype):
    return dtype if x.dtype.kind == "f" else dg.ir.types.dtype_from_numpy(x.dtype)


def _layout_key(op, sample) -> tuple:
    """(output shape, flat layout?) of a sample's kernel: cases with equal keys share a kernel."""
    cpu = dg.ir.types.Device("cpu")
    types = [dg.ir.types.TensorType(_float_or_own(x, dg.float64), x.shape, cpu)
             if isinstance(x, np.ndarray) else x for x in sample.inputs]
    try:
        shape = tuple(op.meta_all(types, op.full_attrs(sample.attrs))[0].shape)
    except Exception:  # the op refuses the sample's types: eager does too (no kernel to check)
        return ("refused",)
    flat = all(tuple(t.shape) == shape or all(d == 1 for d in t.shape)
               for t in types if isinstance(t, dg.ir.types.TensorType))
    return (shape, flat)


def _groups() -> dict:
    """Every templated op's samples, grouped by kernel layout and cut into GROUP_SIZE pieces."""
    by_key: dict = {}
    for op in TEMPLATED:
        for k, sample in enumerate(op.samples(np.random.default_rng(0))):
            by_key.setdefault(_layout_key(op, sample), []).append((op, k))
    groups = {}
    for key, cases in sorted(by_key.items(), key=lambda kv: str(kv[0])):
        if key == ("refused",):
            continue
        for start in range(0, len(cases), GROUP_SIZE):
            label = "x".join(map(str, key[0])) or "scalar"
            groups[f"{label}-{'flat' if key[1] else 'nd'}-{start // GROUP_SIZE}"] = \
                cases[start:start + GROUP_SIZE]
    return groups


GROUPS = _groups()


def _body(op, sample, dtype, chain: bool):
    """A fused body computing op(sample) (and, with `chain`, op's result added to itself) as
    eager would, with the eager reference."""
    arrays = [dg.tensor(x, dtype=dtype) if isinstance(x, np.ndarray) and x.dtype.kind == "f"
              else (dg.tensor(x) if isinstance(x, np.ndarray) else x) for x in sample.inputs]
    ref = bind(op, arrays, sample.attrs)
    body = Block("body")
    inputs, args = [], []
    for a in arrays:
        if isinstance(a, dg.Tensor):
            v = Value(dg.ir.types.TensorType(a.dtype, a.shape, dg.ir.types.Device("cpu")))
            body.inputs.append(v)
            inputs.append(v)
            args.append(a.numpy())
        else:
            inputs.append(a)
    node = Node(op, inputs, op.full_attrs(sample.attrs),
                op.meta_all([getattr(x, "type", x) for x in inputs], op.full_attrs(sample.attrs)))
    body.nodes.append(node)
    out = node.outputs[0]
    if chain:
        add = get("add")
        second = Node(add, [out, out], add.full_attrs({}), add.meta_all([out.type] * 2, {}))
        body.nodes.append(second)
        out = second.outputs[0]
        ref = bind(add, [ref, ref], {})
    body.outputs = [out]
    return body, args, ref


def _merged(bodies: list) -> Block:
    """One body computing every body's outputs side by side (their values stay separate)."""
    merged = Block("body")
    for b in bodies:
        merged.inputs += b.inputs
        merged.nodes += b.nodes
        merged.outputs += b.outputs
    return merged


def _no_fallback(*args):
    raise AssertionError("the kernel fell back to NumPy")


@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("dtype,chain", [(dg.float64, False), (dg.float32, True)],
                         ids=["f64-alone", "f32-chain"])
def test_fused_kernels_match_eager(group, dtype, chain):
    """Each templated op on each of its samples, computed in a generated kernel (one kernel per
    group of samples with the same layout: the op's expression, alone or followed by an add),
    equals eager: the kernel's casts, literals and NaN rules are eager's."""
    members = []
    for op, k in GROUPS[group]:
        sample = op.samples(np.random.default_rng(0))[k]
        try:
            body, args, ref = _body(op, sample, dtype, chain)
        except Exception:  # eager refuses this dtype: nothing to compare
            continue
        try:
            fusion.kernel_source(body, op.name)
        except fusion.Unfusable:  # this case stays unfused (integer checks, ...)
            continue
        members.append((f"{op.name}[{k}]", body, args, ref))
    if not members:
        pytest.skip("no case of this group fuses at this dtype")
    merged = _merged([body for _, body, _, _ in members])
    kernel = fusion.fused_kernel(merged, f"conformance {group}", _no_fallback)
    results = kernel(*[a for _, _, args, _ in members for a in args])
    wrong = []
    for (name, _, _, ref), got in zip(members, results):
        want = ref.numpy()
        if got.dtype != want.dtype or got.shape != want.shape:
            wrong.append(f"{name}: {got.dtype}{list(got.shape)} != {want.dtype}{list(want.shape)}")
        elif want.dtype.kind == "f":
            tol = 2e-6 if want.dtype == np.float32 else 1e-12
            if not np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True):
                wrong.append(f"{name}: {got.tolist()} != {want.tolist()}")
        elif not np.array_equal(got, want):
            wrong.append(f"{name}: {got.tolist()} != {want.tolist()}")
    assert not wrong, "\n".join(wrong)


def test_the_fused_column_covers_every_templated_op():
    """Grouping loses no op: every templated op has a sample in some group."""
    grouped = {op.name for cases in GROUPS.values() for op, _ in cases}
    assert grouped == {op.name for op in TEMPLATED}


def test_every_elementwise_op_has_a_template():
    """A new elementwise op comes with its scalar template, so it fuses (random draws excepted:
    they draw on the host)."""
    missing = [op.name for op in all_ops() if op.kind == ELEMENTWISE and op.template is None
               and not op.random]
    assert missing == []
    assert len(TEMPLATED) >= 79


# ------------------------------------------------------------------------- cache and exact math

def test_exact_math_switch_calls_libm(monkeypatch):
    g = parse_graph("""
    graph(%x: f32[4]) {
      %0 = exp(%x) : f32[4]
      %1 = tanh(%0) : f32[4]
      yield (%1)
    }""".replace("yield (%1)", "return (%1)"))
    body = Block("body", g.inputs, g.nodes, g.outputs)
    assert "fast_exp(" in fusion.kernel_source(body, "t")[0]
    monkeypatch.setenv("DUALGRAPH_EXACT_MATH", "1")
    source = fusion.kernel_source(body, "t")[0]
    assert "fast_" not in source and "exp(" in source


def test_second_process_loads_kernels_from_the_disk_cache(tmp_path):
    script = textwrap.dedent("""
        import dualgraph as dg
        from dualgraph.runtime import kernel_cache
        f = dg.jit.trace(lambda x, y: (x * 3 + y) * (x - y), (dg.randn(8), dg.randn(8)))
        f(dg.randn(8), dg.randn(8))
        (module,) = kernel_cache._MODULES.values()
        print(sum(module.serial.stats.cache_hits.values()),
              sum(module.serial.stats.cache_misses.values()))
    """)
    env = dict(os.environ, DUALGRAPH_CACHE_DIR=str(tmp_path))
    run = lambda: subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,  # noqa: E731
                                 text=True, timeout=300, check=True).stdout.split()
    assert run() == ["0", "1"]  # compiled
    assert run() == ["1", "0"]  # loaded
    assert len(list(tmp_path.glob("kernels-*/k*.py"))) == 1


def test_pictures_draw_each_fused_node_as_a_cluster_of_its_ops():
    traced = dg.jit.trace(lambda x, y: dg.tanh(x * 2 + y), (dg.randn(4), dg.randn(4)))
    source = dg.viz.to_dot(traced).source
    assert "subgraph cluster_n0" in source and 'label="fused[mul, add, tanh]"' in source
    assert source.count("n0_") >= 5  # three op boxes and the edges between them


def test_eager_gelu_and_silu_run_generated_loops():
    import math

    import dualgraph.nn.functional as F
    dg.manual_seed(0)
    x = dg.randn(1000) * 4
    xd = x.numpy().astype(np.float64)
    erf = np.vectorize(math.erf)
    # In float32, 1 + erf(x/sqrt 2) cancels for x < -4 (erf is -1 to within ulps of 1, 6e-8
    # each), so there the error is absolute: |x|/2 times a few ulps of 1, as in PyTorch.
    np.testing.assert_allclose(F.gelu(x).numpy(), xd * 0.5 * (1 + erf(xd / math.sqrt(2))),
                               rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(F.silu(x).numpy(), xd / (1 + np.exp(-xd)), rtol=2e-6, atol=1e-7)
    made = {key[0] for key, run in fusion._EAGER.items() if run is not False}
    assert {"gelu", "silu"} <= made
    y = dg.randn(3, 4, dtype=dg.float16)  # no half arithmetic in kernels: NumPy's kernel
    assert F.gelu(y).dtype is dg.float16
