"""The runtime of compiled functions (traced, scripted, loaded from `.dgm`): version checks of what
the compiled backward reads, outputs freed without the cyclic garbage collector, and the script
cache keyed by graph input types and bounded."""

from __future__ import annotations

import gc
import importlib
import tracemalloc
import weakref

import numpy as np
import pytest

import dualgraph as dg

script_mod = importlib.import_module("dualgraph.jit.script")

MODIFIED = "modified by an inplace operation"


def sin_prod(x, w):
    return (x * w).sin().sum()


def prod_sum(x, w):
    return (x * w).sum()


def _compiled(kind, fn, example, tmp_path):
    if kind == "trace":
        return dg.jit.trace(fn, example)
    scripted = dg.jit.script(fn)
    if kind == "script":
        return scripted
    scripted(*example)
    path = tmp_path / f"{fn.__name__}.dgm"
    dg.jit.save(scripted, path)
    return dg.jit.load(path)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = dg.tensor(rng.normal(size=(4, 5)).astype(np.float32))
    w = dg.tensor(rng.normal(size=(4, 5)).astype(np.float32), requires_grad=True)
    return x, w


# ------------------------------------------------------------------ version counters (item 1)
@pytest.mark.parametrize("kind", ["trace", "script", "load"])
def test_inplace_change_of_an_input_the_backward_reads_raises_as_in_eager(kind, tmp_path):
    x, w = _inputs()
    f = _compiled(kind, sin_prod, (x, w), tmp_path)
    xx = x * 1.0
    y = f(xx, w)
    assert type(y.grad_fn).__name__ == "DifferentiableGraphBackward"
    with dg.no_grad():
        xx.mul_(100)
    with pytest.raises(RuntimeError, match=MODIFIED) as compiled_err:
        y.backward()
    assert w.grad is None  # nothing was accumulated
    # eager raises the same error for the same program
    xe = x * 1.0
    ye = sin_prod(xe, w)
    with dg.no_grad():
        xe.mul_(100)
    with pytest.raises(RuntimeError, match=MODIFIED) as eager_err:
        ye.backward()
    assert str(compiled_err.value).split(":")[0] == str(eager_err.value).split(":")[0]
    assert "is at version 1; expected version 0" in str(compiled_err.value)


@pytest.mark.parametrize("kind", ["trace", "script", "load"])
def test_inplace_change_of_a_view_of_the_input_raises(kind, tmp_path):
    x, w = _inputs()
    f = _compiled(kind, sin_prod, (x, w), tmp_path)
    xx = x * 1.0
    y = f(xx, w)
    with dg.no_grad():
        xx[0].mul_(3)  # through a view: the version counter is shared
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


@pytest.mark.parametrize("kind", ["trace", "script", "load"])
def test_no_error_and_exact_gradients_when_nothing_was_modified(kind, tmp_path):
    x, w = _inputs()
    f = _compiled(kind, sin_prod, (x, w), tmp_path)
    f(x, w).backward()
    xn, wn = x.numpy().astype(np.float64), w.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(w.grad.numpy(), xn * np.cos(xn * wn), rtol=1e-5, atol=1e-6)
    # an in-place change made and undone before backward is still a change (as in eager)
    # but a copy of the input, changed, is not the input
    w.grad = None
    xx = x * 1.0
    y = f(xx, w)
    with dg.no_grad():
        xx.clone().mul_(100)
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), xn * np.cos(xn * wn), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["trace", "script", "load"])
def test_inplace_change_of_an_input_the_backward_does_not_read_is_fine(kind, tmp_path):
    # d(sum(x*w))/dw = x: the backward reads x, never w
    x, w = _inputs()
    f = _compiled(kind, prod_sum, (x, w), tmp_path)
    y = f(x, w)
    with dg.no_grad():
        w.mul_(7)
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), x.numpy(), rtol=0, atol=0)


def exp_of(x):
    return x.exp()


@pytest.mark.parametrize("kind", ["trace", "script"])
def test_inplace_change_of_an_output_the_backward_reads_raises(kind, tmp_path):
    # exp's backward reads its own output: changing the output in place must be caught
    x = dg.tensor(np.linspace(-1, 1, 6).astype(np.float32), requires_grad=True)
    f = _compiled(kind, exp_of, (x,), tmp_path)
    y = f(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.sum().backward()
    ye = x.exp()  # eager agrees
    ye.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED):
        ye.sum().backward()


def test_write_back_of_an_input_the_backward_reads_raises_as_in_eager():
    def grad_then_scale(x, w):
        y = (x * w).sum()
        x.mul_(2)
        return y

    x, w = _inputs()
    for run in (grad_then_scale, dg.jit.trace(grad_then_scale, (x * 1.0, w))):
        y = run(x * 1.0, w)
        with pytest.raises(RuntimeError, match=MODIFIED):
            y.backward()


# --------------------------------------------------------------- outputs freed (item 2)
def chain(x, y):
    return ((x * y + 1).sin() * 2 - y).exp()


def pair(x, y):
    return {"a": x * y, "b": [x + y, (x - y,)]}


def _freed_at_once(f, *args):
    """A dropped output (every leaf of it) dies without the cyclic garbage collector."""
    gc.collect()
    gc.disable()
    try:
        out = f(*args)
        leaves = []
        stack = [out]
        while stack:
            o = stack.pop()
            if isinstance(o, dict):
                stack.extend(o.values())
            elif isinstance(o, (list, tuple)):
                stack.extend(o)
            else:
                leaves.append(o)
        refs = [weakref.ref(t) for t in leaves]
        fn_refs = [weakref.ref(t.grad_fn) for t in leaves if t.grad_fn is not None]
        del out, leaves, stack, o
        return all(r() is None for r in refs + fn_refs)
    finally:
        gc.enable()


@pytest.mark.parametrize("fn", [chain, pair])
@pytest.mark.parametrize("grad", [False, True])
def test_dropped_outputs_are_freed_at_once(fn, grad, tmp_path):
    x = dg.randn(3, 4)
    y = dg.randn(3, 4, requires_grad=grad)
    traced = dg.jit.trace(fn, (x, y))
    scripted = dg.jit.script(fn)
    scripted(x, y)
    dg.jit.save(traced, tmp_path / "f.dgm")
    loaded = dg.jit.load(tmp_path / "f.dgm")
    for f in (traced, scripted, loaded):
        f(x, y)  # compiled (and differentiated) before measuring
        assert _freed_at_once(f, x, y), f


def test_dropped_output_memory_returns_at_once():
    x, y = dg.randn(250_000), dg.randn(250_000)  # 1 MB per array
    f = dg.jit.trace(chain, (x, y))
    f(x, y)
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        out = f(x, y)
        held = tracemalloc.get_traced_memory()[0] - base
        del out
        after = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
    finally:
        gc.enable()
    assert held >= 1_000_000 and after < 100_000, (held, after)


@pytest.mark.parametrize("kind", ["trace", "script"])
@pytest.mark.parametrize("grad", [False, True])
def test_two_thousand_calls_keep_memory_flat(kind, grad):
    x = dg.randn(64, 32)
    w = dg.randn(64, 32, requires_grad=grad)
    f = dg.jit.trace(chain, (x, w)) if kind == "trace" else dg.jit.script(chain)
    for _ in range(20):
        f(x, w)
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        # warm-up under tracemalloc: CPython's free lists (up to 2,000 tuples of each small
        # size) fill, and tracemalloc counts what they hold as allocated
        for _ in range(2500):
            out = f(x, w)
        first = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            out = f(x, w)
        last = tracemalloc.get_traced_memory()[0]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        gc.enable()
    del out
    one_output = 64 * 32 * 4
    assert last - first < 20_000, (first, last)
    assert peak - first < 20 * one_output, (first, peak)


# ------------------------------------------------------------------- script cache (item 3)
def test_dynamic_dims_give_one_compile_for_every_batch_size(monkeypatch):
    compiles = []
    original = script_mod.ScriptFunction._compile
    monkeypatch.setattr(script_mod.ScriptFunction, "_compile",
                        lambda self, slots: compiles.append(1) or original(self, slots))

    def f(x):
        return x.sin() * 2

    s = dg.jit.script(f, dynamic_dims={"x": {0: "B"}})
    for b in range(1, 501):
        x = dg.randn(b, 3)
        np.testing.assert_allclose(s(x).numpy(), np.sin(x.numpy()) * 2, rtol=1e-6)
    assert len(compiles) == 1 and len(s._cache) == 1
    assert str(s.graph).startswith("graph(%x: f32[B, 3])")


def test_the_cache_is_bounded_and_dropped_signatures_recompile(monkeypatch):
    compiles = []
    original = script_mod.ScriptFunction._compile
    monkeypatch.setattr(script_mod.ScriptFunction, "_compile",
                        lambda self, slots: compiles.append(1) or original(self, slots))
    monkeypatch.setattr(script_mod, "CACHE_SIZE", 8)

    def f(x):
        return x.cos() + x.shape[0]

    s = dg.jit.script(f)
    for n in range(1, 21):  # 20 signatures, 8 kept
        x = dg.randn(n)
        np.testing.assert_allclose(s(x).numpy(), np.cos(x.numpy()) + n, rtol=1e-6)
    assert len(s._cache) == 8 and len(compiles) == 20
    for n in (20, 19, 13):  # still cached: no compile
        s(dg.randn(n))
    assert len(compiles) == 20
    x = dg.randn(1)  # dropped long ago: recompiles, correctly
    np.testing.assert_allclose(s(x).numpy(), np.cos(x.numpy()) + 1, rtol=1e-6)
    assert len(compiles) == 21 and len(s._cache) == 8
    assert script_mod.CACHE_SIZE == 8 and "64" in script_mod.__doc__
