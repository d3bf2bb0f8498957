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

SEED = 1234


def _cases():
    for op in all_ops():
        assert op.samples is not None, f"op {op.name} registers no samples"
        assert op.ref is not None, f"op {op.name} registers no NumPy reference"
        for i, sample in enumerate(op.samples(np.random.default_rng(SEED))):
            yield pytest.param(op, sample, id=f"{op.name}-{i}{'-' + sample.note if sample.note else ''}")


CASES = list(_cases())


def _inputs(sample, dtype, requires_grad=False):
    """Tensors from the sample's arrays (in `dtype`), Python scalars as they are."""
    out = []
    for x in sample.inputs:
        if isinstance(x, np.ndarray):
            t = dg.tensor(x.astype(dtype.np))
            if requires_grad:
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
    raw = [x.astype(dtype.np) if isinstance(x, np.ndarray) else x for x in sample.inputs]
    expected = np.asarray(op.ref(*raw, **sample.attrs))
    assert tuple(out.shape) == expected.shape, f"{op.name}: shape {out.shape} vs {expected.shape}"
    tol = 1e-12 if dtype is dg.float64 else 1e-5
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected.astype(np.float64),
                               rtol=tol, atol=tol, err_msg=op.name)


@pytest.mark.parametrize("op,sample", CASES)
def test_meta_agrees_with_eager(op, sample):
    inputs = _inputs(sample, dg.float32)
    out = bind(op, inputs, sample.attrs)
    types = [TensorType(x.dtype, tuple(x.shape), x.device) if isinstance(x, dg.Tensor) else x
             for x in inputs]
    meta = op.meta(types, sample.attrs)
    assert meta.shape == tuple(out.shape), f"{op.name}: meta shape {meta.shape} vs {out.shape}"
    assert meta.dtype is out.dtype, f"{op.name}: meta dtype {meta.dtype} vs {out.dtype}"
    assert meta.device is out.device


@pytest.mark.parametrize("op,sample", [c for c in CASES if c.values[0].differentiable
                                       and c.values[1].grad])
def test_gradient_matches_finite_differences(op, sample):
    inputs = _inputs(sample, dg.float64, requires_grad=True)
    assert dg.autograd.gradcheck(lambda *xs: bind(op, xs, sample.attrs), inputs)


@pytest.mark.parametrize("op,sample", [c for c in CASES if c.values[0].differentiable
                                       and c.values[1].grad])
def test_grad_fn_is_named_like_pytorch(op, sample):
    inputs = _inputs(sample, dg.float64, requires_grad=True)
    out = bind(op, inputs, sample.attrs)
    name = out.grad_fn.name()
    assert name.endswith(("Backward0", "Backward1", "Backward2", "Backwards", "CopySlices")), name
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
    got = traced(*tensors)
    assert got.dtype is expected.dtype and tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    ops = [n.op.name for n in traced.graph.nodes]
    assert ops.count(op.name) == 1 and set(ops) <= {op.name, "constant"}
    reference = dg.jit.run_reference(traced.graph, tensors)[0]  # the node-by-node interpreter
    np.testing.assert_allclose(reference.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


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
    got = loaded(*tensors)
    assert got.dtype is expected.dtype and tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


def test_every_op_is_covered():
    names = {c.values[0].name for c in CASES}
    assert names == {op.name for op in all_ops()}
    assert len(names) >= 30
