"""Activation checkpointing (`dg.utils.checkpoint`) and the saved-tensor hooks it is built on:
gradients against the unchecked run (bit for bit) and NumPy formulas, PyTorch's warnings and
errors, dropout's mask on recomputation, and the memory a deep MLP keeps, by tracemalloc."""

from __future__ import annotations

import threading
import tracemalloc
import warnings

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.nn as nn
from dualgraph.autograd.graph import saved_tensors_hooks
from dualgraph.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential


def _mlp(layers: int = 12, width: int = 512) -> nn.Sequential:
    dg.manual_seed(0)
    return nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(width, width),
                                                             nn.Tanh())])


def _grads(model: nn.Module, *extra: dg.Tensor) -> list:
    out = [p.grad._data.copy() for p in model.parameters()]
    return out + [t.grad._data.copy() for t in extra]


def _zero(model: nn.Module, *extra: dg.Tensor) -> None:
    for t in (*model.parameters(), *extra):
        t.grad = None


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------------ saved_tensors_hooks

def test_hooks_see_every_saved_tensor_and_backward_uses_what_unpack_returns():
    x = dg.randn(3, 4, requires_grad=True)
    w = dg.randn(4, 5, requires_grad=True)
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t._data.copy()  # a copy: the node keeps no reference to the tensor

    with saved_tensors_hooks(pack, dg.from_numpy):
        y = (x @ w).tanh().sum()
    assert shapes == [(3, 4), (4, 5), (3, 5)]  # mm's inputs, tanh's output
    y.backward()
    t = np.tanh(x._data @ w._data)
    np.testing.assert_allclose(x.grad._data, (1 - t * t) @ w._data.T, rtol=1e-5)
    np.testing.assert_allclose(w.grad._data, x._data.T @ (1 - t * t), rtol=1e-5)


def test_only_the_innermost_hooks_apply_and_they_are_per_thread():
    x = dg.randn(4, requires_grad=True)
    outer, inner, other = [], [], []
    with saved_tensors_hooks(lambda t: outer.append(1) or t, lambda t: t):
        with saved_tensors_hooks(lambda t: inner.append(1) or t, lambda t: t):
            (x * x).sum()
            worker = threading.Thread(target=lambda: other.append((x * x).grad_fn is not None))
            worker.start()
            worker.join()
        (x * x).sum()
    assert (len(outer), len(inner), other) == (2, 2, [True])


def test_custom_function_saves_through_the_hooks_and_unpack_must_give_a_tensor():
    class Cube(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * g * x * x

    x = dg.tensor([1.0, 2.0], requires_grad=True)
    packed = []
    with saved_tensors_hooks(lambda t: packed.append(t) or "key", lambda k: packed[0]):
        y = Cube.apply(x)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    with saved_tensors_hooks(lambda t: t, lambda t: 1.0):
        z = (x * x).sum()
    with pytest.raises(TypeError, match="unpack_hook expected to be a Tensor"):
        z.backward()
    with pytest.raises(TypeError, match="pack_hook must be callable"):
        saved_tensors_hooks(None, lambda t: t)


def test_double_backward_through_hooks_reaches_the_leaves():
    x = dg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: t._data.copy(), dg.from_numpy):
        y = (x * x * x).sum()
    g, = dg.autograd.grad(y, x, create_graph=True)
    gg, = dg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg._data, 6 * x._data, rtol=1e-6)


# ------------------------------------------------------------------------- non-reentrant

def test_non_reentrant_gives_the_unchecked_gradients_bit_for_bit():
    model = _mlp(4, 32)
    x = dg.randn(8, 32, requires_grad=True)
    model(x).pow(2).sum().backward()
    ref = _grads(model, x)
    _zero(model, x)
    h = x
    for i in range(0, 8, 2):
        h = checkpoint(model[i:i + 2], h, use_reentrant=False)
    h.pow(2).sum().backward()
    _same(_grads(model, x), ref)


def test_non_reentrant_reaches_parameters_when_no_input_requires_grad():
    lin = nn.Linear(6, 6)
    x = dg.randn(5, 6)
    lin(x).tanh().sum().backward()
    ref = [p.grad._data.copy() for p in lin.parameters()]
    _zero(lin)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "None of the inputs" warning here
        checkpoint(lambda t: lin(t).tanh(), x, use_reentrant=False).sum().backward()
    _same([p.grad._data.copy() for p in lin.parameters()], ref)


def test_non_reentrant_recomputes_once_per_backward_and_passes_kwargs():
    calls = []

    def fn(a, *, scale):
        calls.append(1)
        return (a * scale).sin() * a

    a = dg.tensor([0.3, -0.7, 1.1], requires_grad=True)
    y = checkpoint(fn, a, use_reentrant=False, scale=2.0)
    assert len(calls) == 1
    g1, = dg.autograd.grad(y.sum(), a, retain_graph=True)
    assert len(calls) == 2
    g2, = dg.autograd.grad(y.sum(), a)  # a second backward through the retained graph
    assert len(calls) == 3
    x = a._data
    want = 2 * np.cos(2 * x) * x + np.sin(2 * x)
    np.testing.assert_allclose(g1._data, want, rtol=1e-6)
    np.testing.assert_array_equal(g1._data, g2._data)


def test_non_reentrant_double_backward():
    a = dg.tensor([0.3, -0.7, 1.1], requires_grad=True)
    y = checkpoint(lambda t: (t * t).tanh(), a, use_reentrant=False).sum()
    g, = dg.autograd.grad(y, a, create_graph=True)
    gg, = dg.autograd.grad(g.sum(), a)
    x = a._data
    t = np.tanh(x * x)
    want = 2 * (1 - t * t) - 8 * x * x * t * (1 - t * t)  # d/dx of 2x(1 - tanh(x^2)^2)
    np.testing.assert_allclose(gg._data, want, rtol=1e-5)


def test_determinism_check_catches_a_function_that_changes():
    state = {"n": 4}

    def fn(t):
        n, state["n"] = state["n"], 3
        return (t[:n] * t[:n]).sum()

    a = dg.randn(6, requires_grad=True)
    y = checkpoint(fn, a, use_reentrant=False)
    with pytest.raises(CheckpointError, match="different metadata"):
        y.backward()
    extra = {"n": 1}

    def grows(t):
        out = t.sin()
        for _ in range(extra["n"]):
            out = out * t
        extra["n"] = 2
        return out.sum()

    y = checkpoint(grows, a, use_reentrant=False)
    with pytest.raises(CheckpointError, match="more tensors during recomputation"):
        y.backward()
    with pytest.raises(ValueError, match="determinism_check should be one of"):
        checkpoint(fn, a, use_reentrant=False, determinism_check="strict")


def test_unpacking_a_saved_tensor_twice_in_one_backward_is_refused():
    class Twice(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            ctx.saved_tensors
            ctx.saved_tensors
            return g * 2

    a = dg.randn(3, requires_grad=True)
    y = checkpoint(Twice.apply, a, use_reentrant=False)
    with pytest.raises(CheckpointError, match="already unpacked once"):
        y.sum().backward()


# ----------------------------------------------------------------------------- reentrant

def test_reentrant_gives_the_unchecked_gradients_and_pytorchs_refusals():
    model = _mlp(3, 16)
    x = dg.randn(4, 16, requires_grad=True)
    model(x).sum().backward()
    ref = _grads(model, x)
    _zero(model, x)
    y = checkpoint(model, x, use_reentrant=True)
    assert y.grad_fn.name() == "CheckpointFunctionBackward"
    y.sum().backward()
    _same(_grads(model, x), ref)
    with pytest.raises(RuntimeError, match="incompatible with .grad()"):
        dg.autograd.grad(checkpoint(model, x, use_reentrant=True).sum(), x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(model, x, use_reentrant=True, scale=1)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        out = checkpoint(model, x.detach(), use_reentrant=True)
    assert out.grad_fn is None  # as in PyTorch: no gradient reaches the parameters


def test_not_passing_use_reentrant_warns_and_runs_the_reentrant_variant():
    x = dg.randn(2, 3, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        y = checkpoint(lambda t: t.exp(), x)
    assert y.grad_fn.name() == "CheckpointFunctionBackward"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda t: t.exp(), x, use_reentrant=False)
    with pytest.raises(TypeError, match="function must be callable"):
        checkpoint(3, x, use_reentrant=False)


# ------------------------------------------------------------------------------- dropout

@pytest.mark.parametrize("reentrant", [False, True])
def test_dropout_draws_the_same_mask_when_recomputed(reentrant):
    net = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.5), nn.Tanh())
    x = dg.randn(8, 16, requires_grad=True)
    dg.manual_seed(7)
    y = net(x)
    y.sum().backward()
    after = dg.rand(4)
    ref = _grads(net, x)
    _zero(net, x)
    dg.manual_seed(7)
    yc = checkpoint(net, x, use_reentrant=reentrant)
    np.testing.assert_array_equal(yc._data, y._data)
    yc.sum().backward()
    _same(_grads(net, x), ref)
    # the stream after backward is where it would be without checkpointing
    np.testing.assert_array_equal(dg.rand(4)._data, after._data)
    _zero(net, x)
    dg.manual_seed(7)
    checkpoint(net, x, use_reentrant=reentrant, preserve_rng_state=False).sum().backward()
    assert not np.array_equal(x.grad._data, ref[-1])  # a fresh mask in the recomputation


# ------------------------------------------------------------------- checkpoint_sequential

@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_sequential_matches_and_checks_segments(reentrant):
    model = _mlp(4, 16)
    x = dg.randn(3, 16, requires_grad=True)
    model(x).sum().backward()
    ref = _grads(model, x)
    for segments in (1, 2, 3, 8):
        _zero(model, x)
        checkpoint_sequential(model, segments, x, use_reentrant=reentrant).sum().backward()
        _same(_grads(model, x), ref)
    _zero(model, x)
    checkpoint_sequential(list(model), 4, x, use_reentrant=reentrant).sum().backward()
    _same(_grads(model, x), ref)
    for bad in (0, 9, 2.0):
        with pytest.raises(ValueError, match="segments must be an int from 1 to the number"):
            checkpoint_sequential(model, bad, x, use_reentrant=reentrant)
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint_sequential(model, 2, x)


# -------------------------------------------------------------------------------- memory

def _measure(model: nn.Sequential, x: dg.Tensor, run) -> tuple:
    """(bytes held after the forward, peak bytes over forward and backward, gradients), by
    tracemalloc, with the gradients already allocated by a first step (zeroed in place)."""
    run(model, x).sum().backward()
    for t in (*model.parameters(), x):
        t.grad.zero_()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y = run(model, x)
        held = tracemalloc.get_traced_memory()[0] - base
        y.sum().backward()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return held, peak, _grads(model, x)


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpointing_a_deep_mlp_keeps_fewer_activations(reentrant):
    """12 x (Linear 512 + tanh), batch 64: one activation (64*512*4 = 131072 bytes) per layer is
    kept unchecked (addmm saves its input, which is the tanh output tanh saves). In 4 segments
    only the 3 checkpointed segments' inputs and the last segment's 3 layers are kept."""
    model = _mlp()
    x = dg.randn(64, 512, requires_grad=True)
    act = 64 * 512 * 4
    held0, peak0, g0 = _measure(model, x, lambda m, t: m(t))
    held4, peak4, g4 = _measure(
        model, x, lambda m, t: checkpoint_sequential(m, 4, t, use_reentrant=reentrant))
    _same(g4, g0)
    assert 12 * act <= held0 < 12 * act + 64 * 1024
    assert 6 * act <= held4 < 6 * act + 64 * 1024
    if not reentrant:  # the reentrant variant's nested backward holds about one weight
        assert peak4 < peak0 - 3 * act  # gradient more (measured: docs/MEMORY.md)
    # each layer its own checkpoint: its input is the previous layer's output, kept anyway
    held1, _, g1 = _measure(model, x, lambda m, t: checkpoint_sequential(
        m, 12, t, use_reentrant=reentrant))
    _same(g1, g0)
    assert abs(held1 - held0) < 64 * 1024
