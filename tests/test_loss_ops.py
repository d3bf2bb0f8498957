"""Losses that are registry ops of their own: PyTorch's numbers and node names (captured once
from PyTorch 2.13), and the compiled form equal to eager. The op conformance test runs their
samples through every mode."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg

F = dg.nn.functional


def test_mse_loss_matches_pytorch_with_a_broadcast_target():
    x = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    t = dg.tensor([0.5, -1.0])
    with pytest.warns(UserWarning, match="different to the input size"):  # as PyTorch warns
        loss = F.mse_loss(x, t)
    assert type(loss.grad_fn).__name__ == "MseLossBackward0"
    loss.backward()
    assert loss.item() == pytest.approx(10.125)
    np.testing.assert_allclose(x.grad.numpy(), [[0.25, 1.5], [1.25, 2.5]], rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_reductions_and_module(reduction):
    x, t = dg.randn(4, 3), dg.randn(4, 3)
    want = (x.numpy().astype(np.float64) - t.numpy()) ** 2
    want = want.mean() if reduction == "mean" else want.sum() if reduction == "sum" else want
    np.testing.assert_allclose(dg.nn.MSELoss(reduction=reduction)(x, t).numpy(), want, rtol=1e-6)


def test_weighted_mse_keeps_its_composition():
    x, t, w = dg.randn(3, requires_grad=True), dg.randn(3), dg.rand(3)
    loss = F.mse_loss(x, t, weight=w)
    np.testing.assert_allclose(loss.item(), float(((x.detach().numpy() - t.numpy()) ** 2
                                                   * w.numpy()).mean()), rtol=1e-6)


def test_errors_are_pytorchs():
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.mse_loss(dg.ones(2), dg.ones(2), reduction="avg")
    with pytest.raises(NotImplementedError, match="\"mse_cpu\" not implemented for 'Long'"):
        F.mse_loss(dg.ones(2, dtype=dg.int64), dg.ones(2, dtype=dg.int64))


def test_traced_mse_is_one_node_and_trains_like_eager():
    class Step(dg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = dg.nn.Linear(3, 1)

        def forward(self, x, y):
            return F.mse_loss(self.fc(x), y)

    m = step = Step()
    x, y = dg.randn(5, 3), dg.randn(5, 1)
    traced = dg.jit.trace(step, (x, y), dynamic_dims={0: "B"})
    assert traced.graph.op_counts()["mse_loss"] == 1
    for batch in (5, 8):
        xb, yb = dg.randn(batch, 3), dg.randn(batch, 1)
        traced(xb, yb).backward()
        grads = [p.grad.numpy().copy() for p in m.parameters()]
        m.zero_grad()
        step(xb, yb).backward()
        for g, p in zip(grads, m.parameters()):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-6)
        m.zero_grad()


def test_embedding_is_one_op_with_pytorchs_gradient_conventions():
    """F.embedding: the padding row's value is read but gets no gradient; scale_grad_by_freq
    divides each row's gradient by its index's count (PyTorch's documented behaviour); the node
    is EmbeddingBackward0; a bad index is PyTorch's IndexError."""
    import dualgraph.nn.functional as F
    w = dg.randn(5, 3, requires_grad=True)
    idx = dg.tensor([[0, 1, 1], [4, 1, 2]])
    y = F.embedding(idx, w, padding_idx=1)
    np.testing.assert_array_equal(y.detach().numpy(), w.detach().numpy()[idx.numpy()])
    assert y.grad_fn.name() == "EmbeddingBackward0"
    (y * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [2, 0, 2, 0, 2])
    w.grad = None
    F.embedding(idx, w, scale_grad_by_freq=True).sum().backward()
    counts = np.bincount(idx.numpy().ravel(), minlength=5)
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], np.where(counts, counts / np.maximum(
        counts, 1), 0))
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(dg.tensor([5]), w)
    traced = dg.jit.trace(lambda i, weight: F.embedding(i, weight, padding_idx=1).sum(),
                          (idx, w.detach()))
    assert "embedding(" in str(traced.graph)


# ------------------------------------------- binary cross-entropy (logits and probabilities)
# References in NumPy float64, written from PyTorch's documented formulas:
#   with logits: l = -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]
#   on probabilities: l = -w [y max(log x, -100) + (1 - y) max(log(1 - x), -100)]
# and PyTorch's gradients (derivatives.yaml): d/dx = w ((p y + 1 - y) sigmoid(x) - p y) and
# w (x - y) / max(x (1 - x), 1e-12).

def _np_log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _np_reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _bce_logits_np(x, y, w=1.0, p=1.0, reduction="mean"):
    loss = -w * (p * y * _np_log_sigmoid(x) + (1 - y) * _np_log_sigmoid(-x))
    return _np_reduce(loss, reduction)


def _f64(*shape, low=None, high=None, rng=np.random.default_rng(3)):
    data = rng.normal(size=shape) * 3 if low is None else rng.uniform(low, high, size=shape)
    return dg.tensor(data, dtype=dg.float64, requires_grad=True)


WEIGHTS = {"none": (None, None), "weight": ((4,), None), "pos_weight": (None, (4,)),
           "both": ((3, 1), (4,)), "full weight": ((3, 4), (1,))}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("which", list(WEIGHTS))
def test_bce_with_logits_values_and_gradients(reduction, which):
    x, y = _f64(3, 4), _f64(3, 4, low=0.0, high=1.0)
    ws, ps = WEIGHTS[which]
    w = _f64(*ws, low=0.5, high=2.0) if ws else None
    p = _f64(*ps, low=0.5, high=3.0) if ps else None
    loss = F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=p)
    assert loss.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    assert loss.dtype == dg.float64 and tuple(loss.shape) == ((3, 4) if reduction == "none"
                                                               else ())
    arr = lambda t: 1.0 if t is None else t.detach().numpy()  # noqa: E731
    xn, yn, wn, pn = arr(x), arr(y), arr(w), arr(p)
    np.testing.assert_allclose(loss.detach().numpy(),
                               _bce_logits_np(xn, yn, wn, pn, reduction), rtol=1e-12)
    loss.sum().backward()
    n = xn.size if reduction == "mean" else 1
    sig = 1 / (1 + np.exp(-xn))
    np.testing.assert_allclose(x.grad.numpy(), wn * ((pn * yn + 1 - yn) * sig - pn * yn) / n
                               * np.ones((3, 4)), rtol=1e-10)
    # every input's gradient, the weights' included, against finite differences
    tensors = [t for t in (x, y, w, p) if t is not None]

    def fn(*ts):
        it = iter(ts)
        args = [next(it) if t is not None else None for t in (x, y, w, p)]
        return F.binary_cross_entropy_with_logits(args[0], args[1], args[2],
                                                  reduction=reduction, pos_weight=args[3])
    assert dg.autograd.gradcheck(fn, [t.detach().requires_grad_(True) for t in tensors])


def test_bce_with_logits_next_functions_are_its_four_inputs():
    x, w = dg.randn(2, 3, requires_grad=True), dg.rand(3, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, dg.rand(2, 3), w)
    names = [type(f).__name__ if f is not None else None for f, _ in loss.grad_fn.next_functions]
    assert names == ["AccumulateGrad", None, "AccumulateGrad", None]  # input, target, weight, pw
    module = dg.nn.BCEWithLogitsLoss(pos_weight=dg.tensor([2.0, 1.0, 0.5]))
    assert module(x, dg.rand(2, 3)).grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"


def test_bce_with_logits_extreme_logits_stay_finite_in_float32():
    x = dg.tensor([-100.0, 100.0, -100.0, 100.0, 0.0], requires_grad=True)
    y = dg.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    p = dg.tensor(3.0)
    loss = F.binary_cross_entropy_with_logits(x, y, pos_weight=p, reduction="none")
    want = _bce_logits_np(x.detach().numpy().astype(np.float64), y.numpy(), 1.0, 3.0, "none")
    np.testing.assert_allclose(loss.detach().numpy(), want, rtol=1e-6, atol=1e-6)
    assert want[0] == pytest.approx(300.0) and want[1] == pytest.approx(100.0)
    loss.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), [-3.0, 1.0, 0.0, 0.0, -1.5], atol=1e-6)


def test_bce_with_logits_double_backward_matches_finite_differences():
    x, y, p = _f64(5), _f64(5, low=0.0, high=1.0), _f64(5, low=0.5, high=2.0)

    def grad_x(x, y, p):
        loss = F.binary_cross_entropy_with_logits(x, y, pos_weight=p, reduction="sum")
        return dg.autograd.grad(loss, x, create_graph=True)[0]
    assert dg.autograd.gradcheck(grad_x, [x, y, p])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight"])
def test_bce_on_probabilities_values_gradients_and_name(reduction, weighted):
    x, y = _f64(3, 4, low=0.02, high=0.98), _f64(3, 4, low=0.0, high=1.0)
    w = _f64(4, low=0.5, high=2.0) if weighted else None
    loss = F.binary_cross_entropy(x, y, w, reduction=reduction)
    assert loss.grad_fn.name() == "BinaryCrossEntropyBackward0"
    xn, yn = x.detach().numpy(), y.detach().numpy()
    wn = w.detach().numpy() if weighted else 1.0
    want = -wn * (yn * np.log(xn) + (1 - yn) * np.log1p(-xn))
    np.testing.assert_allclose(loss.detach().numpy(), _np_reduce(want, reduction), rtol=1e-12)
    loss.sum().backward()
    n = xn.size if reduction == "mean" else 1
    np.testing.assert_allclose(x.grad.numpy(), wn * (xn - yn) / (xn * (1 - xn)) / n,
                               rtol=1e-10)
    inputs = [t.detach().requires_grad_(True) for t in (x, y) + ((w,) if weighted else ())]
    assert dg.autograd.gradcheck(
        lambda *ts: F.binary_cross_entropy(ts[0], ts[1], ts[2] if weighted else None,
                                           reduction=reduction), inputs)


def test_bce_on_probabilities_at_the_bounds_is_pytorchs():
    x = dg.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = dg.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_array_equal(loss.detach().numpy(), [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    # PyTorch: (x - y) / max(x (1 - x), 1e-12): finite, huge, where the log was clamped
    np.testing.assert_allclose(x.grad.numpy(), [-1e12, 1e12, 0.0, 0.0], rtol=1e-6)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(dg.tensor([0.5, 1.5]), dg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(dg.tensor([0.5, 0.5]), dg.tensor([1.0]))
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.binary_cross_entropy_with_logits(dg.ones(2), dg.ones(2), reduction="avg")
    with pytest.raises(RuntimeError, match="does not broadcast to the input's shape"):
        F.binary_cross_entropy_with_logits(dg.ones(2, 3), dg.ones(2, 3), dg.ones(2, 1, 3))


def _losses(x, y, w, p):
    return (F.binary_cross_entropy_with_logits(x, y, w, pos_weight=p)
            + F.binary_cross_entropy_with_logits(x, y, reduction="sum")
            + F.binary_cross_entropy(x.sigmoid(), y, w, reduction="none").sum())


def test_compiled_bce_losses_equal_eager_with_gradients():
    x, y = dg.randn(6, 4, requires_grad=True), dg.rand(6, 4)
    w, p = dg.rand(4, requires_grad=True), dg.rand(4) + 0.5
    traced = dg.jit.trace(_losses, (x, y, w, p))
    counts = traced.graph.op_counts()
    assert counts["binary_cross_entropy_with_logits"] == 2 and counts["binary_cross_entropy"] == 1
    out = traced(x, y, w, p)  # O3, the default
    out.backward()
    grads = x.grad.numpy().copy(), w.grad.numpy().copy()
    x.grad = w.grad = None
    ref = _losses(x, y, w, p)
    ref.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(grads[0], x.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[1], w.grad.numpy(), rtol=1e-5, atol=1e-7)
    scripted = dg.jit.script(_losses)
    np.testing.assert_allclose(scripted(x, y, w, p).item(), ref.item(), rtol=1e-6)


# ------------------------------------------------------------------ linear and t(): node chains
# PyTorch 2.x's aten::linear on a contiguous input: addmm for a matrix; with a bias at another
# rank, reshape to rows (a view: ViewBackward0), addmm, view back; without a bias, mm for a
# matrix and from 3-D matmul's folding: reshape, mm, _unsafe_view (UnsafeViewBackward0). The
# weight's `t()` is TBackward0.

def _chain(fn):
    """(name, [next names]) of a node, None for an input that needs no gradient."""
    return type(fn).__name__, [None if f is None else type(f).__name__
                               for f, _ in fn.next_functions]


@pytest.mark.parametrize("shape, bias, chain", [
    ((2, 4), True, [("AddmmBackward0", ["AccumulateGrad", "AccumulateGrad", "TBackward0"])]),
    ((2, 4), False, [("MmBackward0", ["AccumulateGrad", "TBackward0"])]),
    ((2, 5, 4), True, [("ViewBackward0", ["AddmmBackward0"]),
                       ("AddmmBackward0", ["AccumulateGrad", "ViewBackward0", "TBackward0"])]),
    ((2, 5, 4), False, [("UnsafeViewBackward0", ["MmBackward0"]),
                        ("MmBackward0", ["ViewBackward0", "TBackward0"])]),
    ((4,), True, [("ViewBackward0", ["AddmmBackward0"]),
                  ("AddmmBackward0", ["AccumulateGrad", "ViewBackward0", "TBackward0"])]),
], ids=["2d-bias", "2d", "3d-bias", "3d", "1d-bias"])
def test_linear_records_pytorchs_nodes_and_computes_x_wt_plus_b(shape, bias, chain):
    layer = dg.nn.Linear(4, 3, bias=bias)
    x = dg.randn(*shape, requires_grad=True)
    y = layer(x)
    fn = y.grad_fn
    for want in chain:
        assert _chain(fn) == want
        fn = fn.next_functions[-1][0]  # the product, then the weight's t()
    assert _chain(fn) == ("TBackward0", ["AccumulateGrad"])
    W = layer.weight.detach().numpy().astype(np.float64)
    b = layer.bias.detach().numpy() if bias else 0.0
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() @ W.T + b, rtol=1e-5,
                               atol=1e-6)
    g = np.random.default_rng(0).normal(size=y.shape)
    y.backward(dg.tensor(g, dtype=dg.float32))
    rows, grows = x.detach().numpy().reshape(-1, 4), g.reshape(-1, 3)
    np.testing.assert_allclose(layer.weight.grad.numpy(), grows.T @ rows, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), (grows @ W).reshape(shape), rtol=1e-4,
                               atol=1e-5)
    if bias:
        np.testing.assert_allclose(layer.bias.grad.numpy(), grows.sum(0), rtol=1e-4, atol=1e-5)


def test_t_is_tbackward_and_transpose_stays_transposebackward():
    m = dg.randn(3, 4, requires_grad=True)
    assert m.t().grad_fn.name() == "TBackward0"
    assert dg.t(m).grad_fn.name() == "TBackward0"
    assert m.transpose(0, 1).grad_fn.name() == "TransposeBackward0"
    v = dg.randn(3, requires_grad=True)
    assert v.t().grad_fn.name() == "TBackward0" and tuple(v.t().shape) == (3,)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        dg.randn(2, 3, 4).t()
    mt = m.detach().t()
    mt[0, 1] = 7.0  # a view: the write reaches the base
    assert m[1, 0].item() == 7.0


def test_compiled_linear_keeps_the_fused_epilogue_and_equals_eager():
    mlp = dg.nn.Sequential(dg.nn.Linear(8, 16), dg.nn.ReLU(), dg.nn.Linear(16, 4))
    x = dg.randn(5, 8)
    traced = dg.jit.trace(mlp, (x,))
    assert [n.attrs["kernel"] for n in traced.graph.nodes if n.op.name == "fused"] == \
        ["add, relu"]
    assert np.array_equal(traced(x).detach().numpy(), mlp(x).detach().numpy())
    seq = dg.nn.Sequential(dg.nn.Linear(8, 6), dg.nn.GELU(), dg.nn.Linear(6, 3, bias=False))
    xs = dg.randn(2, 5, 8, requires_grad=True)
    traced = dg.jit.trace(seq, (xs,), dynamic_dims={0: "B"})
    for batch in (2, 3):
        xb = dg.randn(batch, 5, 8, requires_grad=True)
        out = traced(xb)
        out.sum().backward()
        got = [xb.grad.numpy().copy()] + [p.grad.numpy().copy() for p in seq.parameters()]
        xb.grad = None
        seq.zero_grad()
        ref = seq(xb)
        ref.sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        for g, r in zip(got, [xb.grad] + [p.grad for p in seq.parameters()]):
            np.testing.assert_allclose(g, r.numpy(), rtol=1e-4, atol=1e-5)
        seq.zero_grad()
