"""Every registered op, every sample, through every mode that exists.

Columns today: eager against the op's NumPy reference (float64 and float32), the meta function
against what eager produced (shape, dtype, device), and the gradient against finite differences
in float64. Later modes (trace, saved, script, GPU) add columns here, not new per-op tests.
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
        if op.control or op.graph_only:  # only inside graphs: test_control_flow, test_autodiff
            continue
        assert op.samples is not None, f"op {op.name} registers no samples"
        assert op.ref is not None, f"op {op.name} registers no NumPy reference"
        for i, sample in enumerate(op.samples(np.random.default_rng(SEED))):
            yield pytest.param(op, sample, id=f"{op.name}-{i}{'-' + sample.note if sample.note else ''}")


CASES = list(_cases())


def _outs(x):
    """Every op's result as a list: one tensor, or the outputs of an op with several."""
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _assert_same(got, expected, rtol, atol, what=""):
    for g, e in zip(_outs(got), _outs(expected), strict=True):
        assert g.dtype is e.dtype and tuple(g.shape) == tuple(e.shape), what
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
    ops = [n.op.name for n in traced.graph.nodes]
    assert ops.count(op.name) == 1 and set(ops) <= {op.name, "constant"}
    reference = dg.jit.run_reference(traced.graph, tensors)  # the node-by-node interpreter
    _assert_same(reference, expected, 1e-6, 1e-7, op.name)


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
    assert names == {op.name for op in all_ops() if not (op.control or op.graph_only)}
    assert len(names) >= 30
