"""Linear algebra: seed 002's table (`trace`, `diag`, `triu`/`tril`, `mm`, `bmm`, `t`, `dot`,
`cross`, `inverse`, `svd`) written with `import dualgraph as t`, `dg.linalg`, `einsum`, gradients,
printed forms (PyTorch 2.13's, hard-coded) and errors. Values are checked against NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dualgraph as t

RNG = np.random.default_rng(5)


def _np(x):
    return x.detach().numpy()


def _loop_trace(m: np.ndarray) -> float:
    return sum(m[i, i] for i in range(min(m.shape)))


# ------------------------------------------------------------------------------- seed 002 table

def test_seed002_linear_algebra_table_prints_as_pytorch():
    a = t.Tensor([[1, 2], [3, 4]])
    b = t.Tensor([[5, 6], [7, 8]])
    assert repr(a.trace()) == "tensor(5.)"
    assert repr(t.trace(b)) == "tensor(13.)"
    assert repr(a.diag()) == "tensor([1., 4.])"
    assert repr(t.diag(t.tensor([1., 2.]))) == "tensor([[1., 0.],\n        [0., 2.]])"
    assert repr(a.triu()) == "tensor([[1., 2.],\n        [0., 4.]])"
    assert repr(a.tril()) == "tensor([[1., 0.],\n        [3., 4.]])"
    assert repr(t.triu(b, 1)) == "tensor([[0., 6.],\n        [0., 0.]])"
    assert repr((b.mm(a), b.matmul(a))) == (
        "(tensor([[23., 34.],\n        [31., 46.]]), tensor([[23., 34.],\n        [31., 46.]]))")
    assert repr(a.t()) == "tensor([[1., 3.],\n        [2., 4.]])"
    assert repr(t.inverse(a)) == "tensor([[-2.0000,  1.0000],\n        [ 1.5000, -0.5000]])"
    assert repr(t.dot(t.tensor([2, 3]), t.tensor([2, 1]))) == "tensor(7)"
    assert repr(t.cross(t.tensor([1., 0, 0]), t.tensor([0., 1, 0]), dim=0)) == \
        "tensor([0., 0., 1.])"
    assert repr(t.bmm(t.arange(8.).reshape(2, 2, 2), t.ones(2, 2, 1))) == (
        "tensor([[[ 1.],\n         [ 5.]],\n\n        [[ 9.],\n         [13.]]])")


def test_svd_prints_a_named_tuple_as_pytorch():
    a = t.Tensor([[1, 2], [3, 4]])
    assert repr(a.svd()) == (
        "torch.return_types.svd(\n"
        "U=tensor([[-0.4046, -0.9145],\n        [-0.9145,  0.4046]]),\n"
        "S=tensor([5.4650, 0.3660]),\n"
        "V=tensor([[-0.5760,  0.8174],\n        [-0.8174, -0.5760]]))")
    assert repr(t.linalg.slogdet(t.Tensor([[5, 6], [7, 8]]))) == (
        "torch.return_types.linalg_slogdet(\nsign=tensor(-1.),\nlogabsdet=tensor(0.6931))")
    assert repr(t.linalg.svd(a).S) == "tensor([5.4650, 0.3660])"
    u, s, vh = t.linalg.svd(a)  # unpacks like a tuple
    assert type(t.linalg.svd(a)).__name__ == "linalg_svd" and vh.shape == (2, 2)


def test_grad_fn_names_follow_pytorch():
    a = t.tensor([[3., 1.], [1., 2.]], requires_grad=True)
    v = t.tensor([1., 2.], requires_grad=True)
    names = {
        "TraceBackward0": a.trace(), "TriuBackward0": a.triu(), "DotBackward0": v.dot(v),
        "MvBackward0": a.mv(v), "MulBackward0": t.outer(v, v), "DiagEmbedBackward0": t.diag(v),
        "DiagonalBackward0": a.diagonal(), "LinalgInvExBackward0": a.inverse(),
        "LinalgDetBackward0": a.det(), "LinalgSolveExBackward0": t.linalg.solve(a, v),
        "LinalgVectorNormBackward0": t.linalg.norm(a), "BmmBackward0": a[None].bmm(a[None]),
        "LinalgSvdBackward0": t.linalg.svd(a).S, "TransposeBackward0": t.svd(a).V,
        "VdotBackward0": t.vdot(v, v), "LinalgCrossBackward0": t.linalg.cross(
            t.tensor([1., 2., 3.], requires_grad=True), t.tensor([0., 1., 0.])),
    }
    for name, out in names.items():
        assert out.grad_fn.name() == name
    norms = {"nuc": "SumBackward1", 2: "AmaxBackward0", -2: "AminBackward0", 1: "AmaxBackward0",
             -math.inf: "AminBackward0", "fro": "LinalgVectorNormBackward0"}
    for ord, name in norms.items():
        assert t.linalg.norm(a, ord).grad_fn.name() == name


# ------------------------------------------------------------------------------ values vs NumPy

def test_products_match_numpy():
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 4, 5))
    np.testing.assert_allclose(_np(t.bmm(t.tensor(a), t.tensor(b))), a @ b, rtol=1e-6)
    v, w = RNG.normal(size=4), RNG.normal(size=4)
    assert math.isclose(t.dot(t.tensor(v), t.tensor(w)).item(), float(np.dot(v, w)),
                        rel_tol=1e-6)
    assert math.isclose(t.vdot(t.tensor(v), t.tensor(w)).item(), float(np.vdot(v, w)),
                        rel_tol=1e-6)
    np.testing.assert_allclose(_np(t.mv(t.tensor(a[0]), t.tensor(v))), a[0] @ v, rtol=1e-6)
    np.testing.assert_allclose(_np(t.outer(t.tensor(v), t.tensor(w[:3]))), np.outer(v, w[:3]))
    np.testing.assert_allclose(_np(t.ger(t.tensor(v), t.tensor(w))), np.outer(v, w))
    x, y = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2))
    np.testing.assert_allclose(_np(t.kron(t.tensor(x), t.tensor(y))), np.kron(x, y), rtol=1e-6)
    np.testing.assert_allclose(_np(t.kron(t.tensor(x), t.tensor(y[0]))), np.kron(x, y[0]))
    m = RNG.normal(size=(3, 3)) / 2
    for n in (0, 1, 2, 5, -2):
        np.testing.assert_allclose(_np(t.matrix_power(t.tensor(m), n)),
                                   np.linalg.matrix_power(m, n), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(_np(t.linalg.multi_dot([t.tensor(x), t.tensor(y), t.tensor(x)])),
                               x @ y @ x, rtol=1e-12)


def test_cross_matches_numpy():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(_np(t.linalg.cross(t.tensor(a), t.tensor(b))), np.cross(a, b),
                               rtol=1e-6)
    np.testing.assert_allclose(_np(t.cross(t.tensor(a.T), t.tensor(b.T))),  # first dim of size 3
                               np.cross(a, b).T, rtol=1e-6)
    assert t.cross(t.tensor([1, 0, 0]), t.tensor([0, 1, 0])).tolist() == [0, 0, 1]


def test_diagonals_and_triangles_match_numpy():
    m = RNG.normal(size=(3, 4))
    assert math.isclose(t.trace(t.tensor(m)).item(), _loop_trace(m), rel_tol=1e-12)
    assert t.tensor([[1, 2], [3, 4]]).trace().dtype is t.int64
    for k in (-1, 0, 2, 5):
        np.testing.assert_array_equal(_np(t.diag(t.tensor(m), k)), np.diag(m, k))
        np.testing.assert_array_equal(_np(t.triu(t.tensor(m), k)), np.triu(m, k))
        np.testing.assert_array_equal(_np(t.tril(t.tensor(m), k)), np.tril(m, k))
    np.testing.assert_array_equal(_np(t.diag(t.tensor(m[0]), -1)), np.diag(m[0], -1))
    x = np.arange(24.0).reshape(2, 3, 4)
    assert repr(t.diagonal(t.tensor(x), 1, 2, 0)) == \
        "tensor([[12.],\n        [16.],\n        [20.]], dtype=torch.float64)"
    np.testing.assert_array_equal(_np(t.diag_embed(t.tensor(m[:2, :2]))),
                                  np.stack([np.diag(r) for r in m[:2, :2]]))


def test_diagonal_is_a_writable_view_and_triu_in_place():
    x = t.zeros(3, 3)
    d = x.diagonal()
    d.copy_(t.tensor([1., 2., 3.]))
    assert x.tolist() == np.diag([1., 2., 3.]).tolist() and d._base is x
    y = t.tensor(np.arange(9.0).reshape(3, 3))
    assert y.triu_(1) is y and y.tolist() == np.triu(np.arange(9.0).reshape(3, 3), 1).tolist()
    y.tril_(-5)
    assert not y.numpy().any()


def test_inverse_det_and_slogdet_match_numpy():
    a = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    inv = _np(t.inverse(t.tensor(a)))
    np.testing.assert_allclose(inv @ a, np.broadcast_to(np.eye(3), a.shape), atol=1e-12)
    np.testing.assert_allclose(_np(t.linalg.inv(t.tensor(a))), inv)
    eig_det = np.prod(np.linalg.eigvals(a), axis=-1).real  # independent of LU
    np.testing.assert_allclose(_np(t.det(t.tensor(a))), eig_det, rtol=1e-10)
    np.testing.assert_allclose(_np(t.linalg.det(t.tensor(a))), eig_det, rtol=1e-10)
    sign, logabs = t.slogdet(t.tensor(a))
    np.testing.assert_allclose(_np(sign) * np.exp(_np(logabs)), eig_det, rtol=1e-10)
    assert math.isclose(t.logdet(t.tensor(a[0])).item(), math.log(eig_det[0]), rel_tol=1e-10)
    assert t.det(t.ones(2, 2)).item() == 0.0


def test_svd_matches_numpy_and_reconstructs():
    a = RNG.normal(size=(4, 3))
    u, s, v = t.svd(t.tensor(a))
    assert (u.shape, s.shape, v.shape) == ((4, 3), (3,), (3, 3))
    np.testing.assert_allclose(_np(s), np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(_np(u) * _np(s) @ _np(v).T, a, atol=1e-12)
    u, s, vh = t.linalg.svd(t.tensor(a))
    assert (u.shape, vh.shape) == ((4, 4), (3, 3))
    np.testing.assert_allclose(_np(u).T @ _np(u), np.eye(4), atol=1e-12)
    u, s, v = t.svd(t.tensor(a), some=False)
    assert u.shape == (4, 4)
    u, s, v = t.svd(t.tensor(a), compute_uv=False)
    assert not u.numpy().any() and u.shape == (4, 4) and v.shape == (3, 3)
    np.testing.assert_allclose(_np(t.linalg.svdvals(t.tensor(a))), _np(s))


def test_solve_matches_numpy():
    a = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    b = RNG.normal(size=(2, 3, 2))
    np.testing.assert_allclose(_np(t.linalg.solve(t.tensor(a), t.tensor(b))),
                               np.linalg.solve(a, b), rtol=1e-10)
    vecs = RNG.normal(size=(2, 3))  # a batch of vectors: B has A's shape minus the last dim
    np.testing.assert_allclose(_np(t.linalg.solve(t.tensor(a), t.tensor(vecs))),
                               np.linalg.solve(a, vecs[..., None])[..., 0], rtol=1e-10)
    right = t.linalg.solve(t.tensor(a[0]), t.tensor(b[0].T), left=False)  # X A = B
    np.testing.assert_allclose(_np(right) @ a[0], b[0].T, atol=1e-12)
    assert repr(t.linalg.solve(t.Tensor([[5, 6], [7, 8]]), t.tensor([1., 2.]))) == \
        "tensor([ 2.0000, -1.5000])"


@pytest.mark.parametrize("ord", [None, "fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2])
def test_matrix_norms_match_numpy(ord):
    a = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(t.linalg.norm(t.tensor(a), ord).item(), np.linalg.norm(a, ord),
                               rtol=1e-10)
    batch = RNG.normal(size=(2, 3, 3))
    got = t.linalg.matrix_norm(t.tensor(batch), "fro" if ord is None else ord, dim=(2, 0),
                               keepdim=True)
    want = np.linalg.norm(np.moveaxis(batch, (2, 0), (0, 1)), "fro" if ord is None else ord,
                          axis=(0, 1))
    assert got.shape == (1, 3, 1)
    np.testing.assert_allclose(_np(got).reshape(-1), want, rtol=1e-10)


@pytest.mark.parametrize("ord", [2, 1, 3, 0, 0.5, math.inf, -math.inf])
def test_vector_norms_match_numpy(ord):
    x = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(_np(t.linalg.vector_norm(t.tensor(x), ord, dim=1)),
                               np.linalg.norm(x, ord, axis=1), rtol=1e-10)
    np.testing.assert_allclose(t.linalg.vector_norm(t.tensor(x), ord).item(),
                               np.linalg.norm(x.reshape(-1), ord), rtol=1e-10)
    np.testing.assert_allclose(_np(t.linalg.norm(t.tensor(x), ord, dim=0, keepdim=True)),
                               np.linalg.norm(x, ord, axis=0, keepdims=True), rtol=1e-10)


def test_norm_dtype_and_printing():
    b = t.Tensor([[5, 6], [7, 8]])
    assert repr(t.linalg.norm(b)) == "tensor(13.1909)"
    assert repr(t.linalg.norm(b, "nuc")) == "tensor(13.3417)"
    assert repr(t.linalg.norm(b, -2)) == "tensor(0.1516)"
    assert repr(t.linalg.vector_norm(t.tensor([3., 4.]), dtype=t.float64)) == \
        "tensor(5., dtype=torch.float64)"
    assert t.linalg.vector_norm(t.tensor([0., 2., 0., 3.]), 0).item() == 2.0
    assert t.linalg.vector_norm(t.ones(2, 3), dim=()).item() == pytest.approx(math.sqrt(6))


# ------------------------------------------------------------------------------------- einsum

def test_einsum_matches_numpy():
    a, b, c = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    cases = [("ij,jk->ik", (a, b)), ("ij,jk,kl->il", (a, b, c)), ("ij->ji", (a,)), ("ij", (a,)),
             ("ba,cb", (c, b)), ("i,j->ij", (a[0], b[0])), ("ij->", (a,))]
    for eq, ops in cases:
        np.testing.assert_allclose(_np(t.einsum(eq, *map(t.tensor, ops))), np.einsum(eq, *ops),
                                   rtol=1e-10, err_msg=eq)
    sq = RNG.normal(size=(3, 3))
    assert t.einsum("ii", t.tensor(sq)).item() == pytest.approx(_loop_trace(sq))
    np.testing.assert_allclose(_np(t.einsum("ii->i", [t.tensor(sq)])), np.diag(sq))
    x, y = RNG.normal(size=(2, 1, 3)), RNG.normal(size=(4, 3))
    got = t.einsum("...j,...j->...", t.tensor(x), t.tensor(y))  # ellipses broadcast
    np.testing.assert_allclose(_np(got), (x * y).sum(-1), rtol=1e-10)
    assert t.einsum("...ba", t.ones(5, 2, 3)).shape == (5, 3, 2)
    assert t.einsum(" i j , j k -> i k ", t.tensor(a), t.tensor(b)).shape == (2, 4)


def test_einsum_gradients_match_numpy():
    a = t.tensor(RNG.normal(size=(3, 3)), requires_grad=True)
    b = t.tensor(RNG.normal(size=(3, 2)), requires_grad=True)
    t.einsum("ii,ij->j", a, b).sum().backward()
    bn = _np(b)
    np.testing.assert_allclose(_np(a.grad), np.diag(bn.sum(1)), rtol=1e-12)
    np.testing.assert_allclose(_np(b.grad), np.repeat(np.diag(_np(a))[:, None], 2, axis=1))
    x = t.tensor(RNG.normal(size=(2, 3)), requires_grad=True)
    t.einsum("...i,i->...", x, t.ones(3, dtype=t.float64)).sum().backward()
    assert x.grad.tolist() == np.ones((2, 3)).tolist()
    assert t.autograd.gradcheck(lambda p, q: t.einsum("bij,jk->bk", p, q),
                                (t.tensor(RNG.normal(size=(2, 2, 3)), requires_grad=True),
                                 t.tensor(RNG.normal(size=(3, 2)), requires_grad=True)))


# ---------------------------------------------------------------------------------- gradients

def test_trace_det_inverse_gradients():
    m = RNG.normal(size=(3, 3)) + 3 * np.eye(3)
    a = t.tensor(m, requires_grad=True)
    a.trace().backward()
    assert a.grad.tolist() == np.eye(3).tolist()
    a.grad = None
    t.det(a).backward()
    np.testing.assert_allclose(_np(a.grad), np.linalg.det(m) * np.linalg.inv(m).T, rtol=1e-10)
    a.grad = None
    t.inverse(a).sum().backward()
    inv = np.linalg.inv(m)
    np.testing.assert_allclose(_np(a.grad), -(inv.T @ np.ones((3, 3)) @ inv.T), rtol=1e-10)
    a.grad = None
    t.diag(a, 1).sum().backward()
    assert a.grad.tolist() == np.eye(3, k=1).tolist()


def test_in_place_through_views_and_double_backward():
    x = t.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    y = x.clone()
    y.diagonal().mul_(t.tensor([1., 2., 3.], dtype=t.float64))
    assert y.grad_fn.name() == "CopySlices"
    (y * t.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
    assert x.grad.tolist() == [[0., 1., 2.], [3., 8., 5.], [6., 7., 24.]]
    z = x * 1
    z.triu_(1)
    assert z.grad_fn.name() == "TriuBackward0"
    x.grad = None
    z.sum().backward()
    assert x.grad.tolist() == np.triu(np.ones((3, 3)), 1).tolist()
    a = t.tensor([[2., 1.], [0.5, 3.]], dtype=t.float64, requires_grad=True)
    g, = t.autograd.grad(t.det(a), a, create_graph=True)  # d det / dA = adj(A)^T
    g.sum().backward()
    np.testing.assert_allclose(_np(a.grad), [[1., -1.], [-1., 1.]], atol=1e-12)


def test_out_arguments():
    out = t.empty(0)
    assert t.triu(t.ones(2, 2), out=out) is out and out.tolist() == [[1., 1.], [0., 1.]]
    assert t.linalg.inv(t.tensor([[2., 0.], [0., 4.]]), out=out).tolist() == [[0.5, 0.], [0., 0.25]]
    t.linalg.vector_norm(t.tensor([3., 4.]), out=out)
    assert out.item() == 5.0


def test_singular_value_gradient_is_u_v_transpose():
    m = np.array([[2.0, 1.0], [0.0, 1.0], [1.0, 3.0]])
    a = t.tensor(m, requires_grad=True)
    s = t.linalg.svdvals(a)
    s[0].backward()
    u, _, vh = np.linalg.svd(m)
    np.testing.assert_allclose(_np(a.grad), np.outer(u[:, 0], vh[0]), rtol=1e-10)


def test_svd_gradients_match_pytorch():
    """Sign-independent losses of U and V; the numbers are what PyTorch 2.13 computes."""
    a = t.tensor([[2., 1., 0.5], [0., 1., 1.]], dtype=t.float64, requires_grad=True)
    w = t.tensor([[1., -2., 3.], [0.5, 1., -1.]], dtype=t.float64)
    u, s, vh = t.linalg.svd(a, full_matrices=False)
    ((u @ vh) * w).sum().backward()
    np.testing.assert_allclose(_np(a.grad), [[0.34352786715754974, -1.3541267237463974,
                                              1.302119956367216],
                                             [-0.2342643188120129, 1.094440847498716,
                                              -1.0784298362510256]], rtol=1e-10)
    c = t.tensor([[2., 1.], [0., 1.], [1., 3.], [1., -1.]], dtype=t.float64, requires_grad=True)
    u, s, v = t.svd(c)
    loss = ((u[:, :1] @ v[:, :1].mT) * t.arange(8.).reshape(4, 2)).sum() + s.pow(3).sum()
    loss.backward()
    np.testing.assert_allclose(_np(c.grad), [[16.65738266666788, 14.074673170862127],
                                             [2.5478455517021303, 10.475645022167438],
                                             [14.32413947391187, 32.478117663494864],
                                             [6.163942705637776, -5.362091548106029]],
                               rtol=1e-10)


def test_solve_and_norm_gradients():
    m = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    assert t.autograd.gradcheck(lambda a, b: t.linalg.solve(a, b),
                                (t.tensor(m, requires_grad=True),
                                 t.tensor(RNG.normal(size=(3, 1)), requires_grad=True)))
    assert t.autograd.gradcheck(lambda a: t.linalg.norm(a, "nuc"),
                                (t.tensor(m[0], requires_grad=True),))
    x = t.tensor([[3., -4.], [0., 0.]], dtype=t.float64, requires_grad=True)
    t.linalg.vector_norm(x, dim=1).sum().backward()  # a zero row has a zero gradient
    assert x.grad.tolist() == [[0.6, -0.8], [0.0, 0.0]]


# ------------------------------------------------------------------------------------- errors

def test_shape_errors_name_the_op_and_both_shapes():
    with pytest.raises(RuntimeError, match=r"bmm\(\): Expected size for first two dimensions of "
                                           r"batch2 tensor to be: \[2, 4\] but got: \[2, 5\]"):
        t.bmm(t.ones(2, 3, 4), t.ones(2, 5, 3))
    with pytest.raises(RuntimeError, match=r"bmm\(\): batch1 must be a 3D tensor"):
        t.bmm(t.ones(3, 4), t.ones(4, 3))
    with pytest.raises(RuntimeError, match=r"dot\(\): inconsistent tensor size, expected tensor "
                                           r"\[3\] and src \[4\]"):
        t.dot(t.ones(3), t.ones(4))
    with pytest.raises(RuntimeError, match=r"dot\(\): 1D tensors expected, but got 2D and 2D"):
        t.dot(t.ones(2, 3), t.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"mv\(\): size mismatch, got input \(2\), mat \(2x3\), "
                                           r"vec \(4\)"):
        t.mv(t.ones(2, 3), t.ones(4))
    with pytest.raises(RuntimeError, match=r"mm|matmul"):
        t.ones(2, 3).mm(t.ones(4, 5))
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the "
                                           r"equation AX = B \(2x2 and 3x1\)"):
        t.linalg.solve(t.eye(2) if hasattr(t, "eye") else t.ones(2, 2), t.ones(3))
    with pytest.raises(RuntimeError, match=r"linalg.inv: A must be batches of square matrices, "
                                           r"but they are 2 by 3 matrices"):
        t.inverse(t.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"trace\(\): expected a matrix, but got tensor with "
                                           r"dim 3"):
        t.ones(2, 2, 2).trace()
    with pytest.raises(RuntimeError, match=r"diag\(\): Supports 1D or 2D tensors. Got 3D"):
        t.diag(t.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match=r"triu\(\): input tensor must have at least 2 dim"):
        t.triu(t.ones(3))
    with pytest.raises(RuntimeError, match=r"linalg.cross: inputs dimension -1 must have length 3"
                                           r". Got 4 and 4"):
        t.linalg.cross(t.ones(2, 4), t.ones(2, 4))


def test_checks_that_kernels_alone_would_miss():
    """NumPy would accept these (np.dot of matrices, np.triu of a vector, a 2-vector cross)."""
    with pytest.raises(RuntimeError, match=r"vdot\(\): 1D tensors expected, but got 2D and 2D"):
        t.vdot(t.ones(2, 2), t.ones(2, 2))
    v = t.ones(3)
    with pytest.raises(RuntimeError, match=r"triu\(\): input tensor must have at least 2 dim"):
        v.triu_()
    assert v.tolist() == [1., 1., 1.]
    with pytest.raises(RuntimeError, match=r"linalg.cross: inputs dimension -1 must have length 3"):
        t.linalg.cross(t.ones(2, 2), t.ones(2, 2))
    with pytest.raises(IndexError, match=r"diag_embed\(\): Dimension out of range \(expected to "
                                         r"be in range of \[-2, 1\], but got 2\)"):
        t.diag_embed(t.ones(2), 0, 0, 2)
    with pytest.raises(RuntimeError, match=r"diagonal\(\): diagonal dimensions cannot be "
                                           r"identical 1, 1"):
        t.diagonal(t.ones(3, 3), 0, 1, 1)
    with pytest.raises(RuntimeError, match="linalg.inv: The input tensor A must have at least 2"):
        t.inverse(t.ones(3))


def test_singular_matrices_raise_linalg_errors():
    with pytest.raises(RuntimeError, match="linalg.inv: The diagonal element 2 is zero, the "
                                           "inversion could not be completed because the input "
                                           "matrix is singular."):
        t.inverse(t.ones(2, 2))
    batch = t.tensor(np.stack([np.eye(2), np.zeros((2, 2))]))
    with pytest.raises(t.linalg.LinAlgError, match=r"\(Batch element 1\): The diagonal element 1 "
                                                   "is zero"):
        t.linalg.inv(batch)
    with pytest.raises(RuntimeError, match="torch.linalg.solve: The solver failed because the "
                                           "input matrix is singular."):
        t.linalg.solve(t.ones(2, 2), t.ones(2))


def test_dtype_errors():
    with pytest.raises(RuntimeError, match="linalg.inv: Expected a floating point or complex "
                                           "tensor as input. Got Long"):
        t.inverse(t.tensor([[1, 2], [3, 4]]))
    with pytest.raises(RuntimeError, match="dot\\(\\): expected both vectors to have same dtype, "
                                           "but found Float and Double"):
        t.dot(t.ones(3), t.ones(3, dtype=t.float64))
    with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point or "
                                           "complex tensor as input. Got Long"):
        t.linalg.norm(t.tensor([3, 4]))
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order 3 not supported."):
        t.linalg.norm(t.ones(3, 3), 3)
    with pytest.raises(RuntimeError, match="linalg.norm: If dim is not specified but ord is, the "
                                           "input must be 1D or 2D. Got 3D."):
        t.linalg.norm(t.ones(2, 2, 2), 2)


def test_einsum_errors():
    with pytest.raises(RuntimeError, match=r"einsum\(\): subscript j has size 4 for operand 1 "
                                           "which does not broadcast with previously seen size 3"):
        t.einsum("ij,jk->ik", t.ones(2, 3), t.ones(4, 5))
    with pytest.raises(RuntimeError, match="fewer operands were provided"):
        t.einsum("ij,jk->ik", t.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"the number of subscripts in the equation \(3\) does "
                                           r"not match the number of dimensions \(2\)"):
        t.einsum("ijk->i", t.ones(2, 3))
    with pytest.raises(RuntimeError, match="output subscript k does not appear"):
        t.einsum("ij->k", t.ones(2, 3))
    with pytest.raises(RuntimeError, match="output subscript i appears more than once"):
        t.einsum("ij->ii", t.ones(2, 3))
    with pytest.raises(RuntimeError, match="invalid subscript given at index 1"):
        t.einsum("i1->i", t.ones(2, 3))


# ---------------------------------------------------------------------------------- captured

def test_traced_linear_algebra_matches_eager():
    def f(a, b):
        u, s, vh = t.linalg.svd(a, full_matrices=False)
        x = t.linalg.solve(a.mT @ a + t.diag_embed(s), b)
        return t.einsum("ij,j->i", u, s) + x.sum() + a.triu(1).trace() + t.inverse(a.mT @ a).det()

    a = t.tensor(RNG.normal(size=(4, 3)).astype(np.float32))
    b = t.tensor(RNG.normal(size=3).astype(np.float32))
    traced = t.jit.trace(f, (a, b))
    ops = {n.op.name for n in traced.graph.nodes}
    assert {"linalg_svd", "linalg_solve", "einsum", "triu", "trace", "linalg_det"} <= ops
    np.testing.assert_allclose(_np(traced(a, b)), _np(f(a, b)), rtol=1e-5)
