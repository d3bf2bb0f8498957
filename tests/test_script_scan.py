"""Loop scan outputs: a Python list appended once per iteration of a loop whose trip count is
known only at run time, then stacked, compiles into the loop's scan output (the RNN pattern)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dualgraph as dg
from dualgraph.ir.errors import VerificationError
from dualgraph.ir.text import parse_graph, print_graph
from dualgraph.ir.verify import verify
from dualgraph.jit import GraphFunction, run_reference
from dualgraph.jit.tracer import ScriptError
from dualgraph.passes.dce import dce
from dualgraph.passes.fold import fold_constants


def _rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def rnn(xs, h, W, U):
    outs = []
    for t in range(xs.shape[0]):
        h = dg.tanh(xs[t] @ W + h @ U)
        outs.append(h)
    return dg.stack(outs)


def rnn_both(xs, h, W, U):
    # the final state and the stacked states, stacked along dim 1 (batch first)
    outs = []
    for x in xs:
        h = dg.tanh(x @ W + h @ U)
        outs.append(h)
    return h, dg.stack(outs, 1)


def rnn_branch(xs, h, W, U):
    outs = []
    for t in range(xs.shape[0]):
        h = dg.tanh(xs[t] @ W + h @ U)
        if h.sum() > 0:
            outs.append(h * 2)
        else:
            outs.append(-h)
    return dg.stack(outs) + xs.sum()


def _args(t, seed=0):
    return [_rand(t, 2, 3, seed=seed + t), _rand(2, 4, seed=1), _rand(3, 4, seed=2, scale=.5),
            _rand(4, 4, seed=3, scale=.5)]


def _tensors(arrays, grad=False):
    return [dg.tensor(a.copy(), requires_grad=grad) for a in arrays]


@pytest.mark.parametrize("fn", [rnn, rnn_both, rnn_branch])
def test_rnn_over_a_dynamic_time_dim_matches_eager_at_three_lengths(fn):
    sf = dg.jit.script(fn, dynamic_dims={"xs": {0: "T"}})
    for t in (1, 3, 6):
        arrays = _args(t)
        with dg.no_grad():
            got, want = sf(*_tensors(arrays)), fn(*_tensors(arrays))
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    text = str(sf.graph)
    assert "loop(" in text and "f32[T, 2, 4]" in text, text
    assert len(sf._cache) == 1  # one graph served every length


def test_scan_output_text_round_trip_and_reference_interpreter():
    sf = dg.jit.script(rnn, dynamic_dims={"xs": {0: "T"}})
    arrays = _args(3)
    with dg.no_grad():
        sf(*_tensors(arrays))
    g = sf.graph
    text = print_graph(g)
    back = verify(parse_graph(text))
    assert print_graph(back) == text
    f = GraphFunction(back)
    want = rnn(*_tensors(arrays)).numpy()
    np.testing.assert_allclose(f(*_tensors(arrays)).numpy(), want, rtol=1e-5, atol=1e-6)
    with dg.no_grad():
        ref = run_reference(back, _tensors(arrays))[0]
    np.testing.assert_allclose(ref.numpy(), want, rtol=1e-5, atol=1e-6)


def test_scan_output_saves_and_loads_in_a_fresh_process(tmp_path):
    sf = dg.jit.script(rnn, dynamic_dims={"xs": {0: "T"}})
    with dg.no_grad():
        sf(*_tensors(_args(2)))
    sf.save(tmp_path / "rnn.dgm")
    loaded = dg.jit.load(tmp_path / "rnn.dgm")
    for t in (1, 5):
        arrays = _args(t)
        np.testing.assert_allclose(loaded(*_tensors(arrays)).numpy(),
                                   rnn(*_tensors(arrays)).numpy(), rtol=1e-5, atol=1e-6)
        for j, a in enumerate(arrays):
            np.save(tmp_path / f"in{t}_{j}.npy", a)
        np.save(tmp_path / f"want{t}.npy", rnn(*_tensors(arrays)).detach().numpy())
    code = textwrap.dedent("""
        import numpy as np, dualgraph as dg
        f = dg.jit.load("rnn.dgm")
        for t in (1, 5):
            got = f(*[dg.from_numpy(np.load(f"in{t}_{j}.npy")) for j in range(4)]).numpy()
            np.testing.assert_allclose(got, np.load(f"want{t}.npy"), rtol=1e-5, atol=1e-6)
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


@pytest.mark.parametrize("fn", [rnn, rnn_both, rnn_branch])
def test_gradients_through_scan_outputs_match_eager(fn):
    sf = dg.jit.script(fn, dynamic_dims={"xs": {0: "T"}})
    for t in (1, 4):
        arrays = _args(t)
        ea, ca = _tensors(arrays, True), _tensors(arrays, True)
        eo, co = fn(*ea), sf(*ca)
        eo = eo if isinstance(eo, tuple) else (eo,)
        co = co if isinstance(co, tuple) else (co,)
        weights = [dg.tensor(_rand(*o.shape, seed=9)) for o in eo]
        sum((o * w).sum() for o, w in zip(eo, weights)).backward()
        sum((o * w).sum() for o, w in zip(co, weights)).backward()
        for e, c in zip(ea, ca):
            np.testing.assert_allclose(c.grad.numpy(), e.grad.numpy(), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------- the IR
SCAN = """graph(%x: f32[T, 3], %h0: f32[3]) {
  %0 = sym_size(%x) {dim=0} : i64[]
  %1, %2 = loop(%0, True, %h0) : f32[3], f32[T, 3] {
    body(%3: int, %4: f32[3]) {
      %5 = scalar_tensor(%3) {dtype=None, device=None} : i64[]
      %6 = index(%x, %5) {dims=(0,)} : f32[3]
      %7 = add(%6, %4) {alpha=1} : f32[3]
      %8 = tanh(%7) : f32[3]
      yield (True, %8, %7)
    }
  }
  return (%1, %2)
}"""


def _python_scan(x, h):
    items = []
    for row in x:
        pre = row + h
        h = np.tanh(pre)
        items.append(pre)
    return h, np.stack(items) if items else np.zeros((0, 3), np.float32)


@pytest.mark.parametrize("t", [0, 1, 4])
def test_text_scan_loop_runs_in_generated_code_and_the_reference_interpreter(t):
    g = verify(parse_graph(SCAN))
    assert print_graph(g) == SCAN
    f = GraphFunction(g)
    assert "_stack_scan(" in f.code
    x, h = _rand(t, 3), _rand(3, seed=1)
    want = _python_scan(x, h)
    for got in (f(dg.tensor(x), dg.tensor(h)), run_reference(g, [dg.tensor(x), dg.tensor(h)])):
        assert tuple(got[1].shape) == (t, 3)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-6)


def test_a_loop_of_unknown_length_gives_a_fresh_size():
    def doubling(x):
        outs = []
        while x.sum() < 10:
            x = x * 2
            outs.append(x)
        return dg.stack(outs)

    sf = dg.jit.script(doubling)
    for start, n in (([1.0, 1.0], 3), ([3.0, 3.0], 1), ([6.0, 6.0], 0)):
        got = sf(dg.tensor(start))
        assert tuple(got.shape) == (n, 2)
        if n:  # (eager's stack refuses an empty list; the scan output of no iteration is empty)
            np.testing.assert_allclose(got.numpy(), doubling(dg.tensor(start)).numpy())
    assert "f32[u0, 2]" in str(sf.graph), sf.graph


@pytest.mark.parametrize("change,rule", [
    ("f32[T, 3]) {", "yield a condition, the carried values"),  # no item yielded
    ("f32[3], f32[T, 4] {", "must have type f32[n, 3]"),
    ("f32[3], f32[4, 3] {", "first size is 4, an int"),
])
def test_verifier_checks_scan_outputs(change, rule):
    text = SCAN.replace("f32[3], f32[T, 3] {", change)
    if change.endswith("f32[T, 3]) {"):
        text = SCAN.replace("%1, %2 = loop(%0, True, %h0) : f32[3], f32[T, 3] {",
                            "%1, %2, %9 = loop(%0, True, %h0) : f32[3], f32[T, 3], f32[T, 3] {")
    with pytest.raises(VerificationError, match=re.escape(rule)):
        verify(parse_graph(text))


def test_dce_drops_an_unread_scan_output_and_fold_empties_a_loop_that_never_runs():
    g = parse_graph(SCAN.replace("return (%1, %2)", "return (%1)"))
    dce(g, [])
    verify(g)
    assert "loop(%0, True, %h0) : f32[3] {" in print_graph(g), print_graph(g)
    assert "add(" in print_graph(g)  # still needed by the carried value
    zero = parse_graph(SCAN.replace("loop(%0, True, %h0) : f32[3], f32[T, 3]",
                                    "loop(0, True, %h0) : f32[3], f32[0, 3]"))
    verify(zero)
    assert fold_constants(zero, [])
    verify(zero)
    assert "loop(" not in print_graph(zero)
    out = GraphFunction(zero)(dg.tensor(_rand(2, 3)), dg.tensor(_rand(3, seed=1)))
    assert tuple(out[1].shape) == (0, 3)


# ------------------------------------------------------------------------------ errors
def stacked_then_len(xs):
    outs = []
    for t in range(xs.shape[0]):
        outs.append(xs[t] * 2)
    return dg.stack(outs), len(outs)


def appended_before(xs):
    outs = [xs[0]]
    for t in range(xs.shape[0]):
        outs.append(xs[t] * 2)
    return dg.stack(outs)


def appended_twice(xs):
    outs = []
    for t in range(xs.shape[0]):
        outs.append(xs[t])
        outs.append(xs[t] * 2)
    return dg.stack(outs)


def appended_in_one_arm(xs):
    outs = []
    for t in range(xs.shape[0]):
        if xs[t].sum() > 0:
            outs.append(xs[t])
    return dg.stack(outs)


def nested_scan(xs):
    outs = []
    for t in range(xs.shape[0]):
        for u in range(xs.shape[1]):
            outs.append(xs[t, u])
    return dg.stack(outs)


def returned_as_a_list(xs):
    outs = []
    for t in range(xs.shape[0]):
        outs.append(xs[t])
    return outs, xs


def comprehension_over_it(xs):
    outs = []
    for t in range(xs.shape[0]):
        outs.append(xs[t])
    return dg.cat([o.unsqueeze(0) for o in outs])


@pytest.mark.parametrize("fn,what", [
    (returned_as_a_list, "a Python list is changed inside a loop whose trip count is known only"),
    (comprehension_over_it, "a Python list is changed inside a loop whose trip count is known"),
    (stacked_then_len, "a Python list is changed inside a loop whose trip count is known only"),
    (appended_before, "a Python list is changed inside a loop whose trip count is known only"),
    (appended_twice, "a Python list is changed inside a loop whose trip count is known only"),
    (appended_in_one_arm, "a Python list gets 1 items on one path of this if and 0"),
    (nested_scan, "a Python list is changed inside a loop whose trip count is known only"),
])
def test_lists_that_are_not_scans_keep_the_clear_error(fn, what):
    sf = dg.jit.script(fn, dynamic_dims={"xs": {0: "T", 1: "S"}})
    with pytest.raises(ScriptError, match=re.escape(what)):
        sf(dg.tensor(_rand(3, 2)))


def stack_forms(xs):
    a, b = [], []
    for t in range(xs.shape[0]):
        a.append(xs[t] * 2)
        b.append(xs[t] + 1)
        if xs[t].sum() > 2:
            break
    return dg.stack(a, dim=0), _stack_last(b)


def _stack_last(items):
    return dg.stack(items, -1)  # a user function given the scanned list


def test_stack_dims_helpers_and_a_loop_that_breaks():
    sf = dg.jit.script(stack_forms, dynamic_dims={"xs": {0: "T"}})
    for rows in ([[1.0, 0.0], [3.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]]):
        got, want = sf(dg.tensor(rows)), stack_forms(dg.tensor(rows))
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g.numpy(), w.numpy())
    assert "f32[u0, 2]" in str(sf.graph)  # a loop that may break: its length is bound at run time


def nested_scans(xs):
    outs = []
    for t in range(xs.shape[0]):
        inner = []  # a list of the outer body's own: the inner loop's scan output
        for u in range(xs.shape[1]):
            inner.append(xs[t, u] * t)
        outs.append(dg.stack(inner))
    return dg.stack(outs)


def test_nested_scans_with_gradients():
    sf = dg.jit.script(nested_scans, dynamic_dims={"xs": {0: "T", 1: "S"}})
    for shape in ((3, 2), (1, 4)):
        a = _rand(*shape)
        x, y = dg.tensor(a, requires_grad=True), dg.tensor(a.copy(), requires_grad=True)
        got, want = sf(x), nested_scans(y)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)
        got.pow(2).sum().backward()
        want.pow(2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert str(sf.graph).count("loop(") == 2 and "f32[T, S]" in str(sf.graph)


def test_concrete_sizes_still_unroll():
    sf = dg.jit.script(rnn)
    arrays = _args(3)
    with dg.no_grad():
        np.testing.assert_allclose(sf(*_tensors(arrays)).numpy(), rnn(*_tensors(arrays)).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert "loop(" not in str(sf.graph)
