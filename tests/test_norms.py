"""RMS norm (an op with a row loop) and layer norm over several trailing dims: values against
NumPy's formula in float64, gradients against finite differences, PyTorch's modules, names and
messages, and the compiled forms (a row op fused with its weight) against eager."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg

F = dg.nn.functional


def _rms_ref(x: np.ndarray, dims: tuple, eps: float) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.sqrt((x * x).mean(dims, keepdims=True) + eps)


def _ln_ref(x: np.ndarray, dims: tuple, eps: float) -> np.ndarray:
    x = x.astype(np.float64)
    mu = x.mean(dims, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(dims, keepdims=True) + eps)


@pytest.mark.parametrize("dtype,tol", [(dg.float32, 2e-6), (dg.float64, 1e-13)])
@pytest.mark.parametrize("shape,normalized", [((4, 7), (7,)), ((2, 3, 5), (5,)),
                                              ((2, 3, 5), (3, 5)), ((2, 2, 3, 4), (2, 3, 4))])
def test_rms_norm_matches_the_formula(dtype, tol, shape, normalized):
    x = dg.randn(*shape, dtype=dtype) * 3
    dims = tuple(range(-len(normalized), 0))
    eps = float(np.finfo(dtype.np).eps)  # eps=None: the dtype's machine epsilon
    got = F.rms_norm(x, normalized)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got.numpy(), _rms_ref(x.numpy(), dims, eps), rtol=tol, atol=tol)
    w = dg.randn(*normalized, dtype=dtype)
    np.testing.assert_allclose(F.rms_norm(x, normalized, w, eps=0.5).numpy(),
                               _rms_ref(x.numpy(), dims, 0.5) * w.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape,normalized", [((2, 3, 5), (3, 5)), ((2, 2, 3, 4), (2, 3, 4))])
def test_layer_norm_over_several_dims_matches_the_formula(shape, normalized):
    x = dg.randn(*shape) * 2 + 1
    dims = tuple(range(-len(normalized), 0))
    np.testing.assert_allclose(F.layer_norm(x, normalized).numpy(),
                               _ln_ref(x.numpy(), dims, 1e-5), rtol=2e-5, atol=2e-6)
    m = dg.nn.LayerNorm(normalized)
    with dg.no_grad():
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-1, 1)
        want = (_ln_ref(x.numpy(), dims, 1e-5) * m.weight.detach().numpy()
                + m.bias.detach().numpy())
        np.testing.assert_allclose(m(x).numpy(), want, rtol=2e-5, atol=2e-6)


def test_pytorch_numbers_and_names():
    # torch.nn.functional.rms_norm(torch.tensor([[1., 2., 3., 4.]]), (4,)) in PyTorch 2.13
    got = F.rms_norm(dg.tensor([[1.0, 2.0, 3.0, 4.0]]), (4,))
    np.testing.assert_allclose(got.numpy(), [[0.3651, 0.7303, 1.0954, 1.4606]], atol=1e-4)
    x = dg.randn(2, 4, requires_grad=True)
    assert type(F.rms_norm(x, (4,)).grad_fn).__name__ == "MulBackward0"  # PyTorch's composite
    assert repr(dg.nn.RMSNorm(4)) == "RMSNorm((4,), eps=None, elementwise_affine=True)"
    m = dg.nn.RMSNorm([3, 4], eps=1e-3, elementwise_affine=False)
    assert repr(m) == "RMSNorm((3, 4), eps=0.001, elementwise_affine=False)"
    assert list(m.state_dict()) == [] and list(dg.nn.RMSNorm(4).state_dict()) == ["weight"]
    assert np.array_equal(dg.nn.RMSNorm(4).weight.detach().numpy(), np.ones(4, np.float32))


def test_bad_input_gets_pytorchs_errors():
    x = dg.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*2, 4\], but got input "
                                           r"of size\[2, 3, 4\]"):
        F.rms_norm(x, (2, 4))
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 2, 4\]"):
        F.layer_norm(x, (2, 4))
    for fn in (F.rms_norm, F.layer_norm):
        with pytest.raises(RuntimeError, match="at least 1-dimensional"):
            fn(x, ())
    with pytest.raises(NotImplementedError, match="\"rms_norm\" not implemented for 'Long'"):
        F.rms_norm(dg.ones(2, 4, dtype=dg.int64), (4,))


@pytest.mark.parametrize("fn", [lambda a: F.rms_norm(a, (3, 4), eps=0.1),
                                lambda a: F.rms_norm(a, (4,)),
                                lambda a: F.layer_norm(a, (3, 4))])
def test_gradients_match_finite_differences(fn):
    x = dg.randn(2, 3, 4, dtype=dg.float64, requires_grad=True)
    assert dg.autograd.gradcheck(fn, (x,))

    def grad_of(a):  # the VJP is built from ops, so it differentiates again
        (g,) = dg.autograd.grad((fn(a) ** 3).sum(), a, create_graph=True)
        return g

    assert dg.autograd.gradcheck(grad_of, (x,))


@pytest.mark.parametrize("normalized", [(16,), (4, 16)])
def test_traced_rms_norm_fuses_with_its_weight_and_matches_eager(normalized):
    m = dg.nn.Sequential(dg.nn.RMSNorm(normalized), dg.nn.ReLU())
    with dg.no_grad():
        m[0].weight.uniform_(0.5, 1.5)
    traced = dg.jit.trace(m, (dg.randn(3, 4, 16),), dynamic_dims={0: "B"})
    kernels = [n.attrs["kernel"] for n in traced.graph.nodes if n.op.name == "fused"]
    if len(normalized) == 1:  # weight and relu run in the row loop
        assert kernels == ["rms_norm, mul, relu"]
    else:  # one row loop over the flattened dims, then weight and relu as one kernel
        assert "rms_norm" in traced.graph.op_counts() and kernels == ["mul, relu"]
    w = m[0].weight
    for batch in (3, 5):
        xb = dg.randn(batch, 4, 16, requires_grad=True)
        got = traced(xb)
        got.sum().backward()
        gx, gw = xb.grad.numpy().copy(), w.grad.numpy().copy()
        xb.grad = w.grad = None
        want = m(xb)
        want.sum().backward()
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(gx, xb.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(gw, w.grad.numpy(), rtol=1e-4, atol=1e-4)
        xb.grad = w.grad = None
