"""Recomputation under a memory budget (passes/recompute.py): a compiled training call saves at
most `memory_budget` residual bytes, recomputing cheap elementwise values in the backward graph;
gradients equal the unconstrained ones, and tracemalloc sees the residuals shrink."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.nn as nn


def _gelu_mlp(layers: int = 4, width: int = 256) -> nn.Sequential:
    dg.manual_seed(0)
    mods = [m for _ in range(layers) for m in (nn.Linear(width, width), nn.GELU())]
    return nn.Sequential(*mods, nn.Linear(width, 8))


def _grads(model: nn.Module, f, x: dg.Tensor) -> list:
    model.zero_grad()
    f(x).pow(2).sum().backward()
    return [p.grad._data.copy() for p in model.parameters()]


def _held_after_forward(f, x: dg.Tensor) -> tuple:
    """Bytes a training call holds between forward and backward (its output and residuals)."""
    f(x).sum().backward()  # compiled once, gradients allocated
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y = f(x)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    y.sum().backward()
    return held, y._data.nbytes


@pytest.mark.parametrize("budget", [0.5, "bytes"])
def test_half_the_residual_bytes_gives_the_same_gradients_and_fits(budget):
    model = _gelu_mlp()
    x = dg.randn(64, 256)
    f = dg.jit.trace(model, x)
    free = f.memory_plan(backward=True)
    ref = _grads(model, f, x)
    held0, out_bytes = _held_after_forward(f, x)
    limit = free.residual_bytes // 2
    f.compile(memory_budget=0.5 if budget == 0.5 else limit)
    plan = f.memory_plan(backward=True)
    assert plan.budget == limit
    assert plan.residual_bytes <= limit < free.residual_bytes
    # the four gelu outputs (the next layer's inputs) are recomputed from their inputs
    assert [r.op for r in plan.recomputed] == ["gelu"] * 4
    assert all(r.bytes_saved == 64 * 256 * 4 and r.flops == 64 * 256 and r.nodes == 1
               for r in plan.recomputed)
    assert "recomputed in backward" in str(plan)
    got = _grads(model, f, x)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)
    held, _ = _held_after_forward(f, x)
    slack = 16 * 1024  # Python objects: the node, tensors, lists
    assert held0 > free.residual_bytes  # unconstrained: every residual is held
    assert held <= limit + out_bytes + slack < held0


def test_symbolic_sizes_fit_for_every_batch():
    model = _gelu_mlp(3, 64)
    x = dg.randn(16, 64)
    f = dg.jit.trace(model, x, dynamic_dims={0: "B"})
    ref = _grads(model, f, x)
    free = f.memory_plan(backward=True)
    f.compile(memory_budget=0.5)
    plan = f.memory_plan(backward=True)
    assert str(free.residual_bytes) == "1536*B" and str(plan.residual_bytes) == "768*B"
    assert f.memory_plan(backward=True, B=32).residual_bytes == 768 * 32
    for a, b in zip(_grads(model, f, x), ref):
        np.testing.assert_array_equal(a, b)


def test_a_budget_nothing_cheap_can_meet_warns_and_keeps_gradients():
    dg.manual_seed(1)
    model = nn.Sequential(nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh())
    x = dg.randn(8, 32)
    f = dg.jit.trace(model, x)
    ref = _grads(model, f, x)
    f.compile(memory_budget=0.1)  # tanh saves its output: recomputing it needs its input
    with pytest.warns(RuntimeWarning, match="over the budget"):
        got = _grads(model, f, x)
    assert f.memory_plan(backward=True).recomputed == []
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)


def test_bad_budgets_are_refused():
    f = dg.jit.trace(nn.Linear(4, 4), dg.randn(2, 4), dynamic_dims={0: "B"})
    with pytest.raises(ValueError, match="give memory_budget as a fraction"):
        f.compile(memory_budget=1000)
    with pytest.raises(ValueError, match=r"must be in \(0, 1\], got 1.5"):
        f.compile(memory_budget=1.5)
    with pytest.raises(TypeError, match="memory_budget must be an int"):
        f.compile(memory_budget="half")
    g = dg.jit.trace(nn.Linear(4, 4), dg.randn(2, 4))
    with pytest.raises(ValueError, match="must be >= 0"):
        g.compile(memory_budget=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g.compile(memory_budget=None)
