"""`index_fill`, `put`, `masked_scatter` and their in-place forms (issue 22), against PyTorch's
documented semantics; the conformance test runs their registry records through every mode, this
file covers the methods, `dg.*` functions, in-place forms and PyTorch's errors."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg


def grid() -> dg.Tensor:
    return dg.arange(12.0).reshape(3, 4)


def test_index_fill_as_pytorch_documents():
    # torch docs: x.index_fill(1, torch.tensor([0, 2]), -1) fills columns 0 and 2
    x = dg.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    out = x.index_fill(1, dg.tensor([0, 2]), -1)
    np.testing.assert_array_equal(out.numpy(), [[-1, 2, -1], [-1, 5, -1], [-1, 8, -1]])
    np.testing.assert_array_equal(dg.index_fill(x, 0, dg.tensor(-1), dg.tensor(0.5)).numpy(),
                                  [[1, 2, 3], [4, 5, 6], [0.5, 0.5, 0.5]])
    y = x.clone()
    assert y.index_fill_(0, dg.tensor([1]), 0.0) is y
    np.testing.assert_array_equal(y.numpy()[1], [0, 0, 0])


def test_put_as_pytorch_documents():
    # torch docs: src.put_(torch.tensor([1, 3]), torch.tensor([9, 10])) on [[4, 7], [5, 6]]
    src = dg.tensor([[4, 7], [5, 6]])
    assert src.put_(dg.tensor([1, 3]), dg.tensor([9, 10])) is src
    np.testing.assert_array_equal(src.numpy(), [[4, 9], [5, 10]])
    x = grid()
    out = dg.put(x, dg.tensor([0, 0, -1]), dg.tensor([1.0, 2.0, 3.0]), accumulate=True)
    assert out[0, 0].item() == 3.0 and out[2, 3].item() == 14.0
    assert x[0, 0].item() == 0.0  # out of place


def test_masked_scatter_as_pytorch_documents():
    # torch docs: self = zeros(2, 5); mask = [[0,0,0,1,1],[1,1,0,1,1]]; source = [[0..4],[5..9]]
    # self.masked_scatter(mask, source) = [[0, 0, 0, 0, 1], [2, 3, 0, 4, 5]]
    mask = dg.tensor([[0, 0, 0, 1, 1], [1, 1, 0, 1, 1]]).bool()
    source = dg.arange(10.0).reshape(2, 5)
    out = dg.zeros(2, 5).masked_scatter(mask, source)
    np.testing.assert_array_equal(out.numpy(), [[0, 0, 0, 0, 1], [2, 3, 0, 4, 5]])
    y = dg.zeros(2, 5)
    assert y.masked_scatter_(mask, source) is y
    np.testing.assert_array_equal(y.numpy(), out.numpy())
    np.testing.assert_array_equal(dg.masked_scatter(dg.zeros(2, 3), dg.tensor([True, False,
                                                                               True]),
                                                    dg.tensor([1.0, 2.0, 3.0, 4.0])).numpy(),
                                  [[1, 0, 2], [3, 0, 4]])  # the mask broadcasts


def test_errors_are_pytorchs():
    x = grid()
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.index_fill(0, dg.tensor([0], dtype=dg.int32), 1.0)
    with pytest.raises(RuntimeError, match="index_fill_ only supports a 0-dimensional value "
                                           "tensor, but got tensor with 1 dimension"):
        x.index_fill(0, dg.tensor([0]), dg.tensor([1.0]))
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x.index_fill(0, dg.tensor([3]), 1.0)
    with pytest.raises(IndexError, match="out of range: tried to access index 12 on a tensor of "
                                         "12 elements"):
        x.put(dg.tensor([12]), dg.tensor([1.0]))
    with pytest.raises(RuntimeError, match="Expected source and index to have the same number "
                                           "of elements, but got source.numel\\(\\) = 2, "
                                           "index.numel\\(\\) = 1"):
        x.put(dg.tensor([0]), dg.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="self and source expected to have the same dtype"):
        x.put(dg.tensor([0]), dg.tensor([1.0], dtype=dg.float64))
    with pytest.raises(RuntimeError, match="masked_scatter_ only supports boolean masks"):
        x.masked_scatter(dg.ones(3, 4, dtype=dg.int64), dg.ones(12))
    with pytest.raises(RuntimeError, match="Number of elements of source < number of ones in "
                                           "mask"):
        x.masked_scatter(dg.ones(3, 4).bool(), dg.ones(5))


def test_gradients_and_node_names():
    # derivatives.yaml: index_fill: self grad.index_fill(dim, index, 0), value the sum over the
    # filled positions; put: self grad (accumulate) or grad.put(index, zeros), source
    # grad.take(index); masked_scatter: self grad.masked_fill(mask, 0), source the gradient at
    # the true positions in order, zeros past the count.
    x = dg.arange(6.0).reshape(2, 3).requires_grad_()
    v = dg.tensor(2.0, requires_grad=True)
    out = x.index_fill(1, dg.tensor([2, 2, 0]), v)
    assert out.grad_fn.name() == "IndexFillBackward1"
    (out * dg.tensor([[1.0, 2, 3], [4, 5, 6]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 0], [0, 5, 0]])
    assert v.grad.item() == 1 + 3 + 4 + 6

    x = dg.zeros(4, requires_grad=True)
    s = dg.tensor([1.0, 2.0], requires_grad=True)
    out = x.put(dg.tensor([3, 0]), s)
    assert out.grad_fn.name() == "PutBackward0"
    (out * dg.tensor([1.0, 2, 3, 4])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 2, 3, 0])
    np.testing.assert_array_equal(s.grad.numpy(), [4, 1])

    x = dg.zeros(2, 3, requires_grad=True)
    s = dg.zeros(5, requires_grad=True)
    mask = dg.tensor([[True, False, True], [False, True, False]])
    out = x.masked_scatter(mask, s)
    assert out.grad_fn.name() == "MaskedScatterBackward0"
    (out * dg.tensor([[1.0, 2, 3], [4, 5, 6]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 0], [4, 0, 6]])
    np.testing.assert_array_equal(s.grad.numpy(), [1, 3, 5, 0, 0])


def test_in_place_forms_record_history_and_trace():
    def f(x, s):
        y = x * 1.0
        y.index_fill_(0, dg.tensor([1]), 0.0)
        y.put_(dg.tensor([0]), s[:1])
        y.masked_scatter_(y > 4, s)
        return y

    x = dg.arange(6.0).reshape(2, 3).requires_grad_()
    s = dg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    expected = f(x, s)
    np.testing.assert_array_equal(expected.detach().numpy(), [[10, 1, 2], [0, 0, 0]])
    expected.sum().backward()
    gx, gs = x.grad.numpy().copy(), s.grad.numpy().copy()
    np.testing.assert_array_equal(gx, [[0, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(gs, [1, 0, 0])
    traced = dg.jit.trace(f, (x, s))
    for name in ("index_fill", "put", "masked_scatter"):
        assert name in str(traced.graph)
    x.grad = s.grad = None
    out = traced(x, s)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), gx)
    np.testing.assert_array_equal(s.grad.numpy(), gs)
