"""Eager autograd as PyTorch users know it: the tutorial's example, graph freeing, accumulation,
hooks, higher-order gradients, version counters, in-place ops on leaves and views."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.autograd import Variable


def test_tutorial_autograd_example():
    x = dg.ones(3, 4, requires_grad=True)
    y = x + 2
    assert "grad_fn=<AddBackward0>" in repr(y)
    z = dg.mean(y.pow(3))
    assert repr(z) == "tensor(27., grad_fn=<MeanBackward0>)"
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4), 2.25))
    assert (x.is_leaf, y.is_leaf, z.is_leaf) == (True, False, False)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()
    for _ in range(2):  # recomputing z and calling backward again accumulates
        dg.mean((x + 2).pow(3)).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4), 6.75))


def test_retain_graph_allows_a_second_backward():
    x = dg.ones(2, requires_grad=True)
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])


def test_backward_through_nodes_that_saved_nothing_can_repeat():
    x = dg.ones(2, requires_grad=True)
    z = (x + 1).sum()
    z.backward()
    z.backward()  # add and sum save no tensors, so nothing was freed (PyTorch's rule)
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_sigmoid_written_by_hand_has_gradient_s_times_one_minus_s():
    x = dg.tensor(np.linspace(-3, 3, 12).reshape(3, 4), dtype=dg.float64, requires_grad=True)
    s = 1.0 / (1.0 + dg.exp(-x))
    assert s.grad_fn.name() == "MulBackward0"  # PyTorch: 1/t is reciprocal(t) * 1
    s.backward(gradient=dg.ones(s.size(), dtype=dg.float64))
    sv = 1 / (1 + np.exp(-np.linspace(-3, 3, 12).reshape(3, 4)))
    np.testing.assert_allclose(x.grad.numpy(), sv * (1 - sv), rtol=1e-12)


def test_non_scalar_backward_needs_gradient():
    x = dg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(dg.ones(2))


def test_backward_on_tensor_without_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dg.ones(2).sum().backward()


def test_broadcast_gradients_are_summed_to_the_input_shape():
    a = dg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = dg.tensor(2.0, requires_grad=True)
    ((a * b + c) ** 2).sum().backward()
    av, bv = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0])
    inner = 2 * (av * bv + 2.0)
    np.testing.assert_allclose(a.grad.numpy(), inner * bv, rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), (inner * av).sum(0), rtol=1e-6)
    np.testing.assert_allclose(c.grad.numpy(), inner.sum(), rtol=1e-6)


def test_gradient_dtype_follows_the_input():
    a = dg.ones(3, requires_grad=True)  # float32
    b = dg.ones(3, dtype=dg.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype is dg.float32 and b.grad.dtype is dg.float64


def test_autograd_grad_with_create_graph_gives_higher_derivatives():
    x = dg.tensor([2.0, -1.0], dtype=dg.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g1,) = dg.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g1.detach().numpy(), 3 * np.array([2.0, -1.0]) ** 2)
    (g2,) = dg.autograd.grad(g1.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * np.array([2.0, -1.0]))
    assert x.grad is None  # autograd.grad never touches .grad


def test_autograd_grad_unused_input():
    x = dg.ones(2, requires_grad=True)
    w = dg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not have been used"):
        dg.autograd.grad((x * 2).sum(), (x, w))
    gx, gw = dg.autograd.grad((x * 2).sum(), (x, w), allow_unused=True)
    assert gw is None and gx.tolist() == [2.0, 2.0]


def test_autograd_grad_of_an_intermediate():
    x = dg.ones(3, requires_grad=True)
    h = x * 2
    (gh,) = dg.autograd.grad((h * h).sum(), h)
    assert gh.tolist() == [4.0, 4.0, 4.0]


def test_backward_inputs_limits_accumulation():
    a = dg.ones(2, requires_grad=True)
    b = dg.ones(2, requires_grad=True)
    (a * b * 3).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 3.0] and b.grad is None


def test_hooks_and_retain_grad():
    x = dg.ones(3, requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    y.sum().backward()
    assert x.grad.tolist() == [20.0] * 3
    assert y.grad.tolist() == [10.0] * 3  # retain_grad sees the hooked gradient, as in PyTorch
    assert seen == [[20.0] * 3]


def test_hook_handle_removes():
    x = dg.ones(2, requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_detach_and_requires_grad_flags():
    x = dg.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        dg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf variables"):
        (x * 2).requires_grad_(False)
    assert not (x > 0).requires_grad  # comparisons are not differentiable
    assert not x.long().requires_grad  # integer results never require grad


def test_variable_returns_a_plain_tensor():
    v = Variable(dg.ones(3, 4), requires_grad=True)
    assert type(v) is dg.Tensor and v.requires_grad
    assert repr(v).endswith("requires_grad=True)")


def test_grad_mode_switches_are_thread_local():
    x = dg.ones(2, requires_grad=True)
    with dg.no_grad():
        assert (x * 2).grad_fn is None
        with dg.enable_grad():
            assert (x * 2).grad_fn is not None
        seen = {}
        thread = threading.Thread(target=lambda: seen.setdefault("grad", dg.is_grad_enabled()))
        thread.start()
        thread.join()
        assert seen["grad"] is True  # another thread is unaffected
    dg.set_grad_enabled(False)
    try:
        assert (x * 2).grad_fn is None
    finally:
        dg.set_grad_enabled(True)

    @dg.no_grad()
    def f(t):
        return t * 2
    assert f(x).grad_fn is None


# ------------------------------------------------------------------------- in place & versions

def test_changing_a_saved_tensor_in_place_raises():
    x = dg.ones(3, requires_grad=True)
    e = x.exp()
    e.add_(1)  # exp saved its output
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1; "
                                           "expected version 0"):
        e.sum().backward()


def test_detached_alias_shares_the_version_counter():
    x = dg.ones(3, requires_grad=True)
    y = x * 1
    z = y * y  # saves y
    y.detach().mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_in_place_on_leaf_requiring_grad_is_refused():
    w = dg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[0].mul_(2)
    with dg.no_grad():
        w.add_(1)  # allowed without grad mode, as optimizers do
    assert w.tolist() == [2.0, 2.0, 2.0]


def test_in_place_ops_record_history():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.mul_(x)  # y = x * x, the old y is saved for x's gradient
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_in_place_on_a_view_rewires_the_base():
    w = dg.ones(3, requires_grad=True)
    base = w * 2
    view = base[1:]
    view.mul_(3)
    assert base.grad_fn.name() == "CopySlices"
    assert base.tolist() == [2.0, 6.0, 6.0]
    base.sum().backward()
    assert w.grad.tolist() == [2.0, 6.0, 6.0]


def test_setitem_gradients():
    w = dg.ones(3, requires_grad=True)
    v = dg.tensor(7.0, requires_grad=True)
    c = w * 1
    c[0] = v * 2
    (c * dg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad.tolist() == [0.0, 2.0, 3.0]
    assert v.grad.item() == 2.0


def test_other_views_follow_their_base_after_in_place_change():
    w = dg.ones(4, requires_grad=True)
    base = w * 1
    other = base[2:]  # made before the in-place change
    base[:2].mul_(5)
    (other * 3).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 3.0, 3.0]


def test_views_share_storage_and_write_through():
    a = dg.arange(6.0).reshape(2, 3).clone()  # clone: reshape's result is itself a view
    row = a[1]
    row.add_(10)
    assert a.tolist() == [[0.0, 1.0, 2.0], [13.0, 14.0, 15.0]]
    t = a.t()
    t[0, 0] = -1.0
    assert a[0, 0].item() == -1.0
    assert a.view(6)._base is a and row._base is a


def test_numpy_interop_shares_memory():
    arr = np.zeros(3, dtype=np.float32)
    t = dg.from_numpy(arr)
    t.add_(1)
    assert arr.tolist() == [1.0, 1.0, 1.0]
    assert t.numpy() is arr
    with pytest.raises(RuntimeError, match="detach"):
        dg.ones(2, requires_grad=True).numpy()


def test_numpy_scalar_times_tensor_stays_a_tensor():
    x = dg.ones(2, requires_grad=True)
    y = np.float64(2.0) * x
    assert isinstance(y, dg.Tensor) and y.grad_fn is not None and y.dtype is dg.float32


def test_out_argument():
    result = dg.empty(2, 2)
    dg.add(dg.ones(2, 2), dg.ones(2, 2), out=result)
    assert result.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    r = dg.empty(0)
    dg.mul(dg.ones(3), 3, out=r)  # resized, as PyTorch does
    assert r.tolist() == [3.0, 3.0, 3.0]
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic"):
        dg.add(dg.ones(2, requires_grad=True), 1, out=dg.empty(2))


def test_four_ways_of_adding():
    x, y = dg.rand(5, 3), dg.rand(5, 3)
    expected = x.numpy() + y.numpy()
    result = dg.empty(5, 3)
    dg.add(x, y, out=result)
    for got in (x + y, dg.add(x, y), result, y.clone().add_(x)):
        np.testing.assert_allclose(got.numpy(), expected)


def test_a_leafs_gradient_is_accumulated_as_soon_as_it_is_ready():
    """As PyTorch's engine: AccumulateGrad runs before any op node still waiting, so a
    parameter's gradient is added into .grad and freed at once, not held to the end."""
    x = dg.randn(3, requires_grad=True)
    w1, w2 = dg.randn(3, requires_grad=True), dg.randn(3, requires_grad=True)
    (w1 + w2).sum().backward()  # a step before: the accumulators are older than this graph
    order = []
    h = (x * w1).exp()
    h.grad_fn.register_hook(lambda gi, go: order.append("exp"))
    w2.register_hook(lambda g: order.append("w2"))
    w1.register_hook(lambda g: order.append("w1"))
    (h * w2).sum().backward()
    assert order == ["w2", "exp", "w1"]
