"""Scripted code that computes with symbolic sizes at run time: a `range` whose bound is a size
expression (`range(x.shape[0] * 2)`), a carried int compared with or reduced by a size
(`while i < x.shape[0]`, `x[i % x.shape[0]]`), and `zip`/`enumerate` over tensors of symbolic
length. Each function's generic graph (no example inputs; its tensors are 1-d, the rank the
generic search tries first) is saved, loaded and run against eager at several sizes, values and
gradients."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.ir.text import print_graph


def doubled_range(x):
    s = x[0] * 0
    for i in range(x.shape[0] * 2):
        s = s + x[i % x.shape[0]] * i
    return s


def inner_range(x):
    s = x[0] * 0
    for i in range(1, x.shape[0] - 1):
        s = s + x[i] * i
    return s


def while_below_size(x):
    i = 0
    total = x[0] * 0
    while i < x.shape[0]:
        total = total + x[i] * (i + 1)
        i += 2
    return total


def wrap_around(x, n: int):
    total = x[0] * 0
    for i in range(n):
        total = total + x[i % x.shape[0]]
    return total


def zip_rows(xs, ys):
    acc = xs[0] * 0
    for i, (a, b) in enumerate(zip(xs, ys), start=1):
        acc = acc + a * b * i
    return acc


def decided_comparison(x):
    if x.shape[0] + 1 > x.shape[0]:  # true for every size: decided when compiling
        return x * 2
    return x


CASES = {
    "range(x.shape[0] * 2)": (doubled_range, lambda n: [(n,)]),
    "range(1, x.shape[0] - 1)": (inner_range, lambda n: [(n,)]),
    "while i < x.shape[0]": (while_below_size, lambda n: [(n,)]),
    "x[i % x.shape[0]]": (wrap_around, lambda n: [(n,), 7]),
    "enumerate(zip(xs, ys))": (zip_rows, lambda n: [(n,), (n + 2,)]),
    "s0 + 1 > s0": (decided_comparison, lambda n: [(n,)]),
}


def _args(spec, seed, grad):
    rng = np.random.default_rng(seed)
    out = []
    for s in spec:
        out.append(s if isinstance(s, int) else
                   dg.tensor(rng.standard_normal(s), dtype=dg.float32, requires_grad=grad))
    return out


def _graph_args(args):
    return [dg.tensor(a, dtype=dg.int64) if isinstance(a, int) else a for a in args]


@pytest.mark.parametrize("name", list(CASES))
def test_generic_graph_computes_sizes_at_run_time_like_eager(name, tmp_path):
    fn, spec = CASES[name]
    s = dg.jit.script(fn)
    assert s.graph.meta["generic"] is True
    s.save(tmp_path / "f.dgm")
    loaded = dg.jit.load(tmp_path / "f.dgm")
    for n in (2, 5, 9):
        args = _args(spec(n), n, grad=False)
        want = fn(*args)
        np.testing.assert_allclose(loaded(*_graph_args(args)).numpy(), want.numpy(),
                                   rtol=1e-5, atol=1e-6)
        args = _args(spec(n), n, grad=True)
        w = dg.tensor(np.random.default_rng(50 + n).standard_normal(tuple(want.shape)),
                      dtype=dg.float32)
        (loaded(*_graph_args(args)) * w).sum().backward()
        got = [a.grad.numpy() for a in args if not isinstance(a, int)]
        for a in args:
            if not isinstance(a, int):
                a.grad = None
        (fn(*args) * w).sum().backward()
        for g, a in zip(got, [a for a in args if not isinstance(a, int)]):
            np.testing.assert_allclose(g, a.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_a_size_expression_trip_count_is_a_graph_value():
    text = print_graph(dg.jit.script(doubled_range).graph)
    assert "fill_value='2*s0'" in text and "loop(" in text


def test_zip_of_two_symbolic_lengths_runs_the_shortest():
    text = print_graph(dg.jit.script(zip_rows).graph)
    assert "minimum(" in text and "loop(" in text


def test_decided_size_comparison_stays_python():
    text = print_graph(dg.jit.script(decided_comparison).graph)
    assert "if(" not in text and "gt(" not in text


def test_zip_over_a_0d_tensor_says_so():
    def f(x, y):
        for a, b in zip(x, y):
            x = x + a * b
        return x
    s = dg.jit.script(f, example_inputs=[(dg.tensor([1.0, 2.0]), dg.tensor([3.0, 4.0]))])
    np.testing.assert_allclose(s(dg.tensor([1.0, 2.0]), dg.tensor([3.0, 4.0])).numpy(),
                               f(dg.tensor([1.0, 2.0]), dg.tensor([3.0, 4.0])).numpy())
    with pytest.raises(Exception, match="iteration over a 0-d tensor"):
        dg.jit.script(f, example_inputs=[(dg.tensor(1.0), dg.tensor(2.0))])(dg.tensor(1.0),
                                                                            dg.tensor(2.0))
