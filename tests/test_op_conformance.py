"""Every registered op, every sample, through every mode that exists.

Columns: eager against the op's NumPy reference (float64 and float32), the meta function against
what eager produced (shape, dtype, device), the gradient against finite differences in float64,
PyTorch's node names, trace, text round trip, save/load, script (a generated scripted wrapper),
and the compiled backward graphs of scripted and traced wrappers against eager's gradients.
New modes add columns here, not new per-op tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.dispatch import bind
from dualgraph.ir import TensorType, all_ops
from dualgraph.ir.types import FRESH

SEED = 1234


def _cases():
    for op in all_ops():
        if op.control or op.region or op.graph_only:  # only inside graphs: test_control_flow, test_autodiff
            continue
        assert op.samples is not None, f"op {op.name} registers no samples"
        assert op.ref is not None, f"op {op.name} registers no NumPy reference"
        for i, sample in enumerate(op.samples(np.random.default_rng(SEED))):
            yield pytest.param(op, sample, id=f"{op.name}-{i}{'-' + sample.note if sample.note else ''}")


CASES = list(_cases())


def _outs(x):
    """Every op's result as a list: one tensor, or the outputs of an op with several."""
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _assert_array_dtype(t, what=""):
    """The array's own dtype is the one the tensor claims: eager casts kernel outputs, generated
    code hands out what the kernel returned, so a kernel returning int32 indices would otherwise
    pass as an int64 tensor."""
    assert t._data.dtype == t.dtype.np, \
        f"{what}: array dtype {t._data.dtype}, tensor dtype {t.dtype}"


def _assert_same(got, expected, rtol, atol, what=""):
    for g, e in zip(_outs(got), _outs(expected), strict=True):
        assert g.dtype is e.dtype and tuple(g.shape) == tuple(e.shape), what
        _assert_array_dtype(g, what)
        _assert_array_dtype(e, what)
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=rtol, atol=atol, err_msg=what)


def _inputs(sample, dtype, requires_grad=False):
    """Tensors from the sample's arrays (float arrays in `dtype`; integer arrays, such as indices,
    keep theirs), Python scalars as they are."""
    out = []
    for x in sample.inputs:
        if isinstance(x, np.ndarray):
            floating = x.dtype.kind == "f"
            t = dg.tensor(x.astype(dtype.np) if floating else x)
            if requires_grad and floating:
                t.requires_grad_(True)
            out.append(t)
        else:
            out.append(x)
    return out


@pytest.mark.parametrize("op,sample", CASES)
@pytest.mark.parametrize("dtype", [dg.float64, dg.float32], ids=["f64", "f32"])
def test_eager_matches_numpy_reference(op, sample, dtype):
    inputs = _inputs(sample, dtype)
    out = bind(op, inputs, sample.attrs)
    raw = [x.astype(dtype.np) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x
           for x in sample.inputs]
    expected = op.ref(*raw, **sample.attrs)
    tol = 1e-12 if dtype is dg.float64 else 1e-5
    for o, e in zip(_outs(out), _outs(expected), strict=True):
        e = np.asarray(e)
        assert tuple(o.shape) == e.shape, f"{op.name}: shape {o.shape} vs {e.shape}"
        _assert_array_dtype(o, op.name)
        np.testing.assert_allclose(o.numpy().astype(np.float64), e.astype(np.float64),
                                   rtol=tol, atol=tol, err_msg=op.name)


@pytest.mark.parametrize("op,sample", CASES)
def test_meta_agrees_with_eager(op, sample):
    inputs = _inputs(sample, dg.float32)
    out = bind(op, inputs, sample.attrs)
    types = [TensorType(x.dtype, tuple(x.shape), x.device) if isinstance(x, dg.Tensor) else x
             for x in inputs]
    for meta, o in zip(op.meta_all(types, sample.attrs), _outs(out), strict=True):
        assert len(meta.shape) == len(o.shape) and all(
            m is FRESH or m == s for m, s in zip(meta.shape, o.shape)), \
            f"{op.name}: meta shape {meta.shape} vs {o.shape}"  # FRESH: a size known at run time
        assert meta.dtype is o.dtype, f"{op.name}: meta dtype {meta.dtype} vs {o.dtype}"
        _assert_array_dtype(o, op.name)
        assert meta.device is o.device


@pytest.mark.parametrize("op,sample", [c for c in CASES if c.values[0].differentiable
                                       and c.values[1].grad])
def test_gradient_matches_finite_differences(op, sample):
    inputs = _inputs(sample, dg.float64, requires_grad=True)
    assert dg.autograd.gradcheck(lambda *xs: bind(op, xs, sample.attrs), inputs)


@pytest.mark.parametrize("op,sample", [c for c in CASES if c.values[0].differentiable
                                       and c.values[1].grad])
def test_grad_fn_is_named_like_pytorch(op, sample):
    inputs = _inputs(sample, dg.float64, requires_grad=True)
    out = _outs(bind(op, inputs, sample.attrs))[0]
    name = out.grad_fn.name()
    assert name.endswith(("Backward0", "Backward1", "Backward2", "Backward3", "Backwards",
                          "CopySlices")), name
    assert type(out.grad_fn).__name__ == name


def _traced(op, sample, inputs):
    """Trace `op` as a function of its tensor inputs (scalars and attributes stay constant)."""
    positions = [i for i, x in enumerate(inputs) if isinstance(x, dg.Tensor)]

    def fn(*tensors):
        args = list(inputs)
        for i, t in zip(positions, tensors):
            args[i] = t
        return bind(op, args, sample.attrs)
    return dg.jit.trace(fn, tuple(inputs[i] for i in positions)), [inputs[i] for i in positions]


@pytest.mark.parametrize("op,sample", CASES)
def test_trace_matches_eager(op, sample):
    inputs = _inputs(sample, dg.float32)
    expected = bind(op, inputs, sample.attrs)
    traced, tensors = _traced(op, sample, inputs)
    _assert_same(traced(*tensors), expected, 1e-6, 1e-7, op.name)
    ops = [n.op.name for n in traced.graph_before_passes.nodes]  # as captured
    assert ops.count(op.name) == 1 and set(ops) <= {op.name, "constant"}
    reference = dg.jit.run_reference(traced.graph, tensors)  # the node-by-node interpreter
    _assert_same(reference, expected, 1e-6, 1e-7, op.name)


@pytest.mark.parametrize("level", [0, 1], ids=["O0", "O1"])  # O3, the default, is above
@pytest.mark.parametrize("op,sample", CASES)
def test_trace_matches_eager_at_level(op, sample, level):
    inputs = _inputs(sample, dg.float32)
    expected = bind(op, inputs, sample.attrs)
    traced, tensors = _traced(op, sample, inputs)
    assert traced.compile(level).opt_level == level
    _assert_same(traced(*tensors), expected, 1e-6, 1e-7, f"{op.name} at O{level}")


OTHER_DTYPES = [dg.float16, dg.int64, dg.int32, dg.int16, dg.int8, dg.uint8, dg.bool_]
# (op, input dtype) whose generated code still hands out an array of another dtype than its
# label. Empty: relu, pow and addcmul refuse bool as PyTorch does (NumPy promoted it to int).
KNOWN_ARRAY_DTYPE_BUGS: set = set()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's, on values outside a dtype
@pytest.mark.parametrize("op,sample", CASES)
def test_trace_matches_eager_for_other_input_dtypes(op, sample):
    """The sample's float arrays cast to each other dtype that eager accepts: traced outputs
    carry eager's dtype, in their label and in their arrays, and eager's values."""
    if not any(isinstance(x, np.ndarray) and x.dtype.kind == "f" for x in sample.inputs):
        pytest.skip("no float input to cast")
    for dtype in OTHER_DTYPES:
        if (op.name, dtype.name) in KNOWN_ARRAY_DTYPE_BUGS:
            continue
        inputs = _inputs(sample, dtype)
        try:
            expected = bind(op, inputs, sample.attrs)
        except Exception:  # noqa: BLE001  (eager refuses this dtype: nothing to compare)
            continue
        traced, tensors = _traced(op, sample, inputs)
        tol = 1e-3 if dtype is dg.float16 else 1e-6
        _assert_same(traced(*tensors), expected, tol, tol, f"{op.name} on {dtype}")


@pytest.mark.parametrize("op,sample", CASES)
def test_graph_text_round_trips(op, sample):
    from dualgraph.ir.text import parse_graph, print_graph
    from dualgraph.ir.verify import verify
    traced, _ = _traced(op, sample, _inputs(sample, dg.float32))
    text = print_graph(traced.graph)
    again = parse_graph(text, traced.graph.tensors)
    verify(again)
    assert print_graph(again) == text


@pytest.mark.parametrize("op,sample", CASES)
def test_saved_and_loaded_matches_eager(op, sample, tmp_path):
    inputs = _inputs(sample, dg.float32)
    expected = bind(op, inputs, sample.attrs)
    traced, tensors = _traced(op, sample, inputs)
    traced.save(tmp_path / "f.dgm")
    loaded = dg.jit.load(tmp_path / "f.dgm")
    _assert_same(loaded(*tensors), expected, 1e-6, 1e-7, op.name)


def test_every_op_is_covered():
    names = {c.values[0].name for c in CASES}
    assert names == {op.name for op in all_ops() if not (op.control or op.region or op.graph_only)}
    assert len(names) >= 30


# ------------------------------------------------------------------------------ script columns

def _literal(x):
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return f"float({str(x)!r})"
    return repr(x)


@pytest.fixture(scope="module")
def scripted_wrappers(tmp_path_factory):
    """One generated Python function per op sample, `def w(a0, a1): return bind(op, [a0, 2.5,
    a1], attrs)`, written to a file (script compiles source) and imported."""
    import importlib.util
    lines = ["from dualgraph.dispatch import bind as _bind", "_OPS, _ATTRS = {}, {}", ""]
    names = {}
    for k, case in enumerate(CASES):
        op, sample = case.values
        params, args = [], []
        for i, x in enumerate(sample.inputs):
            if isinstance(x, np.ndarray):
                params.append(f"a{i}")
                args.append(f"a{i}")
            else:
                args.append(_literal(x))
        name = f"w{k}"
        names[case.id] = name
        lines += [f"def {name}({', '.join(params)}):",
                  f"    return _bind(_OPS[{case.id!r}], [{', '.join(args)}], "
                  f"_ATTRS[{case.id!r}])", ""]
    path = tmp_path_factory.mktemp("scripted") / "scripted_ops.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("scripted_ops", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for case in CASES:
        module._OPS[case.id], module._ATTRS[case.id] = case.values[0], case.values[1].attrs
    return {cid: getattr(module, n) for cid, n in names.items()}


def _tensor_args(inputs):
    return [x for x in inputs if isinstance(x, dg.Tensor)]


@pytest.mark.parametrize("op,sample", CASES)
def test_script_matches_eager(op, sample, request, scripted_wrappers):
    inputs = _inputs(sample, dg.float32)
    expected = bind(op, inputs, sample.attrs)
    scripted = dg.jit.script(scripted_wrappers[_case_id(request)])
    _assert_same(scripted(*_tensor_args(inputs)), expected, 1e-6, 1e-7, op.name)
    assert op.name in scripted.graph_before_passes.op_counts()


@pytest.mark.parametrize("level", [0, 1], ids=["O0", "O1"])  # O3, the default, is above
@pytest.mark.parametrize("op,sample", CASES)
def test_script_matches_eager_at_level(op, sample, level, request, scripted_wrappers):
    inputs = _inputs(sample, dg.float32)
    expected = bind(op, inputs, sample.attrs)
    scripted = dg.jit.script(scripted_wrappers[_case_id(request)], opt_level=level)
    _assert_same(scripted(*_tensor_args(inputs)), expected, 1e-6, 1e-7, f"{op.name} at O{level}")


def _case_id(request):
    params = request.node.callspec.params
    return next(c.id for c in CASES if c.values[0] is params["op"]
                and c.values[1] is params["sample"])


def _grads_of(fn, sample, seed=7):
    """Input gradients of a random weighting of fn's float outputs (float64 inputs)."""
    inputs = _inputs(sample, dg.float64, requires_grad=True)
    outs = [o for o in _outs(fn(inputs)) if o.dtype.is_floating_point]
    rng = np.random.default_rng(seed)
    loss = sum((o * dg.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs)
    leaves = [x for x in inputs if isinstance(x, dg.Tensor) and x.requires_grad]
    loss.backward()
    return [x.grad for x in leaves]


def _assert_same_grads(got, expected, what):
    for g, e in zip(got, expected, strict=True):
        if e is None:
            assert g is None or not np.any(g.numpy()), what
            continue
        assert g is not None, what
        assert g.dtype is e.dtype and tuple(g.shape) == tuple(e.shape), \
            f"{what}: grad {g.dtype}{list(g.shape)} vs eager {e.dtype}{list(e.shape)}"
        _assert_array_dtype(g, what)
        _assert_array_dtype(e, what)
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-9, atol=1e-12, err_msg=what)


GRAD_CASES = [c for c in CASES if c.values[0].differentiable and c.values[1].grad]


@pytest.mark.parametrize("op,sample", GRAD_CASES)
def test_script_grad_matches_eager(op, sample, request, scripted_wrappers):
    scripted = dg.jit.script(scripted_wrappers[_case_id(request)])
    expected = _grads_of(lambda xs: bind(op, xs, sample.attrs), sample)
    got = _grads_of(lambda xs: scripted(*_tensor_args(xs)), sample)
    _assert_same_grads(got, expected, op.name)


@pytest.mark.parametrize("op,sample", GRAD_CASES)
def test_trace_grad_matches_eager(op, sample):
    traced, _ = _traced(op, sample, _inputs(sample, dg.float64))
    expected = _grads_of(lambda xs: bind(op, xs, sample.attrs), sample)
    got = _grads_of(lambda xs: traced(*_tensor_args(xs)), sample)
    _assert_same_grads(got, expected, op.name)
