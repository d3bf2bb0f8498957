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
