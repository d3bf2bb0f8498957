"""The seed tutorials' first-day code (seeds 000-002), written afresh with `import dualgraph as
torch` / `as t`, checked against NumPy. The full tensor API of seed 002 is the tensor API issue's;
this covers what the foundation provides."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as torch
import dualgraph as t


def test_seed001_construction_and_sizes():
    x = torch.empty(5, 3)
    assert x.shape == (5, 3) and x.dtype is torch.float32
    x = torch.rand(5, 3)
    assert ((x.numpy() >= 0) & (x.numpy() < 1)).all()
    x = torch.zeros(5, 3, dtype=torch.long)
    assert x.dtype is torch.int64 and not x.numpy().any()
    x = torch.tensor([5.5, 3])
    assert repr(x) == "tensor([5.5000, 3.0000])"
    x = x.new_ones(5, 3, dtype=torch.double)
    assert x.dtype is torch.float64 and x.numpy().sum() == 15
    x = torch.randn_like(x, dtype=torch.float)
    assert x.dtype is torch.float32 and x.size() == (5, 3)
    assert repr(x.size()) == "torch.Size([5, 3])" and isinstance(x.size(), tuple)


def test_seed001_device_selection():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.ones(2).to(device)
    assert x.device == device
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            torch.ones(2).cuda()


def test_seed001_forward_and_backward_in_place_update():
    w = torch.randn(3, 2, requires_grad=True)
    x = torch.rand(4, 3)
    loss = (x @ w).sigmoid().mean()
    loss.backward()
    s = 1 / (1 + np.exp(-(x.numpy() @ w.detach().numpy())))
    np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ (s * (1 - s) / 8), rtol=1e-5)
    with torch.no_grad():
        w -= 0.1 * w.grad  # the in-place update every training loop does
    assert w.is_leaf and w.requires_grad


def test_seed000_data_dependent_while_loop():
    x = torch.tensor([0.5, -0.25], requires_grad=True)
    y = x * 2
    steps = 0
    while (y.data ** 2).sum().sqrt() < 1000:  # the seed's y.data.norm(); norm is the tensor API's
        y = y * 2
        steps += 1
    y.backward(torch.tensor([1.0, 1.0]))
    assert x.grad.tolist() == [2.0 ** (steps + 1)] * 2


def test_seed002_variable_and_leaf_flags():
    from dualgraph.autograd import Variable
    x = Variable(t.ones(3, 4), requires_grad=True)
    assert x.grad is None and x.grad_fn is None
    y = x + 2
    z = t.mean(y.pow(3))
    z.backward()
    assert (z.is_leaf, y.is_leaf, x.is_leaf) == (False, False, True)
    assert x.grad.tolist() == [[2.25] * 4] * 3


def test_submodules_import_as_the_tutorials_spell_them():
    import dualgraph.autograd
    import dualgraph.jit
    import dualgraph.nn as nn
    import dualgraph.optim
    import dualgraph.utils.data
    from dualgraph.autograd import Variable  # noqa: F401
    for name in ("jit", "nn", "optim", "autograd", "cuda", "linalg", "utils"):
        assert hasattr(torch, name)
    assert nn is torch.nn and dualgraph.utils.data is torch.utils.data
