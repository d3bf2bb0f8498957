"""Capture bugs found by differential testing (issue 22): each case runs eagerly, traced,
scripted and saved/loaded on fresh inputs, values and gradients against eager (and NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg


def _t(rng, *shape, grad=False):
    return dg.tensor(rng.standard_normal(shape), requires_grad=grad)


# --------------------------------------------------------------------- contiguous before view

def transpose_view(x):
    return x.t().contiguous().view(-1)


def attention_merge(y):
    B, H, T, D = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * D)


CASES = [(transpose_view, (3, 4), lambda a: a.T.reshape(-1)),
         (attention_merge, (2, 3, 5, 4), lambda a: a.transpose(0, 2, 1, 3).reshape(2, 5, 12))]


@pytest.mark.parametrize("mode", ["trace", "script"])
@pytest.mark.parametrize("fn,shape,ref", CASES, ids=["t-view", "attention-merge"])
def test_contiguous_then_view_runs_on_fresh_inputs(mode, fn, shape, ref):
    rng = np.random.default_rng(0)
    compiled = dg.jit.trace(fn, _t(rng, *shape)) if mode == "trace" else dg.jit.script(fn)
    for _ in range(2):  # fresh inputs, not the example
        x = _t(rng, *shape)
        out = compiled(x)
        np.testing.assert_array_equal(out.numpy(), ref(x.numpy()))
        np.testing.assert_array_equal(out.numpy(), fn(x).numpy())
    assert compiled.graph.op_counts()["contiguous"] == 1  # a real node, not a no-op


@pytest.mark.parametrize("mode", ["trace", "script"])
@pytest.mark.parametrize("fn,shape,ref", CASES, ids=["t-view", "attention-merge"])
def test_contiguous_then_view_gradients_equal_eager(mode, fn, shape, ref):
    rng = np.random.default_rng(1)
    compiled = dg.jit.trace(fn, _t(rng, *shape)) if mode == "trace" else dg.jit.script(fn)
    x = _t(rng, *shape, grad=True)
    n = int(np.prod(shape))
    w = dg.tensor(rng.standard_normal(n))
    (compiled(x).reshape(-1) * w).sum().backward()
    got = x.grad.numpy()
    x.grad = None
    (fn(x).reshape(-1) * w).sum().backward()
    np.testing.assert_array_equal(got, x.grad.numpy())
    expected = ref(np.arange(n, dtype=np.float64).reshape(shape)).astype(int).reshape(-1)
    inverse = np.empty(n)
    inverse[expected] = w.numpy()  # d(out . w)/dx: each input element gets its output's weight
    np.testing.assert_array_equal(got, inverse.reshape(shape))


def test_contiguous_of_a_non_contiguous_graph_input():
    """The array handed to generated code may itself be transposed."""
    f = dg.jit.trace(lambda x: x.contiguous().view(-1), dg.zeros(4, 3, dtype=dg.float64))
    x = dg.tensor(np.arange(12.0).reshape(3, 4)).t()
    assert not x.is_contiguous()
    np.testing.assert_array_equal(f(x).numpy(), np.arange(12.0).reshape(3, 4).T.reshape(-1))


def test_contiguous_view_saves_and_reloads(tmp_path):
    rng = np.random.default_rng(2)
    f = dg.jit.trace(attention_merge, _t(rng, 2, 3, 5, 4))
    f.save(tmp_path / "m.dgm")
    loaded = dg.jit.load(tmp_path / "m.dgm")
    x = _t(rng, 2, 3, 5, 4)
    np.testing.assert_array_equal(loaded(x).numpy(), attention_merge(x).numpy())
    assert "contiguous(" in str(loaded.graph)
