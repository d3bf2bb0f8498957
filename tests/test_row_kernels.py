"""Row kernels (dualgraph/runtime/row_kernels.py): softmax, log_softmax, logsumexp and layer norm on the CPU
run one generated loop per row, built from each op's `Rows` record. Checked against float64
NumPy formulas (PyTorch's definitions) over shapes, dims, dtypes and non-finite rows, in eager
mode, traced and with gradients; inputs the loop does not cover take the NumPy kernel."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.nn.functional as F
from dualgraph.runtime import row_kernels
from dualgraph.runtime.kernel_cache import load_module
from dualgraph.ir.registry import RowStep, Rows, get

SHAPES = [((4, 300), -1), ((4, 300), 0), ((3, 4, 5), 1), ((7,), 0), ((2, 3, 70000 // 6), -1)]


def _ref(name: str, x: np.ndarray, dim: int, keepdim: bool = False) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(dim, keepdims=True)
    k = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(all="ignore"):
        s = np.exp(x - k).sum(dim, keepdims=True)
        if name == "softmax":
            return np.exp(x - k) / s
        if name == "log_softmax":
            return x - k - np.log(s)
        out = k + np.log(s)
    return out if keepdim else out.squeeze(dim)


def _call(name: str, t: dg.Tensor, dim: int, keepdim: bool = False) -> dg.Tensor:
    if name == "logsumexp":
        return dg.logsumexp(t, dim, keepdim=keepdim)
    return getattr(F, name)(t, dim=dim)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shape,dim", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_ops_match_the_float64_formula(name, shape, dim, dtype):
    x = (np.random.default_rng(1).standard_normal(shape) * 4).astype(dtype)
    got = _call(name, dg.from_numpy(x), dim).numpy()
    expected = _ref(name, x, dim)
    assert got.dtype == dtype and got.shape == expected.shape
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def test_the_generated_loop_is_what_runs():
    """The NumPy kernels' five passes are not what computes a contiguous float row op."""
    x = np.random.default_rng(2).standard_normal((8, 33)).astype(np.float32)
    row_kernels._KERNELS.clear()
    F.softmax(dg.from_numpy(x), dim=1)
    built = [m for k, m in row_kernels._KERNELS.items() if k[:2] == ("softmax", "float32")]
    assert built and all(built)


def test_non_finite_rows_follow_pytorch():
    inf, nan = float("inf"), float("nan")
    x = dg.tensor([[-inf, -inf, -inf], [1.0, nan, 2.0], [inf, 1.0, 0.0], [-inf, 0.0, 1.0]])
    sm = F.softmax(x, dim=1).numpy()
    assert np.isnan(sm[:3]).all()  # PyTorch: nan where a row has no finite max, a NaN or an inf
    np.testing.assert_allclose(sm[3], [0.0, 1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-6)
    lse = dg.logsumexp(x, 1).numpy()
    assert lse[0] == -inf and np.isnan(lse[1]) and lse[2] == inf
    np.testing.assert_allclose(lse[3], np.log(1 + np.e), rtol=1e-6)
    ls = F.log_softmax(x, dim=1).numpy()
    assert np.isnan(ls[:3]).all() and ls[3, 0] == -inf


def test_keepdim_and_tuple_dim():
    x = np.random.default_rng(3).standard_normal((3, 5, 4)).astype(np.float32)
    got = dg.logsumexp(dg.from_numpy(x), (1,), keepdim=True).numpy()
    np.testing.assert_allclose(got, _ref("logsumexp", x, 1, keepdim=True), rtol=2e-6)
    assert got.shape == (3, 1, 4)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_inputs_the_loop_does_not_cover_take_numpy(name):
    """A transposed view, an integer input with dtype=, and an empty row: same answers."""
    base = np.random.default_rng(4).standard_normal((6, 5)).astype(np.float32)
    view = dg.from_numpy(base.copy()).t()
    np.testing.assert_allclose(getattr(F, name)(view, dim=1).numpy(),
                               _ref(name, base.T, 1), rtol=2e-6, atol=2e-7)
    ints = dg.tensor([[1, 2, 3]])
    got = getattr(F, name)(ints, dim=1, dtype=dg.float64).numpy()
    np.testing.assert_allclose(got, _ref(name, np.array([[1.0, 2.0, 3.0]]), 1), rtol=1e-13)
    assert getattr(F, name)(dg.zeros(2, 0), dim=1).shape == (2, 0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_traced_and_gradients_agree_with_eager(name):
    x = np.random.default_rng(5).standard_normal((6, 40)).astype(np.float64)
    w = np.random.default_rng(6).standard_normal(_ref(name, x, -1).shape)

    def fn(t):
        return (_call(name, t, -1) * dg.from_numpy(w)).sum()

    eager_x = dg.from_numpy(x.copy()).requires_grad_()
    fn(eager_x).backward()
    traced = dg.jit.trace(fn, (dg.from_numpy(x),))
    tx = dg.from_numpy(x.copy()).requires_grad_()
    traced(tx).backward()
    np.testing.assert_allclose(tx.grad.numpy(), eager_x.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert dg.autograd.gradcheck(lambda t: _call(name, t, -1),
                                 (dg.from_numpy(x[:2, :5].copy()).requires_grad_(),))


def test_the_generator_reads_the_record_not_the_op():
    """A `Rows` record of no registered op (a NaN-propagating row max plus a mean) compiles to a
    working loop: the generator names no op."""
    rows = Rows((RowStep("m", "max", "x"), RowStep("s", "sum", "x"),
                 RowStep("c", "row", "m + s"),), "c", per_row=True)
    module = load_module(row_kernels.row_kernel_source(rows, "float64", "test max plus sum"))
    x = np.random.default_rng(7).standard_normal((5, 9, 3))
    x[2, 4, 1] = np.nan
    out = np.empty((5, 3))
    module.serial(x, out)
    expected = x.max(1) + x.sum(1)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out[~np.isnan(out)], expected[~np.isnan(expected)], rtol=1e-12)
    par = np.empty((5, 3))
    module.parallel(x, par)
    np.testing.assert_array_equal(par, out)


def test_every_row_wise_op_has_a_record():
    from dualgraph.runtime.kernels.statistics import ROW_WISE
    for name in ROW_WISE:
        assert isinstance(get(name).rows, Rows), name


@pytest.mark.parametrize("shape", [(4, 300), (3, 4, 5), (7,), (2, 3, 70000 // 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [1e-5, 0.25])
def test_layer_norm_matches_the_float64_formula(shape, dtype, eps):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w, b = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    got = F.layer_norm(dg.from_numpy(x), (shape[-1],), dg.from_numpy(w.astype(dtype)),
                       dg.from_numpy(b.astype(dtype)), eps=eps).numpy()
    xx = x.astype(np.float64)
    centered = xx - xx.mean(-1, keepdims=True)
    expected = centered / np.sqrt((centered ** 2).mean(-1, keepdims=True) + eps) * w + b
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def test_layer_norm_of_a_constant_row_is_zero_and_gradients_match_eager_composite():
    assert F.layer_norm(dg.full((2, 4), 3.0), (4,)).tolist() == [[0.0] * 4] * 2
    x = np.random.default_rng(9).standard_normal((5, 6))
    t = dg.from_numpy(x.copy()).requires_grad_()
    w = np.random.default_rng(10).standard_normal((5, 6))
    (F.layer_norm(t, (6,)) * dg.from_numpy(w)).sum().backward()
    # the same normalization spelled out in ops (PyTorch's formula)
    r = dg.from_numpy(x.copy()).requires_grad_()
    mean = r.mean(-1, keepdim=True)
    var = ((r - mean) ** 2).mean(-1, keepdim=True)
    (((r - mean) / (var + 1e-5).sqrt()) * dg.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), rtol=1e-10, atol=1e-12)
    traced = dg.jit.trace(lambda a: F.layer_norm(a, (6,)), (dg.from_numpy(x),))
    assert "layer_norm" in str(traced.graph)
    np.testing.assert_allclose(traced(dg.from_numpy(x)).numpy(),
                               F.layer_norm(dg.from_numpy(x), (6,)).numpy(), rtol=1e-13)


# ------------------------------------------- compiled graphs: a row op and its consumers fused

def _fused_kernels(traced) -> list:
    return [n.attrs["kernel"] for n in traced.graph.all_nodes() if n.op.name == "fused"]


FUSED_CASES = {
    "layer norm affine relu": ((64, 96), lambda t, w, b: F.layer_norm(t, (96,), w, b).relu(),
                               "layer_norm, mul, add, relu"),
    "softmax scaled": ((64, 96), lambda t, w, b: F.softmax(t, dim=-1) * w + 0.5,
                       "softmax, mul, add"),
    "log_softmax dim 0": ((96, 64), lambda t, w, b: F.log_softmax(t, dim=0) * 2 - t,
                          "log_softmax, mul, sub"),
    "softmax 3-d middle dim": ((4, 96, 5), lambda t, w, b: F.softmax(t, dim=1).sqrt() * t,
                               "softmax, sqrt, mul"),
}


@pytest.mark.parametrize("name", FUSED_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_op_and_consumers_fuse_and_match_eager(name, dtype):
    shape, fn, kernel = FUSED_CASES[name]
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(dtype)
    w = dg.from_numpy(rng.standard_normal(96).astype(dtype))
    b = dg.from_numpy(rng.standard_normal(96).astype(dtype))
    traced = dg.jit.trace(lambda t: fn(t, w, b), (dg.from_numpy(x),))
    assert _fused_kernels(traced) == [kernel]
    expected = fn(dg.from_numpy(x.astype(np.float64)), w.double(), b.double()).numpy()
    tol = 3e-5 if dtype == np.float32 else 1e-12
    got = traced(dg.from_numpy(x)).numpy()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def test_a_fused_row_group_writes_every_value_read_outside():
    x = np.random.default_rng(12).standard_normal((32, 40))

    def fn(t):
        p = F.softmax(t, dim=-1)
        return p * 3, p.sum()  # p itself is read by the sum

    traced = dg.jit.trace(fn, (dg.from_numpy(x),))
    (a, s), (ea, es) = traced(dg.from_numpy(x)), fn(dg.from_numpy(x))
    np.testing.assert_allclose(a.numpy(), ea.numpy(), rtol=1e-12)
    np.testing.assert_allclose(s.item(), es.item(), rtol=1e-12)


def test_a_weight_along_another_dim_falls_back_to_numpy_and_is_right():
    """softmax over dim 0 times a vector along the last dim: the row loop cannot read it, so
    the fused node runs its body's NumPy code."""
    x = np.random.default_rng(13).standard_normal((30, 20))
    w = dg.from_numpy(np.random.default_rng(14).standard_normal(20))
    fn = lambda t: F.softmax(t, dim=0) * w  # noqa: E731
    traced = dg.jit.trace(fn, (dg.from_numpy(x),))
    np.testing.assert_allclose(traced(dg.from_numpy(x)).numpy(), fn(dg.from_numpy(x)).numpy(),
                               rtol=1e-12)


def test_fused_row_groups_train_with_eager_gradients():
    rng = np.random.default_rng(15)
    x, w = rng.standard_normal((16, 24)), rng.standard_normal(24)

    def fn(t, weight):
        return (F.gelu(F.layer_norm(t, (24,), weight)) * F.softmax(t, dim=-1)).sum()

    traced = dg.jit.trace(fn, (dg.from_numpy(x), dg.from_numpy(w)))
    assert len(_fused_kernels(traced)) >= 1
    grads = []
    for run in (traced, fn):
        tx = dg.from_numpy(x.copy()).requires_grad_()
        tw = dg.from_numpy(w.copy()).requires_grad_()
        run(tx, tw).backward()
        grads.append((tx.grad.numpy(), tw.grad.numpy()))
    for got, expected in zip(*grads):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_a_kernel_numba_cannot_compile_falls_back_to_numpy_once(monkeypatch):
    from types import SimpleNamespace

    from numba.core.errors import TypingError

    def refuse(*args):
        raise TypingError("refused for the test")

    broken = SimpleNamespace(serial=refuse, parallel=refuse, title="softmax float32")
    monkeypatch.setattr(row_kernels, "_KERNELS", {})
    monkeypatch.setattr(row_kernels, "_module", lambda *a: broken)
    x = np.random.default_rng(16).standard_normal((3, 7)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="softmax float32 did not compile"):
        got = F.softmax(dg.from_numpy(x), dim=1).numpy()
    np.testing.assert_allclose(got, _ref("softmax", x, 1), rtol=2e-6)
