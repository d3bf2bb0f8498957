"""Slicing a symbolic dimension (`logits[:, :-1]`, `x[1:-1]`, `x[1:x.shape[0] - 1]`): the
length is a size expression (`T - 1`), so one graph serves every size; traced and scripted,
forward and backward against eager, through the text IR and a saved file; sizes too small for
the slice are refused when the function is called, and steps other than 1 when it is compiled."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.nn.functional as F
from dualgraph.ir.text import parse_graph, print_graph
from dualgraph.ir.verify import verify

SLICES = {
    "both ends": lambda x: x[1:-1] * 2,
    "shifted pair": lambda x: x[:, :-1] + x[:, 1:] * 3,
    "from 2": lambda x: x[2:].exp(),
    "size bound": lambda x: x[1:x.shape[0] - 1].sin(),
}


def _check(compiled, fn, shape):
    x = dg.from_numpy(np.random.default_rng(shape[0]).standard_normal(shape)).requires_grad_()
    y = compiled(x)
    xe = x.detach().clone().requires_grad_()
    ye = fn(xe)
    np.testing.assert_allclose(y.detach().numpy(), ye.detach().numpy(), rtol=1e-12)
    w = dg.from_numpy(np.random.default_rng(1).standard_normal(tuple(ye.shape)))
    (y * w).sum().backward()
    (ye * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xe.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", SLICES)
def test_traced_slices_of_a_symbolic_dim(name, tmp_path):
    fn = SLICES[name]
    example = dg.randn(6, 5, dtype=dg.float64)
    traced = dg.jit.trace(fn, (example,), dynamic_dims={0: "B", 1: "T"})
    for shape in [(4, 3), (9, 7), (6, 5)]:
        _check(traced, fn, shape)
    text = print_graph(traced.graph_before_passes)
    assert print_graph(verify(parse_graph(text))) == text
    traced.save(tmp_path / "f.dgm")
    loaded = dg.jit.load(tmp_path / "f.dgm")
    x = dg.randn(11, 4, dtype=dg.float64)
    np.testing.assert_allclose(loaded(x).numpy(), fn(x).numpy(), rtol=1e-12)


def test_the_length_is_an_expression():
    traced = dg.jit.trace(SLICES["both ends"], (dg.randn(6, 5),), dynamic_dims={0: "B"})
    assert "f32[B - 2, 5]" in print_graph(traced.graph)
    shifted = dg.jit.trace(SLICES["size bound"], (dg.randn(6, 5),), dynamic_dims={0: "B"})
    assert "f32[B - 2, 5]" in print_graph(shifted.graph)


def test_too_small_a_size_is_refused_at_call():
    traced = dg.jit.trace(SLICES["both ends"], (dg.randn(6, 5),), dynamic_dims={0: "B"})
    assert traced(dg.randn(2, 5)).shape == (0, 5)  # B = 2: an empty slice is fine
    with pytest.raises(RuntimeError, match=r"B=1 the size B - 2 of getitem .* negative"):
        traced(dg.randn(1, 5))


def test_steps_and_constant_lengths_are_refused_with_a_reason():
    with pytest.raises(Exception, match="step 2 is not supported"):
        dg.jit.trace(lambda x: x[::2], (dg.randn(6),), dynamic_dims={0: "B"})
    for fn in (lambda x: x[:3], lambda x: x[-2:], lambda x: x[-3:-1]):  # min(k, B) rows
        with pytest.raises(Exception, match=r"min\(\d, \.\.\.\)"):
            dg.jit.trace(fn, (dg.randn(6),), dynamic_dims={0: "B"})


def shifted_loss(logits, targets):
    """GPT's next-token loss: predictions for positions 0..T-2 against tokens 1..T-1."""
    b, t, c = logits.shape
    pred = logits[:, :-1].reshape(-1, c)
    return F.cross_entropy(pred, targets[:, 1:].reshape(-1))


def test_gpt_shifted_loss_scripted_and_traced_over_batch_and_time():
    def inputs(b, t, seed):
        rng = np.random.default_rng(seed)
        return (dg.from_numpy(rng.standard_normal((b, t, 7))).requires_grad_(),
                dg.from_numpy(rng.integers(0, 7, (b, t))))
    scripted = dg.jit.script(shifted_loss, dynamic_dims={"logits": {0: "B", 1: "T"},
                                                         "targets": {0: "B", 1: "T"}})
    traced = dg.jit.trace(shifted_loss, inputs(2, 5, 0)[:2],
                          dynamic_dims={"logits": {0: "B", 1: "T"}, "targets": {0: "B", 1: "T"}})
    for compiled in (scripted, traced):
        for b, t in [(2, 5), (3, 9), (1, 2)]:
            logits, targets = inputs(b, t, b * 10 + t)
            loss = compiled(logits, targets)
            ref_logits = logits.detach().clone().requires_grad_()
            ref = shifted_loss(ref_logits, targets)
            np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
            loss.backward()
            ref.backward()
            np.testing.assert_allclose(logits.grad.numpy(), ref_logits.grad.numpy(), rtol=1e-10)


def count_twice(x):
    y = x * 2
    for i in range(x.shape[0] * 2 - 1):
        y = y + i
    return y


def test_script_loop_over_a_size_expression_saves_and_runs(tmp_path):
    """`range(2 * x.shape[0] - 1)`: the trip count is computed from the input's size when the
    graph runs; the generic graph (never called) saves and serves any size."""
    scripted = dg.jit.script(count_twice)
    scripted.generic.save(tmp_path / "loop.dgm")
    loaded = dg.jit.load(tmp_path / "loop.dgm")
    for n in (1, 3, 6):
        x = dg.randn(n)
        expected = x.numpy() * 2 + sum(range(2 * n - 1))
        np.testing.assert_allclose(scripted(x).numpy(), expected, rtol=1e-6)
        np.testing.assert_allclose(loaded(x).numpy(), expected, rtol=1e-6)


def halves_while(x):
    i = 0
    total = x.sum() * 0
    while i < x.shape[0] // 1 - 1:  # a comparison with a size: decided when the graph runs
        total = total + x[i % x.shape[0]] * (i + 1)
        i += 2
    return total + i


def test_comparisons_and_remainders_of_sizes_run_in_the_graph(tmp_path):
    scripted = dg.jit.script(halves_while)
    scripted.generic.save(tmp_path / "w.dgm")
    loaded = dg.jit.load(tmp_path / "w.dgm")
    for n in (1, 2, 5, 8):
        x = dg.randn(n)  # the generic graph's default dtype
        expected = halves_while(x).item()
        for f in (scripted, loaded):
            np.testing.assert_allclose(f(x).item(), expected, rtol=1e-6)


def test_a_traced_python_branch_on_a_size_is_still_refused():
    def branch(x):
        return x * 2 if x.shape[0] > 3 else x
    with pytest.raises(Exception, match="(?i)data-dependent|python bool|control flow"):
        dg.jit.trace(branch, (dg.randn(5),), dynamic_dims={0: "B"})
