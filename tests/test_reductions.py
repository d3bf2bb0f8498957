"""Reductions and scans through the user-facing API (prod, amax/amin, max/min, argmax/argmin,
median, mode, var/std, norm, dist, logsumexp, cumsum/cumprod, all/any, softmax/log_softmax):
values against NumPy, dtypes and printed forms as PyTorch 2.13 gives them, errors naming the op.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import dualgraph as torch
from dualgraph.ir import get

RNG = np.random.default_rng(7)
X = RNG.uniform(-2.0, 2.0, size=(3, 4, 2))


def t(a, requires_grad=False, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype or torch.float64, requires_grad=requires_grad)


def close(got, expected, tol=1e-10):
    np.testing.assert_allclose(np.asarray(got.detach().numpy(), dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=tol, atol=tol)


def product_of_others(a, axis):
    """d prod / dx_i by brute force: the product of every other element of the slice."""
    moved = np.moveaxis(a, axis, -1)
    out = np.empty_like(moved)
    for pos in np.ndindex(moved.shape):
        row = moved[pos[:-1]]
        out[pos] = np.prod(np.delete(row, pos[-1]))
    return np.moveaxis(out, -1, axis)


# ------------------------------------------------------------------------------------------ prod

@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (-1, True), (1, True)])
def test_prod_matches_numpy(dim, keepdim):
    got = t(X).prod() if dim is None else t(X).prod(dim, keepdim=keepdim)
    close(got, np.prod(X, axis=dim, keepdims=keepdim and dim is not None))


def test_prod_dtypes():
    ints = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int32)
    assert ints.prod().dtype is torch.int64 and ints.prod().item() == 720
    assert torch.tensor([True, False]).prod().dtype is torch.int64
    assert ints.prod(1, dtype=torch.float64).dtype is torch.float64
    assert torch.tensor([1.0, 2.0], dtype=torch.float16).prod().dtype is torch.float16
    assert torch.prod(ints, 1, True).tolist() == [[6], [120]]
    assert torch.zeros(0).prod().item() == 1.0


@pytest.mark.parametrize("a,dim", [
    ([2.0, 0.0, 3.0], None), ([2.0, 0.0, 3.0, 0.0], None), ([1.5, -2.0, 4.0], None),
    ([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]], 1),
    ([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]], 0)])
def test_prod_gradient_with_zeros(a, dim):
    a = np.array(a)
    x = t(a, requires_grad=True)
    (x.prod() if dim is None else x.prod(dim)).sum().backward()
    expected = product_of_others(a.reshape(-1), 0).reshape(a.shape) if dim is None else \
        product_of_others(a, dim)
    close(x.grad, expected)
    assert x.prod().grad_fn.name() == "ProdBackward0"
    assert x.prod(0).grad_fn.name() == "ProdBackward1"


# ------------------------------------------------------------------------- amax, amin, max, min

@pytest.mark.parametrize("dim", [(), 0, -1, (0, 2), [1, -1]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin_match_numpy(dim, keepdim):
    axis = None if dim == () else tuple(dim) if isinstance(dim, list) else dim
    close(t(X).amax(dim, keepdim), np.max(X, axis=axis, keepdims=keepdim))
    close(torch.amin(t(X), dim=dim, keepdim=keepdim), np.min(X, axis=axis, keepdims=keepdim))


def test_amax_splits_the_gradient_among_ties():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x = t(a, requires_grad=True)
    y = x.amax(1)
    assert y.grad_fn.name() == "AmaxBackward0"
    y.backward(t([1.0, 6.0]))
    hits = a == a.max(axis=1, keepdims=True)
    close(x.grad, hits * np.array([[1.0], [6.0]]) / hits.sum(axis=1, keepdims=True))


def test_full_max_and_min_are_reductions_with_even_tie_gradients():
    a = np.array([1.0, 3.0, 3.0, 2.0])
    x = t(a, requires_grad=True)
    y = x.max()
    assert y.shape == () and y.item() == 3.0 and y.grad_fn.name() == "MaxBackward1"
    y.backward()
    close(x.grad, [0.0, 0.5, 0.5, 0.0])
    assert x.min().grad_fn.name() == "MinBackward1" and torch.min(x).item() == 1.0
    ints = torch.tensor([[4, -2], [7, 1]], dtype=torch.int32)
    assert ints.max().dtype is torch.int32 and ints.max().item() == 7
    assert torch.tensor([True, False]).max().dtype is torch.bool


def test_max_along_a_dim_and_its_keywords():
    a = X[:, :, 0]
    values, indices = t(a).max(1)
    close(values, a.max(axis=1))
    assert indices.dtype is torch.int64 and indices.tolist() == a.argmax(axis=1).tolist()
    kept = t(a).max(dim=-1, keepdim=True)
    assert kept.values.shape == (3, 1) and kept.indices.shape == (3, 1)
    lo = torch.min(t(a), 0, True)
    close(lo.values, a.min(axis=0, keepdims=True))
    m = torch.tensor([[3.0, 1.0], [2.0, 6.0]]).max(-1)
    assert repr(m) == ("torch.return_types.max(\nvalues=tensor([3., 6.]),\n"
                       "indices=tensor([0, 1]))")
    with pytest.raises(TypeError, match=r"max\(\)"):
        t(a).max((0, 1))
    with pytest.raises(TypeError, match=r"max\(\)"):
        t(a).max(keepdim=True)


def test_max_with_another_tensor_is_elementwise():
    a, b = np.array([1.0, 5.0, -2.0]), np.array([3.0, 2.0, -1.0])
    close(t(a).max(t(b)), np.maximum(a, b))
    close(torch.min(t(a), t(b)), np.minimum(a, b))
    close(torch.max(t(a), other=t(b)), np.maximum(a, b))


# --------------------------------------------------------------------------- argmax, argmin

def test_argmax_argmin():
    a = np.array([[1.0, 7.0, 7.0], [9.0, 2.0, 9.0]])
    x = t(a)
    assert x.argmax().dtype is torch.int64 and x.argmax().item() == 3  # first of the ties
    assert x.argmin(dim=1).tolist() == [0, 1]
    assert x.argmax(1, keepdim=True).tolist() == [[1], [0]]
    assert x.argmax(keepdim=True).shape == (1, 1)
    assert torch.argmax(x, -1).tolist() == np.argmax(a, axis=-1).tolist()
    assert torch.tensor(3.0).argmax().item() == 0
    with pytest.raises(RuntimeError, match=r"argmax\(\): does not support bool input"):
        torch.tensor([True, False]).argmax()
    with pytest.raises(TypeError, match=r"argmin\(\): argument 'dim' must be int"):
        x.argmin((0, 1))


# ------------------------------------------------------------------------------ median, mode

def test_median_is_the_lower_median():
    a = np.array([4.0, 1.0, 3.0, 2.0])
    m = t(a).median()
    assert m.shape == () and m.item() == np.sort(a)[(a.size - 1) // 2] == 2.0
    assert torch.median(torch.tensor([5, 1, 3], dtype=torch.int32)).dtype is torch.int32
    assert math.isnan(torch.tensor([1.0, float("nan"), 2.0]).median().item())
    assert math.isnan(torch.zeros(0).median().item())


def test_median_along_a_dim():
    x = torch.tensor([[3.0, 1.0, 2.0, 2.0], [5.0, 5.0, 4.0, 6.0]])
    r = x.median(1)
    assert type(r).__name__ == "median" and r.values is r[0] and r.indices is r[1]
    assert repr(r) == ("torch.return_types.median(\nvalues=tensor([2., 5.]),\n"
                       "indices=tensor([2, 0]))")
    assert repr(torch.median(x, 0, keepdim=True)) == (
        "torch.return_types.median(\nvalues=tensor([[3., 1., 2., 2.]]),\n"
        "indices=tensor([[0, 0, 0, 0]]))")
    a = X[:, :, 1]
    v, i = t(a).median(dim=-1)
    close(v, np.sort(a, axis=-1)[:, (a.shape[-1] - 1) // 2])
    close(v, np.take_along_axis(a, i.numpy()[:, None], axis=-1)[:, 0])


def test_median_gradients():
    x = t([1.0, 2.0, 2.0, 3.0], requires_grad=True)
    x.median().backward()  # the full median shares its gradient among equal elements
    close(x.grad, [0.0, 0.5, 0.5, 0.0])
    x = torch.tensor([[4.0, 1.0, 3.0], [0.5, 2.5, 1.5]], requires_grad=True)
    r = x.median(1)
    assert repr(r) == ("torch.return_types.median(\nvalues=tensor([3.0000, 1.5000], "
                       "grad_fn=<MedianBackward1>),\nindices=tensor([2, 2]))")
    r.values.backward(torch.tensor([1.0, 2.0]))
    close(x.grad, [[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]])


def test_mode():
    x = torch.tensor([[3.0, 1.0, 2.0, 2.0], [5.0, 5.0, 4.0, 6.0]])
    assert repr(x.mode(1)) == ("torch.return_types.mode(\nvalues=tensor([2., 5.]),\n"
                               "indices=tensor([3, 1]))")
    assert repr(torch.mode(torch.tensor([1, 2, 2, 3], dtype=torch.int32))) == (
        "torch.return_types.mode(\nvalues=tensor(2, dtype=torch.int32),\nindices=tensor(2))")
    a = RNG.integers(0, 3, size=(4, 7))
    r = torch.tensor(a).mode(0, keepdim=True)
    for j in range(a.shape[1]):
        counts = np.bincount(a[:, j])
        value = np.argmax(counts)  # most frequent, the smallest among ties
        assert r.values[0, j].item() == value
        assert r.indices[0, j].item() == np.flatnonzero(a[:, j] == value)[-1]
    x = t([[2.0, 0.5, 1.0]], requires_grad=True)
    x.mode().values.sum().backward()
    assert x.mode().values.grad_fn.name() == "ModeBackward0"
    close(x.grad, [[0.0, 1.0, 0.0]])


# ------------------------------------------------------------------------------ var and std

@pytest.mark.parametrize("dim,kwargs,ddof", [
    (None, {}, 1), (1, {}, 1), ((0, 2), {"unbiased": False}, 0), (-1, {"correction": 0}, 0),
    (1, {"correction": 2}, 2), (None, {"correction": 1.5}, 1.5)])
def test_var_std_match_numpy(dim, kwargs, ddof):
    for keepdim in (False, True):
        expected = np.var(X, axis=dim, ddof=ddof, keepdims=keepdim)
        close(t(X).var(dim, keepdim=keepdim, **kwargs), expected)
        close(torch.std(t(X), dim, keepdim=keepdim, **kwargs), np.sqrt(expected))


def test_var_overloads_and_dtypes():
    a = np.array([1.0, 2.0, 4.0])
    close(t(a).var(False), np.var(a))  # var(unbiased)
    close(t(a[None]).var(1, False, True), np.var(a[None], axis=1, keepdims=True))
    assert torch.tensor([1.0, 2.0], dtype=torch.float16).var().dtype is torch.float16
    assert math.isnan(t([1.0]).var().item()) and math.isinf(t(a).var(correction=5).item())
    with pytest.raises(RuntimeError, match=r"std\(\): std and var only support floating point"):
        torch.tensor([1, 2]).std()
    with pytest.raises(TypeError, match=r"var\(\)"):
        t(a).var(unbiased=True, correction=0)


def test_std_mean_and_var_mean():
    x = t(X, requires_grad=True)
    s, m = torch.std_mean(x, 1)
    close(s, np.std(X, axis=1, ddof=1))
    close(m, np.mean(X, axis=1))
    assert s.grad_fn.name() == m.grad_fn.name() == "StdMeanBackward0"
    v, m = torch.var_mean(x, dim=(0, 2), correction=0, keepdim=True)
    close(v, np.var(X, axis=(0, 2), keepdims=True))
    assert v.grad_fn.name() == "VarMeanBackward0"
    (v.sum() + 2 * m.sum()).backward()
    centered = X - X.mean(axis=(0, 2), keepdims=True)
    close(x.grad, 2 * centered / 6 + 2 / 6)  # 6 elements per slice
    x = torch.tensor([[3.0, 1.0, 2.0, 2.0], [5.0, 5.0, 4.0, 6.0]])
    out = torch.std_mean(x, 1)
    assert type(out) is tuple
    assert repr(out) == "(tensor([0.8165, 0.8165]), tensor([2., 5.]))"
    with pytest.raises(RuntimeError, match=r"var_mean\(\): var_mean only support floating"):
        torch.var_mean(torch.tensor([1, 2]))


def test_std_gradient_is_zero_where_std_is_zero():
    x = t([1.0, 1.0, 1.0], requires_grad=True)
    x.std().backward()
    close(x.grad, [0.0, 0.0, 0.0])


# --------------------------------------------------------------------------- norm and dist

@pytest.mark.parametrize("p", [2, "fro", 1, 3, 0.5, math.inf, -math.inf, 0])
def test_norm_matches_numpy(p):
    a = X[:, :, 0]
    order = 2 if p == "fro" else p
    close(t(a).norm(p), np.linalg.norm(a.reshape(-1), ord=order))
    close(torch.norm(t(a), p, dim=1, keepdim=True),
          np.linalg.norm(a, ord=order, axis=1, keepdims=True))


def test_norm_forms():
    a = X[:, :, 0]
    close(torch.norm(t(a)), np.sqrt((a * a).sum()))
    close(t(a).norm(dim=(0, 1)), np.sqrt((a * a).sum()))
    close(t(a).norm("fro", dim=(0, 1)), np.sqrt((a * a).sum()))
    assert t(a).float().norm(dtype=torch.float64).dtype is torch.float64
    x = t([[3.0, -4.0], [0.0, 0.0]], requires_grad=True)
    n = x.norm(dim=1)
    assert n.grad_fn.name() == "LinalgVectorNormBackward0"
    n.sum().backward()
    close(x.grad, [[0.6, -0.8], [0.0, 0.0]])  # a zero norm has a zero gradient
    with pytest.raises(RuntimeError, match="norm"):
        t(a).norm("abc")
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).norm()


@pytest.mark.parametrize("p", [2, 1, 3, math.inf, 0])
def test_dist(p):
    a, b = X[:, :, 0], X[0, :, 1]
    close(torch.dist(t(a), t(b), p), np.linalg.norm((a - b).reshape(-1), ord=p))
    close(t(a).dist(t(b), p), np.linalg.norm((a - b).reshape(-1), ord=p))


def test_dist_gradient_and_errors():
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 5.0])
    x, y = t(a, requires_grad=True), t(b, requires_grad=True)
    d = torch.dist(x, y)
    assert d.grad_fn.name() == "DistBackward0"
    d.backward()
    diff = a - b
    close(x.grad, diff / np.linalg.norm(diff))
    close(y.grad, -(diff / np.linalg.norm(diff)).sum(axis=0))
    with pytest.raises(RuntimeError, match=r"dist\(\): input dtype should be either floating"):
        torch.dist(torch.tensor([1, 2]), torch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match=r"dist\(\): The size of tensor a"):
        torch.dist(torch.ones(2, 3), torch.zeros(4))


# ------------------------------------------------------------------------------- logsumexp

def test_logsumexp():
    for dim, keepdim in ((1, False), ((0, 2), True), (-1, False)):
        close(t(X).logsumexp(dim, keepdim),
              np.log(np.exp(X).sum(axis=dim, keepdims=keepdim)))
    big = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]]).logsumexp(1)
    close(big, [1000.0 + math.log(2.0), -1000.0 + math.log(2.0)], tol=1e-4)
    assert torch.tensor([-math.inf, -math.inf]).logsumexp(0).item() == -math.inf
    assert torch.zeros(0).logsumexp(0).item() == -math.inf
    ints = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert ints.logsumexp(1).dtype is torch.float32
    x = t([[-math.inf, 1.0], [0.5, 2.0]], requires_grad=True)
    y = torch.logsumexp(x, 1)
    assert y.grad_fn.name() == "LogsumexpBackward0"
    y.sum().backward()
    e = np.exp(x.detach().numpy())
    close(x.grad, e / e.sum(axis=1, keepdims=True))


# --------------------------------------------------------------------------- cumsum, cumprod

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_cumprod_match_numpy(dim):
    close(t(X).cumsum(dim), np.cumsum(X, axis=dim))
    close(torch.cumprod(t(X), dim), np.cumprod(X, axis=dim))


def test_scan_dtypes():
    ints = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int32)
    assert ints.cumsum(1).dtype is torch.int64 and ints.cumsum(1).tolist() == [[1, 3, 6],
                                                                                [4, 9, 15]]
    assert torch.tensor([True, True]).cumprod(0).dtype is torch.int64
    assert ints.cumsum(0, dtype=torch.float32).dtype is torch.float32
    assert torch.tensor(2.5).cumsum(0).item() == 2.5
    y = ints.clone()
    assert y.cumsum_(1) is y and y.dtype is torch.int32 and y.tolist() == [[1, 3, 6],
                                                                          [4, 9, 15]]
    assert repr(torch.tensor([[3.0, 1.0, 2.0, 2.0], [5.0, 5.0, 4.0, 6.0]]).cumsum(1)) == (
        "tensor([[ 3.,  4.,  6.,  8.],\n        [ 5., 10., 14., 20.]])")


def cumprod_grad_by_loop(a, w):
    """sum_k w_k d(cumprod_k)/dx_i, from the products written out."""
    grad = np.zeros_like(a)
    for i, k in itertools.product(range(a.size), range(a.size)):
        if k >= i:
            grad[i] += w[k] * np.prod(np.delete(a[:k + 1], i))
    return grad


@pytest.mark.parametrize("a", [[2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 1.5, 2.0],
                               [1.5, -2.0, 0.5, 3.0]])
def test_cumprod_gradient_with_zeros(a):
    a = np.array(a)
    w = np.arange(1.0, a.size + 1)
    x = t(a, requires_grad=True)
    y = x.cumprod(0)
    assert y.grad_fn.name() == "CumprodBackward0"
    y.backward(t(w))
    close(x.grad, cumprod_grad_by_loop(a, w))


def test_cumsum_gradient():
    x = t(X[:, :, 0], requires_grad=True)
    w = RNG.normal(size=(3, 4))
    y = x.cumsum(1)
    assert y.grad_fn.name() == "CumsumBackward0"
    y.backward(t(w))
    close(x.grad, np.cumsum(w[:, ::-1], axis=1)[:, ::-1])


# ------------------------------------------------------------------------------------ all, any

def test_all_any():
    a = np.array([[1.0, 0.0, 2.0], [3.0, 1.0, -1.0]])
    x = t(a)
    assert x.all().dtype is torch.bool and x.all().item() is False
    assert x.all(1).tolist() == np.all(a, axis=1).tolist()
    assert torch.any(x, 0, keepdim=True).tolist() == np.any(a, axis=0, keepdims=True).tolist()
    assert x.all(dim=(0, 1)).shape == () and x.any(-1).tolist() == [True, True]
    u = torch.tensor([1, 0, 2], dtype=torch.uint8)
    assert u.all().dtype is torch.uint8 and u.all().item() == 0 and u.any().item() == 1
    assert torch.zeros(0).all().item() is True and torch.zeros(0).any().item() is False
    assert torch.tensor([[True, False]]).any(1).tolist() == [True]
    assert repr(torch.tensor([1, 0], dtype=torch.uint8).any()) == \
        "tensor(1, dtype=torch.uint8)"


# --------------------------------------------------------------------- softmax, log_softmax

def softmax_ref(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return np.exp(shifted) / np.exp(shifted).sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    a = X[:, :, 0]
    close(t(a).softmax(dim), softmax_ref(a, dim))
    close(torch.softmax(t(a), dim), softmax_ref(a, dim))
    close(t(a).log_softmax(dim), np.log(softmax_ref(a, dim)))
    close(torch.log_softmax(t(a), dim=dim), np.log(softmax_ref(a, dim)))


def test_softmax_is_stable_and_typed():
    x = torch.tensor([[1000.0, 0.0], [-1000.0, -1000.0]])
    assert x.softmax(1).tolist() == [[1.0, 0.0], [0.5, 0.5]]
    close(x.log_softmax(1), [[0.0, -1000.0], [-math.log(2.0), -math.log(2.0)]], tol=1e-4)
    ints = torch.tensor([[1, 2, 3]])
    y = ints.softmax(1, dtype=torch.float64)
    assert y.dtype is torch.float64
    close(y, softmax_ref(np.array([[1.0, 2.0, 3.0]]), 1))
    assert torch.ones(2, dtype=torch.float16).softmax(0).dtype is torch.float16
    assert torch.tensor(2.0).softmax(0).item() == 1.0
    with pytest.raises(RuntimeError, match=r"softmax\(\): not implemented for 'Long'"):
        ints.softmax(1)


def test_softmax_gradients():
    a, w = X[:, :, 1], RNG.normal(size=(3, 4))
    x = t(a, requires_grad=True)
    y = x.softmax(1)
    assert y.grad_fn.name() == "SoftmaxBackward0"
    y.backward(t(w))
    s = softmax_ref(a, 1)
    close(x.grad, s * (w - (w * s).sum(axis=1, keepdims=True)))
    x = t(a, requires_grad=True)
    y = x.log_softmax(0)
    assert y.grad_fn.name() == "LogSoftmaxBackward0"
    y.backward(t(w))
    close(x.grad, w - softmax_ref(a, 0) * w.sum(axis=0, keepdims=True))


# ----------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call,kind,message", [
    (lambda: torch.zeros(0).amax(), RuntimeError,
     r"amax\(\): Expected reduction dim to be specified for input.numel\(\) == 0. Specify the "
     r"reduction dim with the 'dim' argument."),
    (lambda: torch.zeros(2, 0).amin(1), IndexError,
     r"amin\(\): Expected reduction dim 1 to have non-zero size."),
    (lambda: torch.zeros(0).max(), RuntimeError, r"max\(\): Expected reduction dim to be "),
    (lambda: torch.zeros(0).argmax(), IndexError,
     r"argmax\(\): Expected reduction dim to be specified for input.numel\(\) == 0.$"),
    (lambda: torch.zeros(2, 0).median(1), IndexError,
     r"median\(\): Expected reduction dim 1 to have non-zero size."),
    (lambda: torch.zeros(2, 0).mode(1), IndexError, r"mode\(\): Expected reduction dim 1"),
    (lambda: torch.ones(2, 3).amax(3), IndexError,
     r"amax\(\): Dimension out of range \(expected to be in range of \[-2, 1\], but got 3\)"),
    (lambda: torch.ones(2, 3).cumsum(-3), IndexError, r"cumsum\(\): Dimension out of range"),
    (lambda: torch.ones(2, 3).softmax(2), IndexError, r"softmax\(\): Dimension out of range"),
    (lambda: torch.ones(2, 3).logsumexp(2), IndexError, r"logsumexp\(\): Dimension out of"),
    (lambda: torch.ones(2, 3).all(2), IndexError, r"all\(\): Dimension out of range"),
    (lambda: torch.tensor(1.0).median(1), IndexError,
     r"median\(\): Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)"),
    (lambda: torch.ones(2, 3).prod((0, 1)), TypeError, r"prod\(\): argument 'dim' must be int"),
    (lambda: torch.tensor([True]).median(), RuntimeError,
     r"median\(\): not implemented for 'Bool'"),
])
def test_errors_name_the_op(call, kind, message):
    with pytest.raises(kind, match=message):
        call()


def test_empty_inputs_that_pytorch_accepts():
    e2 = torch.zeros(2, 0)
    assert e2.amax(0).shape == (0,) and e2.argmin(0).shape == (0,)
    assert e2.median(0).values.shape == (0,) and e2.mode(0).indices.dtype is torch.int64
    assert math.isnan(torch.zeros(0).std().item())
    assert e2.prod(1).tolist() == [1.0, 1.0] and e2.cumsum(1).shape == (2, 0)
    assert e2.softmax(1).shape == (2, 0) and e2.logsumexp(1).tolist() == [-math.inf] * 2


# ---------------------------------------------------------------------------------- tracing

def test_traced_reductions_match_numpy():
    def f(x):
        return x.max() + x.softmax(1).amax(1).sum() + x.cumprod(0).sum() + x.std()

    traced = torch.jit.trace(f, torch.tensor(X[:, :, 0]))
    ops = {n.op.name for n in traced.graph.nodes}
    assert {"max_all", "softmax", "amax", "cumprod", "std"} <= ops
    a = X[:, :, 1]
    expected = a.max() + softmax_ref(a, 1).max(axis=1).sum() + np.cumprod(a, axis=0).sum() + \
        np.std(a, ddof=1)
    close(traced(torch.tensor(a)), expected)
