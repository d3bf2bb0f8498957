"""Seeds 000 and 001, the two short first-day overviews, written afresh with `import dualgraph as
torch`: tensors of each rank, gradients of a small model (`w1.grad`), a dynamic graph built by a
data-dependent loop (000); making tensors (`empty`, `rand`, `zeros(dtype=torch.long)`, `tensor`,
`new_ones`, `randn_like`), `size()`, the four ways of adding, devices and `.to`, and a forward /
backward / update round (001). Values against NumPy, dtypes and printed strings as PyTorch 2.13
gives them."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as torch


def data(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ==================================================================================== seed 000

def test_ranks_scalar_vector_matrix_and_more():
    scalar = torch.tensor(3.)
    assert scalar.dim() == 0 and scalar.shape == () and repr(scalar) == "tensor(3.)"
    assert scalar.item() == 3.0 and isinstance(scalar.item(), float)
    vector = torch.randn(3)
    assert vector.dim() == 1 and vector.shape == (3,) and vector.dtype == torch.float32
    matrix = torch.rand(2, 3)
    assert matrix.dim() == 2 and ((matrix.numpy() >= 0) & (matrix.numpy() < 1)).all()
    cube = torch.ones(2, 3, 4)
    assert cube.dim() == 3 and cube.ndim == 3 and cube.numel() == 24
    assert repr(torch.tensor([0.8594, 0.4509, 1.3533])) == "tensor([0.8594, 0.4509, 1.3533])"


def test_w_grads_of_a_small_model():
    w1 = torch.tensor(2.0, requires_grad=True)
    w2 = torch.tensor(3.0, requires_grad=True)
    w3 = torch.tensor(0.5, requires_grad=True)
    out = (w1 * 4.0 + w2) * w3
    assert repr(out) == "tensor(5.5000, grad_fn=<MulBackward0>)"
    out.backward()
    assert repr(w1.grad) == "tensor(2.)" and repr(w2.grad) == "tensor(0.5000)"
    assert repr(w3.grad) == "tensor(11.)"
    assert w1.grad.dtype == torch.float32


def test_gradients_of_a_random_model_match_numpy():
    x_np, w_np = data(1, 4, 3), data(2, 3, 2)
    x, w = torch.tensor(x_np), torch.tensor(w_np, requires_grad=True)
    loss = torch.tanh(x @ w).sum()
    loss.backward()
    expected = x_np.T.astype(np.float64) @ (1 - np.tanh(x_np.astype(np.float64) @ w_np) ** 2)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-5, atol=1e-6)


def doubling(start):
    """The tutorial's dynamic graph: a while loop whose trip count depends on the data."""
    x = torch.tensor(start, requires_grad=True)
    y = x * 2
    steps = 0
    while y.data.norm() < 1000:
        y = y * 2
        steps += 1
    y.backward(torch.ones(len(start)))
    return x, y, steps


def test_a_data_dependent_loop_builds_a_different_graph_each_call():
    x, y, steps = doubling([0.5, -0.25])
    assert steps == 10 and x.grad.tolist() == [2.0 ** 11] * 2
    assert y.tolist() == [1024.0, -512.0]
    x, _, steps = doubling([30.0, 40.0])
    assert steps == 4 and x.grad.tolist() == [32.0, 32.0]
    assert repr(torch.tensor([3., 4.]).norm()) == "tensor(5.)"


# ==================================================================================== seed 001

def test_empty_rand_zeros_tensor():
    x = torch.empty(5, 3)
    assert x.shape == (5, 3) and x.dtype == torch.float32
    assert torch.empty((2, 2)).shape == (2, 2) and repr(torch.empty(0)) == "tensor([])"
    assert torch.empty(2, dtype=torch.int64).dtype == torch.int64
    x = torch.rand(5, 3)
    assert x.shape == (5, 3) and x.dtype == torch.float32
    assert ((x.numpy() >= 0) & (x.numpy() < 1)).all()
    x = torch.zeros(5, 3, dtype=torch.long)
    assert x.dtype == torch.int64 and not x.numpy().any()
    assert repr(x) == ("tensor([[0, 0, 0],\n        [0, 0, 0],\n        [0, 0, 0],\n"
                       "        [0, 0, 0],\n        [0, 0, 0]])")
    x = torch.tensor([5.5, 3])
    assert x.dtype == torch.float32 and repr(x) == "tensor([5.5000, 3.0000])"
    assert torch.tensor([1, 2]).dtype == torch.int64 and torch.tensor([True]).dtype == torch.bool
    assert torch.tensor(np.array([1.5])).dtype == torch.float64
    assert repr(torch.tensor([[1, 2.5]])) == "tensor([[1.0000, 2.5000]])"


def test_new_ones_and_randn_like():
    x = torch.tensor([5.5, 3])
    x = x.new_ones(5, 3, dtype=torch.double)
    assert x.dtype == torch.float64 and x.shape == (5, 3) and x.numpy().sum() == 15
    assert repr(x) == ("tensor([[1., 1., 1.],\n        [1., 1., 1.],\n        [1., 1., 1.],\n"
                       "        [1., 1., 1.],\n        [1., 1., 1.]], dtype=torch.float64)")
    small = torch.tensor([5.5, 3])
    assert repr(small.new_ones((2,))) == "tensor([1., 1.])"  # keeps the source's dtype
    assert repr(small.new_zeros(2)) == "tensor([0., 0.])"
    assert repr(small.new_tensor([1, 2])) == "tensor([1., 2.])"
    assert repr(small.new_full((2,), 7.)) == "tensor([7., 7.])"
    assert small.new_empty(3).shape == (3,)
    y = torch.randn_like(x, dtype=torch.float)  # override the dtype
    assert y.dtype == torch.float32 and y.size() == (5, 3)
    assert torch.randn_like(x).dtype == torch.float64
    assert torch.rand_like(torch.ones(2)).shape == (2,)
    assert repr(torch.ones_like(torch.ones(2, dtype=torch.int32))) == (
        "tensor([1, 1], dtype=torch.int32)")
    assert repr(torch.zeros_like(torch.ones(2))) == "tensor([0., 0.])"


def test_size_is_a_tuple():
    size = torch.ones(5, 3).size()
    assert repr(size) == "torch.Size([5, 3])" and isinstance(size, tuple)
    assert size[0] == 5 and len(size) == 2 and size == (5, 3)
    assert size + (1,) == (5, 3, 1) and type(size + (1,)).__name__ == "Size"
    assert repr(size + (1,)) == "torch.Size([5, 3, 1])"
    assert size.numel() == 15
    a, b = size
    assert (a, b) == (5, 3)


def test_the_four_ways_of_adding():
    x_np, y_np = data(10, 5, 3), data(11, 5, 3)
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    expected = (x_np + y_np).tolist()
    assert (x + y).numpy().tolist() == expected
    assert torch.add(x, y).numpy().tolist() == expected
    result = torch.empty(5, 3)
    returned = torch.add(x, y, out=result)
    assert returned is result and result.numpy().tolist() == expected
    before = y.data_ptr()
    returned = y.add_(x)
    assert returned is y and y.data_ptr() == before and y.numpy().tolist() == expected
    assert torch.add(x, 10).numpy().tolist() == (x_np + np.float32(10)).tolist()
    np.testing.assert_allclose(torch.add(x, torch.tensor(y_np), alpha=2).numpy(), x_np + 2 * y_np,
                               rtol=1e-6)


def test_adding_prints_like_pytorch():
    a, b = torch.tensor([[1., 2.], [3., 4.]]), torch.tensor([[0.5, -1.], [2., 0.]])
    text = "tensor([[1.5000, 1.0000],\n        [5.0000, 4.0000]])"
    assert repr(a + b) == repr(torch.add(a, b)) == repr(a.add(b)) == text
    assert repr(torch.add(a, 10)) == "tensor([[11., 12.],\n        [13., 14.]])"
    assert repr(torch.add(a, b, alpha=2)) == "tensor([[2., 0.],\n        [7., 4.]])"


def test_add_promotes_like_pytorch_and_refuses_an_unsafe_in_place():
    assert (torch.ones(2, dtype=torch.long) + torch.ones(2)).dtype == torch.float32
    assert (torch.ones(2, dtype=torch.long) + 1).dtype == torch.int64
    assert (torch.ones(2, dtype=torch.long) + 1.5).dtype == torch.float32
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        torch.ones(2, dtype=torch.long).add_(torch.ones(2))


def test_devices_and_to():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.ones(2).to(device)
    assert x.device == device
    cpu = torch.device("cpu")
    assert repr(cpu) == "device(type='cpu')" and str(cpu) == "cpu"
    assert repr(torch.device("cuda")) == "device(type='cuda')"
    assert torch.device("cuda:1").index == 1 and torch.device("cuda:1").type == "cuda"
    x = torch.ones(2)
    assert x.device == cpu and not x.is_cuda
    assert x.to("cpu") is x and x.to(cpu) is x and x.cpu() is x  # nothing to move
    assert repr(x.to(torch.float64)) == "tensor([1., 1.], dtype=torch.float64)"
    assert repr(x.to("cpu", torch.int32)) == "tensor([1, 1], dtype=torch.int32)"
    assert repr(x.to(device=cpu, dtype=torch.int64)) == "tensor([1, 1])"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_cuda_without_a_gpu_raises():
    with pytest.raises((AssertionError, RuntimeError)):  # PyTorch's CPU build: AssertionError
        torch.ones(2).cuda()


def test_forward_backward_update_then_evaluate_without_a_graph():
    x_np, w_np, target_np = data(20, 8, 3), data(21, 3, 1), data(22, 8, 1)
    x, target = torch.tensor(x_np), torch.tensor(target_np)
    w = torch.tensor(w_np, requires_grad=True)
    losses = []
    for _ in range(3):  # each forward builds a fresh graph, each backward frees it
        loss = ((x @ w - target) ** 2).mean()
        assert loss.grad_fn.name() == "MeanBackward0"
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
        losses.append(loss.item())
    assert losses[0] > losses[1] > losses[2]
    wn = w_np.astype(np.float64)  # the same three steps in NumPy
    for _ in range(3):
        wn -= 0.1 * (2 / 8) * x_np.T @ (x_np @ wn - target_np)
    np.testing.assert_allclose(w.detach().numpy(), wn, rtol=1e-5, atol=1e-6)
    assert w.is_leaf and w.requires_grad
    with torch.no_grad():
        prediction = x @ w
    assert prediction.grad_fn is None and not prediction.requires_grad
