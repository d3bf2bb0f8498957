"""Memory planning (passes/memory.py, jit/memory_plan.py): which values share a buffer, the
symbolic formulas, safety around views, in-place ops, `if` and `loop`, kernels writing `out=`,
and the peak measured with tracemalloc (which sees NumPy's allocations) against the plan."""

import gc
import textwrap
import tracemalloc

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.nn as nn
from dualgraph.runtime import backend_for
from dualgraph.dispatch import bind
from dualgraph.ir.graph import walk
from dualgraph.ir.registry import VIEW, all_ops, get
from dualgraph.ir.symbolic import SymExpr
from dualgraph.ir.text import parse_graph
from dualgraph.ir.types import CPU
from dualgraph.jit.codegen import _buffer_checks, compile_graph
from dualgraph.jit.memory_plan import MaxBytes
from dualgraph.passes import memory
from dualgraph.passes.memory import _geq, plan_memory, plan_of

CPU_BACKEND = backend_for(CPU)


@pytest.fixture(autouse=True)
def plan_small_values(monkeypatch):
    """The tests' graphs are small: plan them as if large (see test_small_values_are_left_...)."""
    monkeypatch.setattr(memory, "MIN_PLANNED_BYTES", 0)


def _graph(text: str):
    return parse_graph(textwrap.dedent(text).strip())


def _planned(text: str):
    g = _graph(text)
    log: list = []
    plan_memory(g, log)
    return g, plan_of(g), log


def _run(g, arrays, plan=None):
    fn, source = compile_graph(g, CPU_BACKEND, "f", plan)
    return fn(*arrays), source


def _resolve(g, **sizes):
    from dualgraph.jit.memory_plan import resolve
    return resolve(plan_of(g), g.name, sizes)


def _shared(plan) -> dict:
    return {b.index: [plan.names[v] for v in b.values] for b in plan.buffers}


CHAIN = """
    graph(%x: f32[B, 4]) {
      %0 = exp(%x) : f32[B, 4]
      %1 = sin(%0) : f32[B, 4]
      %2 = cos(%1) : f32[B, 4]
      %3 = tanh(%2) : f32[B, 4]
      %4 = neg(%3) : f32[B, 4]
      return (%4)
    }"""


# ------------------------------------------------------------------------- which values share

def test_a_chain_alternates_two_buffers_and_the_output_is_its_own():
    g, plan, log = _planned(CHAIN)
    assert _shared(plan) == {0: ["0", "2"], 1: ["1", "3"]}
    p = _resolve(g, B=10)
    assert p.buffer("%0") == 0 and p.buffer("3") == 1 and p.buffer("4") is None
    assert p.naive_bytes == 5 * 10 * 4 * 4
    assert p.peak_bytes == 2 * 10 * 4 * 4  # a value and its input at every node
    text = str(p)
    assert "memory plan of" in text and "(B=10)" in text
    assert "%2     cos  " in text and "b0      2..3" in text and "own     4..4 (output)" in text
    assert [k for k, *_ in log] == ["buffer", "buffer", "reuse", "reuse"]
    x = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    (got,), source = _run(g, [x], plan)
    (want,), plain = _run(g, [x])
    assert "out=" in source and "out=" not in plain
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, -np.tanh(np.cos(np.sin(np.exp(x)))))


def test_a_value_read_by_the_next_node_never_shares_with_its_output():
    g, plan, _ = _planned("""
        graph(%x: f32[8]) {
          %0 = exp(%x) : f32[8]
          %1 = mul(%0, %0) : f32[8]
          %2 = add(%1, %0) : f32[8]
          %3 = sin(%2) : f32[8]
          return (%3)
        }""")
    # %0 lives until %2 reads it: %1 cannot take its buffer; %2 takes neither of the live ones
    assert _shared(plan) == {0: ["0"], 1: ["1"], 2: ["2"]}
    assert [(e.start, e.end) for e in plan.entries] == [(0, 2), (1, 2), (2, 3), (3, 3)]


def test_any_dtype_reuses_a_buffer_of_enough_bytes_through_a_byte_view():
    g, plan, _ = _planned("""
        graph(%x: f64[4, 4]) {
          %0 = exp(%x) : f64[4, 4]
          %1 = sin(%0) : f64[4, 4]
          %2 = lt(%1, 0.5) : bool[4, 4]
          %3 = logical_not(%2) : bool[4, 4]
          return (%3)
        }""")
    assert _shared(plan) == {0: ["0", "2"], 1: ["1"]}
    assert plan.buffers[0].typed is None and plan.buffers[1].typed is not None
    x = np.linspace(-1, 1, 16).reshape(4, 4)
    (got,), source = _run(g, [x], plan)
    assert "_at(b0, (4, 4), np_bool_" in source
    np.testing.assert_array_equal(got, ~(np.sin(np.exp(x)) < 0.5))


def test_small_values_are_left_to_their_kernels(monkeypatch):
    """Below MIN_PLANNED_BYTES of a concrete size NumPy's own cache of small blocks is faster
    than a planned buffer; symbolic sizes are always planned."""
    monkeypatch.setattr(memory, "MIN_PLANNED_BYTES", 1024)
    small = CHAIN.replace("B, 4", "4, 4")
    g, plan, _ = _planned(small)
    assert plan.buffers == [] and {e.kind for e in plan.entries} == {"own"}
    assert "out=" not in _run(g, [np.ones((4, 4), np.float32)], plan)[1]
    _, plan, _ = _planned(CHAIN.replace("B, 4", "16, 16"))  # 1024 bytes: planned
    assert len(plan.buffers) == 2
    _, plan, _ = _planned(CHAIN)
    assert len(plan.buffers) == 2


# -------------------------------------------------------------------------- symbolic formulas

def test_geq_holds_for_every_size_of_at_least_one():
    B, T = SymExpr("B"), SymExpr("T")
    assert _geq(4 * B, 2 * B, ("B",)) and not _geq(2 * B, 4 * B, ("B",))
    assert _geq(B * B, B, ("B",))  # B**2 >= B for B >= 1 (not for 0 < B < 1)
    assert _geq(B * T, B, ("B", "T")) and not _geq(B, B * T, ("B", "T"))
    assert not _geq(B, T, ("B", "T")) and not _geq(T, B, ("B", "T"))  # incomparable
    assert _geq(B + 2, B - 2, ("B",)) and not _geq(B - 2, 1, ("B",))
    assert _geq(64, 64, ()) and not _geq(63, 64, ())


def test_sizes_of_different_formulas_share_only_when_provably_ordered():
    g, plan, log = _planned("""
        graph(%x: f32[B, T], %y: f32[B], %z: f32[T]) {
          %0 = exp(%y) : f32[B]
          %1 = sum(%0) {dim=None, keepdim=False, dtype=None} : f32[]
          %2 = exp(%z) : f32[T]
          %3 = sum(%2) {dim=None, keepdim=False, dtype=None} : f32[]
          %4 = mul(%x, %1) : f32[B, T]
          %5 = sin(%4) : f32[B, T]
          %6 = mul(%5, %3) : f32[B, T]
          return (%6)
        }""")
    # %2 (4*T bytes) is incomparable with %0's 4*B: a buffer of its own; %4 (4*B*T bytes)
    # is >= 4*B and >= 4*T for all B, T >= 1: it grows b0 (the larger of the two it could take
    # is chosen among those it provably exceeds) and b0 is then 4*B*T bytes
    assert _shared(plan) == {0: ["0", "4"], 1: ["2", "5"]}
    assert plan.buffers[0].nbytes == "4*B*T" and plan.buffers[1].nbytes == "4*B*T"
    notes = [n for _, n in plan.notes]
    assert notes[0] == "%4 (4*B*T bytes) shares b0 (4*B bytes): 4*B*T >= 4*B for all B, T >= 1"
    assert any(k == "compare" for k, _, _ in log)
    symbolic = _resolve(g)
    assert symbolic.naive_bytes == SymExpr("12*B*T + 4*B + 4*T + 8")
    # at %4: both buffers (each allocated at its largest size, held from its first value to
    # its last) and the two 0-d sums
    assert symbolic.peak_bytes == SymExpr("8*B*T + 8")
    p = _resolve(g, B=3, T=5)
    assert p.peak_bytes == 8 * 15 + 8 and p.buffers == {0: 60, 1: 60}
    half = _resolve(g, B=3)  # T left symbolic
    assert half.peak_bytes == SymExpr("24*T + 8")
    x, y, z = (np.random.default_rng(1).standard_normal(s).astype(np.float32)
               for s in ((3, 5), (3,), (5,)))
    (got,), _ = _run(g, [x, y, z], plan)
    want = np.sin(x * np.exp(y).sum()) * np.exp(z).sum()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_the_peak_is_a_max_of_formulas_when_none_dominates():
    g, plan, _ = _planned("""
        graph(%y: f32[B], %z: f32[T]) {
          %0 = exp(%y) : f32[B]
          %1 = sum(%0) {dim=None, keepdim=False, dtype=None} : f32[]
          %2 = exp(%z) : f32[T]
          %3 = sum(%2) {dim=None, keepdim=False, dtype=None} : f32[]
          %4 = add(%1, %3) : f32[]
          return (%4)
        }""")
    peak = _resolve(g).peak_bytes
    assert isinstance(peak, MaxBytes) and str(peak) == "max(4*B + 4, 4*T + 8)"
    assert peak.evaluate({"B": 10, "T": 3}) == 44
    assert _resolve(g, B=10, T=3).peak_bytes == 44


# --------------------------------------------------------------------------- views and aliases

def test_a_view_keeps_its_base_alive():
    g, plan, _ = _planned("""
        graph(%x: f32[4, 6]) {
          %0 = exp(%x) : f32[4, 6]
          %1 = transpose(%0) {dim0=0, dim1=1} : f32[6, 4]
          %2 = sin(%x) : f32[4, 6]
          %3 = cos(%2) : f32[4, 6]
          %4 = transpose(%3) {dim0=0, dim1=1} : f32[6, 4]
          %5 = add(%1, %4) : f32[6, 4]
          return (%5)
        }""")
    e0 = plan.by_value[g.nodes[0].outputs[0]]
    assert (e0.start, e0.end) == (0, 5)  # read through its view %1 by %5
    assert _shared(plan) == {0: ["0"], 1: ["2"], 2: ["3"]}
    assert "view of %0" in str(_resolve(g))
    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    (got,), _ = _run(g, [x], plan)
    np.testing.assert_allclose(got, (np.exp(x) + np.cos(np.sin(x))).T, rtol=1e-6)


def test_an_op_that_may_return_its_input_keeps_it_alive():
    # contiguous of a C-ordered array is that array: %0's buffer must outlive %1
    g, plan, _ = _planned("""
        graph(%x: f32[5]) {
          %0 = exp(%x) : f32[5]
          %1 = contiguous(%0) : f32[5]
          %2 = sin(%x) : f32[5]
          %3 = cos(%2) : f32[5]
          %4 = add(%1, %3) : f32[5]
          return (%4)
        }""")
    assert plan.by_value[g.nodes[0].outputs[0]].end == 4
    assert 0 not in [plan.by_value[v].index for b in plan.buffers for v in b.values[1:]]
    x = np.arange(5, dtype=np.float32) / 5
    (got,), _ = _run(g, [x], plan)
    np.testing.assert_allclose(got, np.exp(x) + np.cos(np.sin(x)), rtol=1e-6)


def test_every_kernel_returning_shared_memory_is_marked_in_its_op_record():
    """A kernel that returns its input (or a view of it) must be a VIEW op or `may_alias`, or
    planning could overwrite the input while the result is still read."""
    rng = np.random.default_rng(0)
    unmarked = set()
    for op in all_ops():
        kernel = CPU_BACKEND.kernels.get(op.name)
        if op.samples is None or kernel is None or op.kind == VIEW or op.may_alias:
            continue
        for s in op.samples(rng):
            ins = [np.asarray(x) if isinstance(x, np.ndarray) else x for x in s.inputs]
            try:
                out = kernel(*ins, **s.attrs)
            except Exception:  # samples of errors, and kernels needing cast inputs
                continue
            for o in out if isinstance(out, (tuple, list)) else [out]:
                if isinstance(o, np.ndarray) and any(
                        isinstance(i, np.ndarray) and np.shares_memory(o, i) for i in ins):
                    unmarked.add(op.name)
    assert unmarked == set()


def test_the_runtime_check_refuses_a_buffer_still_referenced():
    busy, at = _buffer_checks(CPU_BACKEND, strict=True)
    b0 = np.empty(64, np.uint8)
    v = at(b0, (4,), np.float32)
    assert v.shape == (4,) and v.base is b0
    del v
    alive = at(b0, (2, 2), np.float32)
    with pytest.raises(RuntimeError, match="still referenced"):
        at(b0, (4,), np.float32)
    del alive
    typed = np.empty((3,), np.float32)
    with pytest.raises(RuntimeError, match="still referenced"):
        busy(typed)
    lenient_busy, _ = _buffer_checks(CPU_BACKEND, strict=False)
    with pytest.warns(RuntimeWarning, match="fresh array"):
        fresh = lenient_busy(typed)
    assert fresh is not typed and fresh.shape == typed.shape


def test_a_missed_alias_is_caught_when_the_buffer_is_written_again(monkeypatch):
    """A planner that did not know contiguous may return its input would let %2 overwrite %0
    while %1 (which is %0) is still to be read: the generated code refuses to write."""
    text = """
        graph(%x: f32[5]) {
          %0 = exp(%x) : f32[5]
          %1 = contiguous(%0) : f32[5]
          %2 = sin(%x) : f32[5]
          %3 = cos(%2) : f32[5]
          %4 = add(%1, %3) : f32[5]
          return (%4)
        }"""
    monkeypatch.setattr(get("contiguous"), "may_alias", False)
    g, plan, _ = _planned(text)
    assert _shared(plan)[0] == ["0", "2"]  # the wrong plan
    fn, source = compile_graph(g, CPU_BACKEND, "f", plan)
    assert "b0 if _refs(b0) == 2 else _busy(b0)" in source
    with pytest.raises(RuntimeError, match="still referenced"):
        fn(np.arange(5, dtype=np.float32))


# ----------------------------------------------------------------- kernels that accept out=

def _cast(x):
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return x.astype(np.float32)
    return x


def _out_cases():
    rng = np.random.default_rng(3)
    cases = []
    for op in sorted(all_ops(), key=lambda o: o.name):
        if not CPU_BACKEND.accepts_out(op.name) or op.samples is None:
            continue
        for i, s in enumerate(op.samples(rng)):
            cases.append(pytest.param(op, s, id=f"{op.name}-{i}"))
    return cases


@pytest.mark.parametrize("op,sample", _out_cases())
def test_out_kernels_fill_out_with_what_they_return_without_it(op, sample):
    ins = [_cast(x) for x in sample.inputs]
    kernels = [CPU_BACKEND.kernel(op.name)]
    if not sample.attrs and op.name in CPU_BACKEND.plain:
        kernels.append(CPU_BACKEND.plain[op.name])
    for kernel in kernels:
        try:
            with np.errstate(all="ignore"):
                want = kernel(*ins, **sample.attrs)
        except Exception:
            continue  # an error sample: nothing to write
        want = np.asarray(want)
        if want.ndim == 0:
            continue  # 0-d values are never planned
        out = np.full(want.shape, 7, want.dtype)
        with np.errstate(all="ignore"):
            got = kernel(*ins, **sample.attrs, out=out)
        assert got is out
        np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, on values outside a dtype
@pytest.mark.parametrize("op,sample", _out_cases())
def test_traced_ops_writing_planned_buffers_match_eager(op, sample):
    """Each out= op with its result an intermediate (read through a view and by a sum), so that
    it is planned, for float32 inputs and the other dtypes eager accepts: the compiled result
    has eager's dtype and values."""
    planned = ran = 0
    for dtype in (dg.float32, dg.float16, dg.int64, dg.int32, dg.uint8, dg.bool_):
        inputs = [dg.tensor(x.astype(dtype.np) if x.dtype.kind == "f" else x)
                  if isinstance(x, np.ndarray) else x for x in sample.inputs]
        try:
            expected = bind(op, inputs, sample.attrs)
        except Exception:  # noqa: BLE001  (eager refuses this dtype, or an error sample)
            continue
        if not isinstance(expected, dg.Tensor) or expected.dim() == 0:
            continue
        positions = [i for i, x in enumerate(inputs) if isinstance(x, dg.Tensor)]

        def fn(*tensors):
            args = list(inputs)
            for i, t in zip(positions, tensors):
                args[i] = t
            y = bind(op, args, sample.attrs)
            return y.unsqueeze(0), y.sum()

        traced = dg.jit.trace(fn, tuple(inputs[i] for i in positions))
        ran += 1
        planned += "out=" in traced.code
        got, total = traced(*(inputs[i] for i in positions))
        assert got.dtype is expected.dtype and got.numpy().dtype == expected.numpy().dtype
        np.testing.assert_array_equal(got.numpy()[0], expected.numpy())
        tol = 1e-2 if dtype is dg.float16 else 1e-5
        np.testing.assert_allclose(total.numpy(), expected.sum().numpy(), rtol=tol)
    assert planned == ran  # every run wrote its result into a planned buffer


# ---------------------------------------------------------------- in-place ops, if and loop

def test_in_place_changes_and_write_backs_are_never_overwritten():
    @dg.jit.script
    def f(x, w, y):
        a = x @ w
        b = a @ w
        x.mul_(2)  # a write-back of the input: an output, never in a buffer
        c = b @ w
        c.add_(1)
        d = c @ w
        y.add_(d)  # y's new value is an output too
        e = d @ w
        return (e @ w).sum(), a

    rng = np.random.default_rng(4)
    x0, w = (dg.tensor(rng.standard_normal((4, 4)).astype(np.float32)) for _ in range(2))
    y0 = dg.zeros(4, 4)
    xe, ye, xs, ys = x0.clone(), y0.clone(), x0.clone(), y0.clone()
    want = f.__wrapped__(xe, w, ye)
    got = f(xs, w, ys)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(xs.numpy(), xe.numpy())
    np.testing.assert_allclose(ys.numpy(), ye.numpy(), rtol=1e-6)
    plan = f.memory_plan()
    assert sum(r.storage.startswith("b") for r in plan.rows) >= 3
    assert any(len(v) > 1 for v in plan.shared().values())  # a buffer is reused
    assert all(not r.storage.startswith("b") for r in plan.rows if r.output)
    assert "out=" in f.code


def test_values_read_inside_a_loop_or_an_if_live_for_the_whole_node():
    @dg.jit.script
    def f(x, w, n: int):
        a = x @ w
        b = a @ w
        h = x @ w
        for i in range(n):
            h = h @ b + a
        if h.sum() > 0:
            h = h - a
        c = h @ w
        return c @ w

    rng = np.random.default_rng(5)
    x, w = (dg.tensor(rng.standard_normal((4, 4)).astype(np.float32) / 4) for _ in range(2))
    for n in (3, 0):
        np.testing.assert_allclose(f(x, w, n).numpy(), f.__wrapped__(x, w, n).numpy(),
                                   rtol=1e-5, atol=1e-7)
    graph = f.graph
    plan = plan_of(graph)
    reads = {}  # value -> the last control node reading it inside a block
    for k, node in enumerate(graph.nodes):
        for b in node.blocks:
            for inner in walk(b.nodes):
                for v in inner.inputs:
                    reads[v] = k
    inside = [e for e in plan.entries if e.kind == "buffer" and e.value in reads]
    assert len(inside) >= 2  # a and b: planned, read in the loop body (a also in the if)
    for e in inside:
        assert e.end >= reads[e.value]
        for other in plan.buffers[e.buffer].values:  # nothing shares its buffer meanwhile
            o = plan.by_value[other]
            assert other is e.value or o.end < e.start or o.start > e.end


# --------------------------------------------------------------------------- the user's API

def _mlp(layers: int = 12, width: int = 512):
    dg.manual_seed(0)
    mods = []
    for _ in range(layers):
        mods += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*mods).eval()


def test_memory_plan_of_a_traced_mlp_is_symbolic_and_concrete():
    m = _mlp(3, 32)
    f = dg.jit.trace(m, dg.randn(4, 32), dynamic_dims={0: "B"})
    p = f.memory_plan()
    # each layer is a matmul (planned: one buffer serves all three) and fused[add, relu] (its
    # kernel allocates): a product and an activation of 128*B bytes are live at once
    assert p.peak_bytes == SymExpr("256*B") and p.naive_bytes == SymExpr("768*B")
    assert p.shared() == {0: ["1", "8", "15"]}
    assert f.memory_plan(B=64).peak_bytes == 256 * 64
    assert "memory" in [r.name for r in f.explain().runs]
    with pytest.raises(TypeError, match="unknown size 'T'; the graph's symbolic sizes are B"):
        f.memory_plan(T=3)
    with pytest.raises(TypeError, match="size B must be an int, got float"):
        f.memory_plan(B=2.0)
    with pytest.raises(ValueError, match="size B must be >= 1, got 0"):
        f.memory_plan(B=0)
    with pytest.raises(RuntimeError, match="memory planning runs at opt_level 3"):
        f.compile(2).memory_plan(B=2)
    assert "out=" not in f.code  # O2: no plan, no buffers


def test_the_training_plan_reports_residuals_and_gradients_stay_exact():
    m = _mlp(3, 32).train()
    x = dg.randn(8, 32)
    f = dg.jit.trace(m, x, dynamic_dims={0: "B"})
    plan = f.memory_plan(backward=True, B=8)
    # the saved activations: each layer's relu, inside its fused[add, relu] epilogue
    relus = [r for r in plan.residuals if r.op in ("relu", "fused")]
    assert len(relus) == 3 and all(r.nbytes == 8 * 32 * 4 for r in relus)
    assert plan.residual_bytes == sum(r.nbytes for r in plan.residuals)
    assert plan.peak_bytes >= plan.residual_bytes + plan.backward.peak_bytes
    assert "residuals saved for backward:" in str(plan)
    f(x).sum().backward()
    got = [p.grad.numpy().copy() for p in m.parameters()]
    m.zero_grad()
    m(x).sum().backward()
    for g, p in zip(got, m.parameters()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_measured_peak_of_a_deep_mlp_is_the_plan_at_two_batch_sizes():
    """12 layers of 512, one symbolic graph at batch 64 and 128: the planned peak is at most
    half the naive sum, and tracemalloc's peak over a call (inputs and parameters allocated
    before) is within 10% of it."""
    m = _mlp()
    f = dg.jit.trace(m, dg.randn(64, 512), dynamic_dims={0: "B"})
    for batch in (64, 128):
        x = dg.randn(batch, 512)
        with dg.no_grad():  # inference: nothing saved for backward
            f(x)  # compiled, warm
            plan = f.memory_plan(B=batch)
            assert plan.peak_bytes * 2 <= plan.naive_bytes
            gc.collect()
            tracemalloc.start()
            try:
                out = f(x)
                measured = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        del out
        print(f"B={batch}: planned peak {plan.peak_bytes}, naive {plan.naive_bytes}, "
              f"measured {measured}")
        assert abs(measured - plan.peak_bytes) <= 0.1 * plan.peak_bytes, (batch, measured,
                                                                         plan.peak_bytes)


class _Block(nn.Module):
    """The benchmarks' pre-norm transformer block (benchmarks/cases.py), written out here."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        b, t, c = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q = q.view(b, t, h, c // h).transpose(1, 2)
        k = k.view(b, t, h, c // h).transpose(1, 2)
        v = v.view(b, t, h, c // h).transpose(1, 2)
        att = nn.functional.softmax((q @ k.transpose(-2, -1)) * (1.0 / (c // h) ** 0.5), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.proj(y)
        return x + self.out(nn.functional.gelu(self.fc(self.ln2(x))))


def test_measured_peak_of_a_transformer_block_is_the_plan_at_two_batch_sizes():
    """Views (split, view, transpose), contiguous, fused layer norms and softmax: the plan
    holds at two batch sizes of one graph, at most half the naive sum."""
    dg.manual_seed(0)
    block = _Block(128, 4).eval()
    f = dg.jit.trace(block, dg.randn(2, 64, 128), dynamic_dims={0: "B"})
    assert f.memory_plan().peak_bytes == SymExpr("360448*B")
    for batch in (2, 4):
        x = dg.randn(batch, 64, 128)
        with dg.no_grad():
            np.testing.assert_allclose(f(x).numpy(), block(x).numpy(), rtol=1e-4, atol=1e-5)
            plan = f.memory_plan(B=batch)
            assert plan.peak_bytes * 2 <= plan.naive_bytes
            gc.collect()
            tracemalloc.start()
            try:
                out = f(x)
                measured = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        del out
        print(f"block B={batch}: planned peak {plan.peak_bytes}, naive {plan.naive_bytes}, "
              f"measured {measured}")
        assert abs(measured - plan.peak_bytes) <= 0.1 * plan.peak_bytes
