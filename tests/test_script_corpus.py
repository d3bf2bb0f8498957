"""`dg.jit.script`: a corpus of functions with control flow, each compiled and compared with the
same Python run eagerly on inputs that take every branch; the compiled graph must keep its
control flow (`if`/`loop` nodes), and saved graphs must reproduce the outputs in a fresh process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dualgraph as dg
from dualgraph import nn


def A(*values, dtype=np.float32):
    return np.array(values, dtype=dtype)


# ------------------------------------------------------------------------------------ corpus
def if_elif_else(x):
    s = x.sum()
    if s > 1:
        y = x * 2
    elif s < -1:
        y = x - 1
    else:
        y = x * 0 + 0.5
    return y


def python_mode(x, mode):
    # `mode` is a string: decided when compiling, so no `if` node
    if mode == "double":
        return x * 2
    elif mode == "square":
        return x * x
    return -x


def none_default(x, h=None):
    if h is None:
        h = dg.zeros_like(x)
    return x + h * 3


def range_tensor_n(x, n):
    for i in range(n):
        x = x * 0.5 + i
    return x


def range_int_arg(x, n: int):
    acc = x * 0
    for i in range(n):
        if i % 2 == 0:
            acc = acc + x
        else:
            acc = acc - 0.5 * x
    return acc


def range_shape(x):
    acc = x[0] * 0
    for i in range(x.shape[0]):
        acc = acc + x[i] * (i + 1)
    return acc


def range_start_stop_step(x, a: int, b: int):
    up = x.sum() * 0
    for i in range(a, b, 2):
        up = up + i * x[i]
    down = x.sum() * 0
    for j in range(b, a, -1):
        down = down * 2 + j
    return up, down


def newton_sqrt(a):
    x = a
    while (x * x - a).abs().max() > 1e-9:
        x = 0.5 * (x + a / x)
    return x


def collatz_steps(n):
    steps = n * 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def halve_until_small(x):
    k = 0
    while x.abs().max() > 1:
        x = x / 2
        k += 1
    return x, k


def break_on_negative(x):
    total = x[0] * 0
    for i in range(x.shape[0]):
        if x[i] < 0:
            break
        total = total + x[i]
    return total


def continue_on_negative(x):
    total = x[0] * 0
    count = 0
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        total = total + x[i]
        count = count + 1
    return total, count


def continue_then_augassign(x):
    # `+=` (an in-place change) after a data-dependent `continue`
    total = x[0] * 0
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        total += x[i]
    return total


def early_return_if(x):
    if x.sum() < 0:
        return -x
    y = x * 2
    return y + 1


def early_return_in_loop(x):
    for i in range(x.shape[0]):
        if x[i] > 5:
            return x[i] * 10
    return x.sum()


def early_return_in_while(x):
    k = x.sum() * 0
    while k < 10:
        k = k + 1
        if (x * k).sum() > 20:
            return k * 100
    return k


def nested_loops(x):
    acc = x.sum() * 0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] > 0:
                acc = acc + x[i, j] * (i + 1)
            else:
                acc = acc - j
    return acc


def fibonacci_pair(x, n):
    a, b = x, x * 0 + 1
    for _ in range(n):
        a, b = b, a + b
    return a, b


def augmented_assignment(x):
    y = x * 1
    k = 0
    for i in range(x.shape[0]):
        y += 1
        y *= 1.5
        k += i
        if y.sum() > 10:
            y = y - x
        else:
            y = y / 2
    lo, hi = y.min(), y.max()
    lo, hi = hi, lo
    return y, k, hi - lo


def augassign_in_branches_of_loop(x):
    # in-place changes inside the branches of a tensor `if`
    y = x * 1
    for i in range(x.shape[0]):
        if y.sum() > 10:
            y -= x
        else:
            y /= 2
    return y


def rows_of_tensor(x):
    acc = x[0] * 0
    for row in x:
        if row.sum() > 0:
            acc = acc + row
        else:
            acc = acc - row * 2
    return acc


def list_of_tensors(xs):
    acc = xs[0] * 0
    for t in xs:
        if t.mean() > 0:
            acc = acc + t
        else:
            acc = acc * 2
    return acc


def enumerate_zip(xs, ys):
    acc = xs[0] * 0
    for i, (a, b) in enumerate(zip(xs, ys)):
        acc = acc + (a * b) * (i + 1) if a.sum() > b.sum() else acc - b
    return acc


def rnn_tanh(xs, h, w_x, w_h, b):
    for t in range(xs.shape[0]):
        h = (xs[t] @ w_x + h @ w_h + b).tanh()
    return h


class GRUOverTime(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.GRUCell(3, 4)

    def forward(self, xs, h):
        for x in xs:
            h = self.cell(x, h)
        return h


def clipped(v):
    """A helper with its own control flow, compiled inline."""
    out = v
    for _ in range(3):
        if out.abs().max() > 1:
            out = out / 2
    return out


def square_plus(v, c):
    return v * v + c


def calls_plain_helpers(x):
    y = clipped(x * 4)
    return square_plus(y, 1.0)


def inner_scripted_impl(x):
    if x.sum() > 0:
        return x.relu()
    return x.abs() * 3


inner_scripted = dg.jit.script(inner_scripted_impl)


def calls_scripted(x):
    return inner_scripted(x) + inner_scripted(-x)


def calls_scripted_ref(x):
    return inner_scripted_impl(x) + inner_scripted_impl(-x)


def ternary(x):
    y = x * 2 if x.sum() > 0 else x - 1
    return y


def bool_ops(x, y):
    if x.sum() > 0 and y.sum() > 0:
        return x + y
    elif x.sum() > 0 or not y.sum() < -5:
        return x - y
    return x * y


def inplace_in_branches(x):
    # in-place changes in both arms
    x = x * 1
    if x.sum() > 0:
        x += 1
    else:
        x -= 1
    return x


def inplace_outside_branches(x):
    y = x * 1
    y += 1
    if y.sum() > 0:
        y = y * 3
    y[0] = 7.0
    y -= 1
    return y


def setitem_in_loop(x):
    y = dg.zeros_like(x)
    for i in range(x.shape[0]):
        y[i] = dg.where(x[i] > 0, x[i] * 2, x[i] * 0 - 1)
        if y[i] > 1:
            y = y * 1  # a rebinding in a branch is fine
    return y


def setitem_in_branch_of_loop(x):
    # `y[i] = ...` inside the branches of a tensor `if`
    y = dg.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0:
            y[i] = x[i] * 2
        else:
            y[i] = -1.0
    return y


def augassign_in_one_branch(x):
    # in-place change in one arm only
    y = x * 1
    if x.sum() > 0:
        y += 1
    return y


def assert_positive(x):
    assert x.sum() > 0, "x must sum to a positive value"
    return x.log()


class TrainEval(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        y = self.lin(x)
        if self.training:
            y = y * 0.5
            if y.sum() > 0:
                y = y + 1
        else:
            y = y * 2
        return y


def range_append(x):
    outs = []
    for i in range(x.shape[0]):
        y = x * i if x[i] > 0 else x - i
        outs.append(y)
    return dg.stack(outs)


def append_in_tensor_branch(x):
    # a Python list appended to inside both arms of a tensor `if`: its new items are the if's
    # outputs
    outs = []
    for i in range(x.shape[0]):
        if x[i] > 0:
            outs.append(x * i)
        else:
            outs.append(x - i)
    return dg.stack(outs)


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)])

    def forward(self, x):
        for layer in self.layers:
            y = layer(x)
            if y.sum() > 0:
                x = y.relu()
            else:
                x = y.tanh()
        return x


def while_true_break(x):
    k = 0
    while True:
        x = x * 1.5
        k += 1
        if x.sum() > 10:
            break
    return x, k


def nested_if_in_loop(x, n):
    acc = x * 0
    for i in range(n):
        if x.sum() > i:
            if x.max() > 2:
                acc = acc + x
            else:
                acc = acc + 1
        else:
            acc = acc - 1
    return acc


def while_continue(x):
    i = 0
    total = x.sum() * 0
    while i < x.shape[0]:
        i = i + 1
        if x[i - 1] < 0:
            continue
        total = total + x[i - 1]
    return total, i


def python_scalar_becomes_tensor(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            total = total + x[i]
    return total


def loop_carrying_several(x, y, n):
    a, b, c = x, y, x * 0
    for i in range(n):
        c = c + a * b
        a = a + 1
        b = b * 0.5
        if c.sum() > 100:
            c = c / 10
    return a, b, c


def while_in_for(x):
    out = x * 0
    for i in range(x.shape[0]):
        v = x[i]
        while v > 1:
            v = v / 3
        out[i] = v
    return out


def inner_break(x):
    acc = x.sum() * 0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] < 0:
                break  # leaves the inner loop only
            acc = acc + x[i, j]
    return acc


def break_in_list_loop(xs):
    acc = xs[0] * 0
    for t in xs:
        if t.sum() < 0:
            break
        acc = acc + t
    return acc


def return_in_list_loop(xs):
    for t in xs:
        if t.sum() > 5:
            return t
    return xs[0] * 0


def bool_argument(x, flag: bool):
    # a Python bool argument is a graph input: the `if` stays
    if flag:
        return x + 1
    return x - 1


def float_argument_while(x, s: float):
    y = x
    while y.sum() < s:
        y = y * 2
    return y


def counter_augassign_after_return(x, n: int):
    # `i += 1` (a carried int, so an in-place add) after a data-dependent return
    i = 0
    while i < n:
        if x[i % x.shape[0]] > 2:
            return x * i
        i += 1
    return x


# Module instances are created with a fixed seed, so the eager reference and the scripted module
# share their parameters.
dg.manual_seed(7)
GRU = GRUOverTime()
TRAIN_EVAL = TrainEval()
STACK = Stack()
W_X, W_H, B = (dg.randn(3, 4) * 0.5).numpy(), (dg.randn(4, 4) * 0.5).numpy(), \
    dg.randn(4).numpy()

R = np.random.RandomState(0)

# name -> (function, eager reference or None, [argument tuples taking every branch], graph marks)
CASES = {
    "if_elif_else": (if_elif_else, None, [(A(1, 2),), (A(-3, 1),), (A(0.2, 0.1),)], ["if("]),
    "none_default": (none_default, None, [(A(1, 2),), (A(1, 2), A(3, 4))], []),
    "range_tensor_n": (range_tensor_n, None,
                       [(A(1, 2), np.array(3)), (A(1, 2), np.array(0))], ["loop("]),
    "range_int_arg": (range_int_arg, None, [(A(1, 2), 5), (A(1, 2), 0), (A(-1, 2), 1)],
                      ["loop(", "if("]),
    "range_shape": (range_shape, None, [(R.randn(4, 2).astype(np.float32),)], ["loop("]),
    "range_start_stop_step": (range_start_stop_step, None,
                              [(A(*range(8)), 1, 6), (A(*range(8)), 0, 7), (A(*range(8)), 5, 2)],
                              ["loop("]),
    "newton_sqrt": (newton_sqrt, None, [(A(2.0, 9.0, 0.25, dtype=np.float64),),
                                        (A(1.0, dtype=np.float64),)], ["loop("]),
    "collatz_steps": (collatz_steps, None, [(np.array(27),), (np.array(1),), (np.array(6),)],
                      ["loop(", "if("]),
    "halve_until_small": (halve_until_small, None, [(A(10, -3),), (A(0.5, 0.1),)], ["loop("]),
    "break_on_negative": (break_on_negative, None,
                          [(A(1, 2, -1, 5),), (A(1, 2, 3),), (A(-1, 2),)], ["loop(", "if("]),
    "continue_on_negative": (continue_on_negative, None, [(A(1, -2, 3, -4),), (A(1, 2),)],
                             ["loop(", "if("]),
    "early_return_if": (early_return_if, None, [(A(-1, -2),), (A(1, 2),)], ["if("]),
    "early_return_in_loop": (early_return_in_loop, None, [(A(1, 7, 9),), (A(1, 2, 3),)],
                             ["loop(", "if("]),
    "early_return_in_while": (early_return_in_while, None, [(A(1, 2),), (A(0.1, 0.1),)],
                              ["loop(", "if("]),
    "nested_loops": (nested_loops, None, [(A(1, -2, 3, -4, 5, 0.5).reshape(2, 3),)],
                     ["loop(", "if("]),
    "fibonacci_pair": (fibonacci_pair, None, [(A(0.0), np.array(10)), (A(0.0), np.array(0))],
                       ["loop("]),
    "augmented_assignment": (augmented_assignment, None, [(A(1, 2, 3),), (A(-1, 0.5, 0),)],
                             ["loop(", "if("]),
    "inplace_outside_branches": (inplace_outside_branches, None, [(A(1, 2),), (A(-1, -2),)],
                                 ["if("]),
    "rows_of_tensor": (rows_of_tensor, None, [(A(1, 2, -3, -4, 5, -1).reshape(3, 2),)],
                       ["loop(", "if("]),
    "list_of_tensors": (list_of_tensors, None, [([A(1, 2), A(-5, 1), A(3, 3)],)], ["if("]),
    "enumerate_zip": (enumerate_zip, None, [([A(1, 2), A(-1, 0)], [A(0, 0), A(1, 1)])],
                      ["if("]),
    "rnn_tanh": (rnn_tanh, None, [(R.randn(5, 2, 3).astype(np.float32),
                                   np.zeros((2, 4), np.float32), W_X, W_H, B)], ["loop("]),
    "gru_over_time": (GRU, GRU.forward, [(R.randn(6, 2, 3).astype(np.float32),
                                          np.zeros((2, 4), np.float32))], ["loop("]),
    "calls_plain_helpers": (calls_plain_helpers, None, [(A(1, -3),), (A(0.1, 0.1),)],
                            ["loop(", "if("]),
    "calls_scripted": (calls_scripted, calls_scripted_ref, [(A(1, -3),), (A(-1, -3),)],
                       ["if("]),
    "ternary": (ternary, None, [(A(1, 2),), (A(-1, -2),)], ["if("]),
    "bool_ops": (bool_ops, None, [(A(1, 2), A(3, 4)), (A(1, 2), A(-3, -4)),
                                  (A(-1, -2), A(-3, 4)), (A(-1, -2), A(-3, -4))], ["if("]),
    "setitem_in_loop": (setitem_in_loop, None, [(A(1, -2, 3),)], ["loop(", "if("]),
    "assert_positive": (assert_positive, None, [(A(1, 2),)], []),
    "range_append": (range_append, None, [(A(1, -2, 3),)], ["if("]),
    "module_list": (STACK, STACK.forward, [(A(1, 2, 3),), (A(-1, -2, 0.5),)], ["if("]),
    "while_true_break": (while_true_break, None, [(A(1, 2),), (A(20, 1),)], ["loop(", "if("]),
    "nested_if_in_loop": (nested_if_in_loop, None, [(A(1, 2, 3), 8), (A(0.1, 0.2), 3)],
                          ["loop(", "if("]),
    "while_continue": (while_continue, None, [(A(1, -2, 3),), (A(4, 5),)], ["loop(", "if("]),
    "python_scalar_becomes_tensor": (python_scalar_becomes_tensor, None,
                                     [(A(1, -2, 3),), (A(-1, -2),)], ["loop(", "if("]),
    "loop_carrying_several": (loop_carrying_several, None,
                              [(A(1, 2), A(3, 4), 4), (A(10, 20), A(30, 40), 6)],
                              ["loop(", "if("]),
    "while_in_for": (while_in_for, None, [(A(0.5, 30, 2),)], ["loop("]),
    "inner_break": (inner_break, None, [(A(1, 2, -1, 5, 3, -1, 2, 2, 1, 1, 1, 1).reshape(3, 4),)],
                    ["loop(", "if("]),
    "break_in_list_loop": (break_in_list_loop, None, [([A(1, 2), A(-5, 1), A(3, 3)],),
                                                      ([A(1, 2), A(3, 3)],)], ["if("]),
    "return_in_list_loop": (return_in_list_loop, None, [([A(1, 2), A(5, 1), A(3, 3)],),
                                                        ([A(1, 2)],)], ["if("]),
    "bool_argument": (bool_argument, None, [(A(1), True), (A(1), False)], ["if("]),
    "float_argument_while": (float_argument_while, None, [(A(1, 1), 20.0), (A(10, 1), 5.0)],
                             ["loop("]),
}


# In-place changes (and list appends) under a tensor condition: merged into the if node.
INPLACE_CASES = {
    "continue_then_augassign": (continue_then_augassign, [(A(1, -2, 3),)]),
    "augassign_in_branches_of_loop": (augassign_in_branches_of_loop, [(A(1, 2, 9),)]),
    "setitem_in_branch_of_loop": (setitem_in_branch_of_loop, [(A(1, -2, 3),)]),
    "augassign_in_one_branch": (augassign_in_one_branch, [(A(1, 2),), (A(-1, -2),)]),
    "inplace_in_branches": (inplace_in_branches, [(A(1, 2),), (A(-1, -2),)]),
    "append_in_tensor_branch": (append_in_tensor_branch, [(A(1, -2, 3),)]),
    "counter_augassign_after_return": (counter_augassign_after_return,
                                       [(A(1, 3, 1), 5), (A(1, 1), 4)]),
}


def to_dg(v):
    if isinstance(v, np.ndarray):
        return dg.from_numpy(v.copy())
    if isinstance(v, list):
        return [to_dg(x) for x in v]
    return v


def to_np(out):
    if isinstance(out, (tuple, list)):
        return [to_np(o) for o in out]
    if isinstance(out, dg.Tensor):
        return out.detach().numpy()
    return np.asarray(out)


def check_close(got, expected):
    if isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected)
        for g, e in zip(got, expected):
            check_close(g, e)
        return
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=1e-5, atol=1e-6)


def script_of(fn):
    return dg.jit.script(fn)


_SCRIPTED: dict = {}


def scripted(name, level=3):
    if (name, level) not in _SCRIPTED:
        _SCRIPTED[name, level] = script_of(CASES[name][0])
        if level != 3:
            _SCRIPTED[name, level].compile(level)
    return _SCRIPTED[name, level]


PARAMS = [pytest.param(name, k, id=f"{name}-{k}")
          for name, (_, _, inputs, _) in CASES.items() for k in range(len(inputs))]


def test_corpus_is_big_enough():
    assert len(CASES) >= 32


@pytest.mark.parametrize("level", [0, 1, 2, 3], ids=["O0", "O1", "O2", "O3"])
@pytest.mark.parametrize("name,k", PARAMS)
def test_scripted_matches_eager(name, k, level):
    fn, ref, inputs, marks = CASES[name]
    ref = ref or fn
    args = inputs[k]
    with dg.no_grad():
        expected = to_np(ref(*to_dg(list(args))))
        f = scripted(name, level)
        got = to_np(f(*to_dg(list(args))))
    check_close(got, expected)
    text = str(f.graph)
    for mark in marks:
        assert mark in text, f"{name}: {mark!r} missing at O{level} from\n{text}"


INPLACE_PARAMS = [pytest.param(name, k, id=f"{name}-{k}")
                for name, (_, inputs) in INPLACE_CASES.items() for k in range(len(inputs))]


@pytest.mark.parametrize("name,k", INPLACE_PARAMS)
def test_inplace_under_tensor_condition(name, k):
    fn, inputs = INPLACE_CASES[name]
    args = inputs[k]
    with dg.no_grad():
        expected = to_np(fn(*to_dg(list(args))))
        got = to_np(dg.jit.script(fn)(*to_dg(list(args))))
    check_close(got, expected)


def test_python_values_are_decided_when_compiling():
    f = dg.jit.script(python_mode)
    x = dg.tensor([1.0, -2.0])
    for mode, expected in (("double", [2.0, -4.0]), ("square", [1.0, 4.0]), ("neg", [-1, 2])):
        np.testing.assert_allclose(f(x, mode).numpy(), expected)
        np.testing.assert_allclose(python_mode(x, mode).numpy(), expected)
        assert "if(" not in str(f.graph)
    # three strings: three specializations
    assert len(f._cache) == 3


def test_none_default_has_no_if():
    f = dg.jit.script(none_default)
    f(dg.tensor([1.0]))
    assert "if(" not in str(f.graph)


def test_int_argument_keeps_the_loop_across_values():
    f = dg.jit.script(range_int_arg)
    x = dg.tensor([1.0, 2.0])
    for n in (0, 1, 5, 12):
        np.testing.assert_allclose(f(x, n).numpy(), range_int_arg(x, n).numpy())
    assert len(f._cache) == 1  # ints are graph inputs: one graph for every n
    assert "loop(" in str(f.graph)


def test_unrolled_python_lists_have_no_loop():
    f = scripted("list_of_tensors")
    f([dg.tensor([1.0, 2.0]), dg.tensor([-5.0, 1.0]), dg.tensor([3.0, 3.0])])
    assert "loop(" not in str(f.graph)
    assert str(f.graph).count("if(") == 3
    g = scripted("range_append")
    g(dg.tensor([1.0, -2.0, 3.0]))
    assert "loop(" not in str(g.graph)


def test_assert_fails_at_call_time():
    f = dg.jit.script(assert_positive)
    np.testing.assert_allclose(f(dg.tensor([1.0, 2.0])).numpy(), np.log([1.0, 2.0]), rtol=1e-6)
    assert "assert" in str(f.graph)
    with pytest.raises(AssertionError, match="x must sum to a positive value"):
        f(dg.tensor([-1.0, -2.0]))
    with pytest.raises(AssertionError):  # eager agrees
        assert_positive(dg.tensor([-1.0, -2.0]))


def test_training_flag_train_and_eval():
    model = TRAIN_EVAL
    s = dg.jit.script(model)
    x = dg.tensor([[1.0, 2.0, 3.0], [-4.0, 0.5, 1.0]])
    with dg.no_grad():
        for mode in (True, False):
            model.train(mode)
            expected = model(x).numpy()
            got = s(x).numpy()
            np.testing.assert_allclose(got, expected, rtol=1e-6)
            text = str(s.graph)
            assert ("if(" in text) == mode, text
    model.train()


def test_module_scripts_share_parameters():
    s = dg.jit.script(STACK)
    x = dg.tensor([1.0, 2.0, 3.0])
    with dg.no_grad():
        before = s(x).numpy()
        STACK.layers[0].weight.mul_(1.0)
        np.testing.assert_allclose(s(x).numpy(), STACK(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(before, STACK(x).detach().numpy(), rtol=1e-6)


def test_gru_script_trains_with_gradients():
    s = dg.jit.script(GRU)
    xs, h = dg.from_numpy(R.randn(4, 2, 3).astype(np.float32)), dg.zeros(2, 4)
    s(xs, h).sum().backward()
    grads_script = [p.grad.numpy().copy() for p in GRU.parameters()]
    for p in GRU.parameters():
        p.grad = None
    GRU(xs, h).sum().backward()
    for g, p in zip(grads_script, GRU.parameters()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-4, atol=1e-6)
    for p in GRU.parameters():
        p.grad = None


# --------------------------------------------------------------------- fresh-process round trip
SAVED = ["if_elif_else", "bool_argument", "float_argument_while", "range_tensor_n", "range_int_arg", "newton_sqrt", "collatz_steps",
         "break_on_negative", "early_return_in_loop", "nested_loops", "nested_if_in_loop",
         "rnn_tanh", "gru_over_time", "while_true_break", "setitem_in_loop", "list_of_tensors"]


def flat_inputs(args):
    """What a saved graph takes: tensors, Python scalars as 0-d tensors, lists flattened."""
    out = []
    for a in args:
        if isinstance(a, list):
            out.extend(flat_inputs(a))
        elif isinstance(a, np.ndarray):
            out.append(a)
        elif isinstance(a, bool):
            out.append(np.array(a))
        elif isinstance(a, int):
            out.append(np.array(a, dtype=np.int64))
        elif isinstance(a, float):
            out.append(np.array(a, dtype=np.float64))
    return out


def test_saved_graphs_reproduce_outputs_in_a_fresh_process(tmp_path):
    plan = []
    expected = {}
    for name in SAVED:
        fn, ref, inputs, marks = CASES[name]
        f = script_of(fn)  # its own specialization cache: save what was compiled last
        for k, args in enumerate(inputs):
            with dg.no_grad():
                expected[f"{name}-{k}"] = to_np(f(*to_dg(list(args))))
                check_close(expected[f"{name}-{k}"], to_np((ref or fn)(*to_dg(list(args)))))
            f.save(tmp_path / f"{name}-{k}.dgm")  # the specialization for these inputs
            files = []
            for j, arr in enumerate(flat_inputs(args)):
                np.save(tmp_path / f"{name}-{k}-in{j}.npy", arr)
                files.append(f"{name}-{k}-in{j}.npy")
            plan.append((name, k, files))
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    code = textwrap.dedent("""
        import json, sys, numpy as np, dualgraph as dg
        assert "tests" not in sys.modules
        out = {}
        for name, k, files in json.load(open("plan.json")):
            f = dg.jit.load(f"{name}-{k}.dgm")
            args = [dg.from_numpy(np.load(p)) for p in files]
            r = f(*args)
            rs = list(r) if isinstance(r, (tuple, list)) else [r]
            out[f"{name}-{k}"] = [np.asarray(t.numpy()).tolist() for t in rs]
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(got) == set(expected)
    for key, exp in expected.items():
        exp_list = exp if isinstance(exp, list) else [exp]
        check_close([np.asarray(g) for g in got[key]], exp_list)
