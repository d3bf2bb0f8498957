"""dg.aot: graphs compiled to C, built with the system compiler and run without Python.

Every model is traced once with a symbolic batch dim and its C program is run at two batch
sizes; outputs must equal dualgraph's within float32 tolerance. The tests skip only where no C
compiler (or `make`) exists, and say so.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.dispatch import bind
from dualgraph.ir.graph import Graph, Node
from dualgraph.ir.registry import ELEMENTWISE, all_ops
from dualgraph.ir.types import CPU, TensorType

aot = pytest.importorskip("dualgraph.aot")
try:
    aot.find_compiler()
    HAVE_CC = shutil.which("make") is not None
except aot.AotError:
    HAVE_CC = False
pytestmark = pytest.mark.skipif(not HAVE_CC, reason="no C compiler or make on this machine: "
                                "dg.aot builds with the system's cc (Debian: apt install gcc make)")

nn = dg.nn
F = dg.nn.functional


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for z in x for y in _flat(z)]
    return [x]


def _check(prog, f, inputs, rtol=1e-5, atol=1e-5):
    with dg.no_grad():
        want = [t.numpy() for t in _flat(f(*inputs))]
    got = prog.run(*inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _net():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


class Block(nn.Module):
    """A pre-norm transformer block (attention with softmax, GELU MLP), as the benchmarks'."""

    def __init__(self, width: int = 32, heads: int = 4) -> None:
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
        att = F.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // h)), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


def _traced(model, example):
    with dg.no_grad():
        return dg.jit.trace(model, (example,), dynamic_dims={0: "B"})


@pytest.mark.parametrize("kind", ["net", "cnn", "lstm", "block"])
def test_models_match_dualgraph_at_two_batch_sizes(kind, tmp_path):
    """The tutorials' Net, the CNN, an LSTM and the transformer block: one symbolic graph, one
    C build, two batch sizes."""
    dg.manual_seed(0)
    if kind == "net":
        model, shape = _net(), (1, 28, 28)
    elif kind == "cnn":
        model, shape = _cnn(), (1, 28, 28)
    elif kind == "lstm":
        model, shape = nn.LSTM(8, 16, num_layers=2, batch_first=True), (5, 8)
    else:
        model, shape = Block(), (6, 32)
    f = _traced(model, dg.randn(2, *shape))
    prog = aot.compile(f, tmp_path / kind, kind)
    prog.build()
    for batch in (1, 5):
        _check(prog, f, (dg.randn(batch, *shape),))


class TinyLM(nn.Module):
    """Embedding, causal attention (masked_fill under scaled_dot_product_attention), a
    log_softmax head and argmax: a next-token predictor."""

    def __init__(self) -> None:
        super().__init__()
        self.emb, self.qkv, self.head = nn.Embedding(50, 16), nn.Linear(16, 48), nn.Linear(16, 50)

    def forward(self, idx):
        q, k, v = self.qkv(self.emb(idx)).split(16, dim=-1)
        y = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1),
                                           is_causal=True).squeeze(1)
        logp = F.log_softmax(self.head(y), dim=-1)
        return logp, logp.argmax(-1)


def _more_ops(x, idx):
    lower = x.tril(-1) + x.flip(1).triu()
    picked = x.index_select(1, idx)
    spread = x.var(dim=1, keepdim=True) + x.std(dim=0, correction=0)
    scans = x.cumsum(1) + x.cumprod(0) + x.max() - x.min()
    gathered = x.gather(1, idx.expand(x.shape[0], 4)) + x.repeat(1, 2)[:, 1:5]
    return (lower * spread, picked.argmin(dim=0), x.masked_fill(x > 0.5, -1.0), scans,
            gathered)


@pytest.mark.parametrize("kind", ["tinylm", "batchnorm", "ops"])
def test_more_models_and_ops(kind, tmp_path):
    """Eval-mode batch norm and dropout (folded or gone at O3), average pooling, attention with
    a causal mask, tril/triu, flip, index_select, var/std and argmin/argmax."""
    dg.manual_seed(7)
    if kind == "tinylm":
        f = _traced(TinyLM(), dg.randint(0, 50, (2, 7)))
        make = [lambda b: (dg.randint(0, 50, (b, 7)),)]
    elif kind == "batchnorm":
        model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(36, 2))
        model(dg.randn(8, 3, 15, 15))  # running statistics that are not the defaults
        f = _traced(model.eval(), dg.randn(2, 3, 15, 15))
        make = [lambda b: (dg.randn(b, 3, 15, 15),)]
    else:
        idx = dg.tensor([3, 0, 0, 2])
        with dg.no_grad():
            f = dg.jit.trace(_more_ops, (dg.randn(2, 4), idx), dynamic_dims=[{0: "B"}, None])
        make = [lambda b: (dg.randn(b, 4), idx)]
    prog = aot.compile(f, tmp_path / kind, kind)
    prog.build()
    for batch in (1, 4):
        _check(prog, f, make[0](batch))


def _aliases(x):
    y = (x * 2).contiguous()  # contiguous of a C-ordered value is that value: no kernel writes
    return y, x.detach(), y.t(), x  # an output, a view of one and a graph input


def test_outputs_that_alias_other_values_are_copied_out(tmp_path):
    with dg.no_grad():
        f = dg.jit.trace(_aliases, (dg.randn(3, 4),), dynamic_dims={0: "B"})
    prog = aot.compile(f, tmp_path / "alias", "alias")
    prog.build()
    for batch in (1, 3):
        _check(prog, f, (dg.randn(batch, 4),))


def test_scripted_function_with_data_dependent_while(tmp_path):
    """A `while` on a tensor condition becomes a C while loop; its trip count depends on the
    data, so the two inputs take different numbers of iterations."""
    from tests.aot_scripts import halve_until_small
    halve_until_small(dg.ones(3, 4))
    prog = aot.compile(halve_until_small, tmp_path / "halve", "halve")
    prog.build()
    for scale in (1.0, 300.0):
        x = dg.randn(3, 4) * scale
        got = prog.run(x)
        want = halve_until_small(x)
        np.testing.assert_allclose(got[0], want[0].numpy(), rtol=1e-6)
        assert int(got[1]) == int(want[1])


def test_scripted_if_inside_a_loop(tmp_path):
    from tests.aot_scripts import clipped_steps
    clipped_steps(dg.randn(4, 3))
    prog = aot.compile(clipped_steps, tmp_path / "steps", "steps")
    prog.build()
    for x in (dg.randn(4, 3) * 0.1, dg.randn(4, 3) * 5):
        np.testing.assert_allclose(prog.run(x)[0], clipped_steps(x).numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_saved_dgm_file_through_the_command_line(tmp_path):
    """`dualgraph compile-c model.dgm -o DIR --build`: the deploy path with no Python object."""
    dg.manual_seed(1)
    f = _traced(_net(), dg.randn(2, 1, 28, 28))
    f.save(str(tmp_path / "net.dgm"))
    out = tmp_path / "c"
    proc = subprocess.run([sys.executable, "-m", "dualgraph.cli", "compile-c",
                           str(tmp_path / "net.dgm"), "-o", str(out), "--build"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "net").exists() and (out / "weights.bin").exists()
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run([str(out / "net"), str(tmp_path / "x.npy"), "-o",
                          str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    with dg.no_grad():
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), f(dg.from_numpy(x)).numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_sanitizers_report_nothing(tmp_path):
    """One build under -fsanitize=address,undefined (the CNN: convolution, pooling, views and a
    product) runs clean at two batch sizes."""
    dg.manual_seed(2)
    f = _traced(_cnn(), dg.randn(2, 1, 28, 28))
    prog = aot.compile(f, tmp_path / "asan", "cnn", sanitize=True, blas=False)
    try:
        prog.build()
    except aot.AotError as exc:
        if "asan" in str(exc).lower() or "sanitize" in str(exc).lower():
            pytest.skip(f"this compiler has no sanitizer runtime: {exc}")
        raise
    import os
    import resource
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")

    def unlimited():  # ASan reserves terabytes of shadow address space (not memory): lift the
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]  # suite's address-space cap
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    for batch in (1, 3):
        x = dg.randn(batch, 1, 28, 28)
        np.save(tmp_path / "x.npy", x.numpy())
        proc = subprocess.run([str(prog.executable), str(tmp_path / "x.npy"), "-o",
                               str(tmp_path / "y.npy")], capture_output=True, text=True,
                              env=env, preexec_fn=unlimited, timeout=120)
        assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-3000:]
        with dg.no_grad():
            np.testing.assert_allclose(np.load(tmp_path / "y.npy"), f(x).numpy(), rtol=1e-5,
                                       atol=1e-5)


def test_without_blas_and_with_embedded_weights(tmp_path):
    dg.manual_seed(3)
    f = _traced(_net(), dg.randn(2, 1, 28, 28))
    prog = aot.compile(f, tmp_path / "plain", "net", blas=False, embed_weights=True)
    assert not (tmp_path / "plain" / "weights.bin").exists()
    assert "BLAS ?= 0" in (tmp_path / "plain" / "Makefile").read_text()
    prog.build()
    _check(prog, f, (dg.randn(70, 1, 28, 28),))  # 70*128*784 multiply-adds: the blocked loop


def test_c_api_refuses_wrong_calls(tmp_path):
    """Wrong sizes, NULL pointers and small buffers give the error codes, never a write out of
    bounds; a good call after them still works."""
    from dualgraph.aot.library import CallError
    dg.manual_seed(4)
    f = _traced(_net(), dg.randn(2, 1, 28, 28))
    lib = aot.compile(f, tmp_path / "api", "net").library()
    x = np.random.default_rng(1).standard_normal((4, 1, 28, 28)).astype(np.float32)
    for kwargs, code in [({"sizes": {"B": 5}}, 2), ({"sizes": {"B": 0}}, 2),
                         ({"null_input": 0}, 1), ({"capacity": {"output0": 39}}, 6)]:
        with pytest.raises(CallError) as err:
            lib.net(x, **kwargs)
        assert err.value.code == code
    with dg.no_grad():
        np.testing.assert_allclose(lib.net(x)[0], f(dg.from_numpy(x)).numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_embedding_index_out_of_range_is_an_error_code(tmp_path):
    from dualgraph.aot.library import CallError
    emb = nn.Embedding(10, 4)
    with dg.no_grad():
        f = dg.jit.trace(emb, (dg.tensor([[1, 2, 3]]),), dynamic_dims={0: "B"})
    lib = aot.compile(f, tmp_path / "emb", "emb").library()
    idx = np.array([[0, 9, 4], [1, 1, 2]], dtype=np.int64)
    np.testing.assert_array_equal(lib.emb(idx)[0], emb.weight.detach().numpy()[idx])
    with pytest.raises(CallError) as err:
        lib.emb(np.array([[0, 10, 1]]))
    assert err.value.code == 3


def test_runner_refuses_bad_files(tmp_path):
    dg.manual_seed(5)
    f = _traced(_net(), dg.randn(2, 1, 28, 28))
    prog = aot.compile(f, tmp_path / "files", "net")
    prog.build()
    with pytest.raises(aot.AotError, match="expected dtype <f4"):
        prog.run(np.zeros((2, 1, 28, 28)))  # float64
    with pytest.raises(aot.AotError, match="does not match"):
        prog.run(np.zeros((2, 1, 27, 28), np.float32))
    weights = tmp_path / "files" / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(aot.AotError, match="not this model's"):
        prog.run(np.zeros((2, 1, 28, 28), np.float32))


def test_unsupported_op_is_named_with_its_line(tmp_path):
    def f(x):
        return x.sort(dim=1).values * 2
    traced = dg.jit.trace(f, (dg.randn(3, 4),))
    with pytest.raises(aot.AotError, match=r"sort.*test_aot\.py:\d+"):
        aot.compile(traced, tmp_path / "sort", "sorted")


def test_data_dependent_sizes_are_refused(tmp_path):
    @dg.jit.script
    def positive(x):
        return x[x > 0]
    positive(dg.randn(5))
    with pytest.raises(aot.AotError, match="depends on the data"):
        aot.compile(positive, tmp_path / "pos", "pos")


def test_no_text_reaches_the_source_but_checked_identifiers():
    from dualgraph.aot.cexpr import identifier
    from dualgraph.aot.program import _safe_comment
    for bad in ["in", "x; system(1)", "for", "t3", "dg_run", "B ", "é", ""]:
        with pytest.raises(ValueError):
            identifier(bad, "size symbol")
    assert identifier("B", "size symbol") == "B"
    assert "*/" not in _safe_comment("a */ int evil; /* b")


def test_a_symbol_named_like_a_c_local_is_refused(tmp_path):
    with dg.no_grad():
        f = dg.jit.trace(_net(), (dg.randn(2, 1, 28, 28),), dynamic_dims={0: "ws"})
    with pytest.raises(ValueError, match="cannot be a C identifier"):
        aot.compile(f, tmp_path / "ws", "net")


def test_workspace_follows_the_memory_plan(tmp_path):
    """The workspace shares buffers as the memory plan does: for a deep MLP it is far below
    the sum of the intermediates, and it grows linearly in the batch size."""
    layers = []
    for _ in range(8):
        layers += [nn.Linear(64, 64), nn.Tanh()]
    f = _traced(nn.Sequential(*layers), dg.randn(2, 64))
    prog = aot.compile(f, tmp_path / "mlp", "mlp")
    lib = prog.library()
    bytes_of = getattr(lib.lib, "mlp_workspace_bytes")
    bytes_of.restype = dg.aot.library.ctypes.c_size_t
    bytes_of.argtypes = [dg.aot.library.ctypes.c_int64]
    naive = 15 * 64 * 4  # per row: every intermediate but the output
    for batch in (16, 256):
        ws = bytes_of(batch)
        assert 2 * 64 * 4 * batch <= ws <= naive * batch / 3
    assert bytes_of(0) == 0  # out of range
    x = np.random.default_rng(2).standard_normal((16, 64)).astype(np.float32)
    with dg.no_grad():
        np.testing.assert_allclose(lib.mlp(x)[0], f(dg.from_numpy(x)).numpy(), rtol=1e-5,
                                   atol=1e-6)


# ------------------------------------------------------- every templated op, in one library

TEMPLATED = [op for op in all_ops() if op.kind == ELEMENTWISE and op.template is not None]


def _case_graph(op, sample, dtype):
    arrays = [dg.tensor(x, dtype=dtype) if isinstance(x, np.ndarray) and x.dtype.kind == "f"
              else (dg.tensor(x) if isinstance(x, np.ndarray) else x) for x in sample.inputs]
    ref = bind(op, arrays, sample.attrs)
    g = Graph(name="case")
    inputs, args = [], []
    for k, a in enumerate(arrays):
        if isinstance(a, dg.Tensor):
            v = g.add_input(TensorType(a.dtype, a.shape, CPU), f"a{k}")
            inputs.append(v)
            args.append(a.numpy())
        else:
            inputs.append(a)
    attrs = op.full_attrs(sample.attrs)
    node = Node(op, inputs, attrs, op.meta_all([getattr(x, "type", x) for x in inputs], attrs))
    g.nodes.append(node)
    g.outputs = [node.outputs[0]]
    if not g.inputs:
        raise ValueError("no tensor input")
    return g, args, ref


@pytest.mark.parametrize("dtype", [dg.float64, dg.float32], ids=["f64", "f32"])
def test_every_templated_op_in_c_matches_eager(dtype, tmp_path):
    """Each elementwise op on each of its samples, as C from its scalar template, equals eager:
    Python's `//`, `%`, max/min and NaN rules carried into C. One library holds every case."""
    from dualgraph.aot.cexpr import Unlowerable
    from dualgraph.aot.writer import entry_point
    cases, skipped = {}, []
    for op in TEMPLATED:
        for k, sample in enumerate(op.samples(np.random.default_rng(0))):
            try:
                g, args, ref = _case_graph(op, sample, dtype)
            except Exception:  # eager refuses the sample at this dtype: nothing to compare
                continue
            name = f"c{len(cases)}"
            try:
                entry_point(g, [], "probe")
            except Unlowerable as why:
                skipped.append(f"{op.name}[{k}]: {why}")
                continue
            cases[name] = (f"{op.name}[{k}]", g, args, ref)
    assert len({label.split("[")[0] for label, *_ in cases.values()}) >= 75, skipped
    prog = aot.compile({name: g for name, (_, g, _, _) in cases.items()}, tmp_path / "ops",
                       "ops")
    lib = prog.library(cflags="-O0 -std=c11 -Wall -Wextra")  # -O3 builds: the model tests
    wrong = []
    for name, (label, _, args, ref) in cases.items():
        got = lib.entry(f"ops_{name}")(*args)[0]
        want = ref.numpy()
        if got.dtype != want.dtype or got.shape != want.shape:
            wrong.append(f"{label}: {got.dtype}{list(got.shape)} != {want.dtype}{list(want.shape)}")
        elif want.dtype.kind == "f":
            tol = 4e-6 if want.dtype == np.float32 else 1e-12
            if not np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True):
                wrong.append(f"{label}: {got.tolist()} != {want.tolist()}")
        elif not np.array_equal(got, want):
            wrong.append(f"{label}: {got.tolist()} != {want.tolist()}")
    assert not wrong, "\n".join(wrong)


def test_lowered_ops_table_covers_the_models():
    table = aot.lowered_ops()
    for name in ("matmul", "addmm", "conv2d", "max_pool2d_with_indices", "softmax",
                 "layer_norm", "embedding", "sum", "loop", "if", "transpose", "relu", "gelu"):
        assert name in table, name
    assert "sort" not in table


def test_generated_sources_compile_warning_free(tmp_path):
    """-Wall -Wextra -std=c11, and build() treats any warning as a failure."""
    dg.manual_seed(6)
    f = _traced(Block(), dg.randn(2, 6, 32))
    prog = aot.compile(f, tmp_path / "warn", "block")
    text = (tmp_path / "warn" / "Makefile").read_text()
    assert "-Wall -Wextra" in text and "-std=c11" in text
    prog.build()
    assert Path(prog.executable).exists()


def test_docs_list_the_ops_with_a_c_lowering():
    from dualgraph.aot.docs import BEGIN, END, table
    text = (Path(__file__).parent.parent / "docs" / "AOT.md").read_text()
    assert text[text.index(BEGIN):text.index(END) + len(END)] == table(), \
        "docs/AOT.md is stale: paste `python -m dualgraph.aot.docs` into it"
