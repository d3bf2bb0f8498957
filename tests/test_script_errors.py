"""`dg.jit.script` on Python it cannot compile: every unsupported construct raises a ScriptError
with `file:line:col: what`, the source line, a caret under the offending code and a hint; wrong
call arguments raise a clear TypeError."""

from __future__ import annotations

import inspect
import re

import pytest
from typing import List, Optional

import dualgraph as dg

MARK = "# <- error"


def uses_lambda(x):
    double = lambda v: v * 2  # <- error  # noqa: E731
    return double(x)


def uses_generator(x):
    return sum(v * 2 for v in [x, x])  # <- error


def uses_try(x):
    try:  # <- error
        y = x * 2
    except ValueError:
        y = x
    return y


def uses_with(x):
    with dg.no_grad():  # <- error
        y = x * 2
    return y


def uses_unknown_name(x):
    return x + this_name_is_not_defined  # <- error  # noqa: F821


def uses_nested_def(x):
    def inner(v):  # <- error
        return v + 1
    return inner(x)


def tensor_or_none(x):
    if x.sum() > 0:  # <- error
        y = x * 2
    else:
        y = None
    return y


def tensor_or_list(x):
    if x.sum() > 0:  # <- error
        y = x
    else:
        y = [x, x]
    return y


def one_branch_only(x):
    if x.sum() > 0:
        y = x * 2
    return y  # <- error


def assigned_in_loop_only(x, n):
    for i in range(n):
        y = x * i
    return y  # <- error


def list_indexed_by_tensor(x, k):
    items = [x, x * 2, x * 3]
    return items[k]  # <- error


def list_grows_in_while(x):
    items = []
    while x.sum() < 10:  # <- error
        items.append(x)
        x = x * 2
    return x, len(items)


def condition_with_many_elements(x):
    if x > 0:  # <- error
        y = x
    else:
        y = -x
    return y


def condition_with_many_elements_then_return(x):
    if x > 0:  # <- error
        return x
    return -x


def while_condition_with_many_elements(x):
    while x < 10:  # <- error
        x = x * 2
    return x


COUNTER = 0


def uses_global(x):
    global COUNTER  # <- error
    COUNTER += 1
    return x


def make_nonlocal():
    calls = 0

    def uses_nonlocal(x):
        nonlocal calls  # <- error
        calls += 1
        return x * calls
    return uses_nonlocal


uses_nonlocal = make_nonlocal()


def uses_yield(x):
    yield x * 2  # <- error


def uses_raise(x):
    if x.sum() > 0:
        raise ValueError("positive")  # <- error
    return x


def uses_walrus(x):
    if (s := x.sum()) > 0:  # <- error
        return x * s
    return x


X3 = dg.tensor([1.0, -2.0, 3.0])

# name -> (function, arguments, what the message says, text the caret starts at, hint words)
CASES = {
    "lambda": (uses_lambda, (X3,), "a lambda is not supported", "lambda", "def"),
    "generator": (uses_generator, (X3,), "a generator expression is not supported",
                  "(v * 2 for", "list comprehension"),
    "try": (uses_try, (X3,), "a try block is not supported", "try:", "if"),
    "with": (uses_with, (X3,), "a with block is not supported", "with ", "context manager"),
    "unknown_name": (uses_unknown_name, (X3,), "unknown name 'this_name_is_not_defined'",
                     "this_name_is_not_defined", "module level"),
    "nested_def": (uses_nested_def, (X3,), "a nested function definition is not supported",
                   "def inner", "module level"),
    "tensor_or_list": (tensor_or_list, (X3,), "'y' has a different type in each branch",
                       "if x.sum()", "same type"),
    "one_branch_only": (one_branch_only, (X3,), "'y' is assigned in only one branch", "y",
                        "assign it"),
    "assigned_in_loop_only": (assigned_in_loop_only, (X3, 3),
                              "'y' is assigned only inside the loop", "y", ""),
    "list_indexed_by_tensor": (list_indexed_by_tensor, (X3, dg.tensor(1)),
                               "a Python list cannot be indexed by a tensor", "k",
                               "stack it into a tensor"),
    "list_grows_in_while": (list_grows_in_while, (X3,),
                            "a Python list is changed inside a loop whose trip count is known "
                            "only at run time", "while", "preallocated tensor"),
    "condition_with_many_elements": (condition_with_many_elements, (X3,),
                                     "a condition must be a single value, got a tensor of shape "
                                     "[3]", "x > 0", ".any()"),
    "while_condition_with_many_elements": (while_condition_with_many_elements, (X3,),
                                           "a condition must be a single value", "x < 10",
                                           ".all()"),
    "global": (uses_global, (X3,), "a global statement is not supported", "global",
               "argument"),
    "nonlocal": (uses_nonlocal, (X3,), "a nonlocal statement is not supported", "nonlocal",
                 "argument"),
    "yield": (uses_yield, (X3,), "yield is not supported", "yield", "return a list"),
    "raise": (uses_raise, (X3,), "raise is not supported", "raise", "assert"),
    "walrus": (uses_walrus, (X3,), "assignment expression (:=) is not supported", "s :=",
               "statement"),
}


def marked_line(fn):
    """(file, line number, line text) of the line of `fn` carrying the marker comment."""
    lines, first = inspect.getsourcelines(fn)
    hits = [i for i, text in enumerate(lines) if MARK in text]
    assert len(hits) == 1
    return inspect.getsourcefile(fn), first + hits[0], lines[hits[0]].rstrip("\n")


def check_message(msg, fn, what, at, hint):
    file, line, text = marked_line(fn)
    m = re.match(r"(.+):(\d+):(\d+): (.*)", msg.splitlines()[0])
    assert m, msg
    assert m.group(1) == file, msg
    assert int(m.group(2)) == line, msg
    assert what in m.group(4), msg
    col = int(m.group(3))
    lines = msg.splitlines()
    # the source line, as written, then a caret line under the offending code
    assert lines[1] == "    " + text, msg
    caret = lines[2]
    assert set(caret.strip()) == {"^"}, msg
    start = len(caret) - len(caret.lstrip())
    assert caret[:4] == "    " and start - 4 == col - 1, msg
    assert text[col - 1:].startswith(at), (text[col - 1:], at, msg)
    hints = [h for h in lines if h.startswith("Hint: ")]
    assert len(hints) == 1 and len(hints[0]) > len("Hint: ") + 5, msg
    assert hint in hints[0], msg


@pytest.mark.parametrize("name", list(CASES))
def test_unsupported_construct_message(name):
    fn, args, what, at, hint = CASES[name]
    f = dg.jit.script(fn)
    with pytest.raises(dg.ScriptError) as info:
        f(*args)
    check_message(str(info.value), fn, what, at, hint)


def test_tensor_or_none_across_branches_is_an_error():
    fn, args, what, at, hint = (tensor_or_none, (X3,), "'y' has a different type in each branch",
                                "if x.sum()", "same type")
    f = dg.jit.script(fn)
    with pytest.raises(dg.ScriptError) as info:
        f(*args)
    check_message(str(info.value), fn, what, at, hint)


def test_many_element_condition_caret_when_the_body_returns():
    fn = condition_with_many_elements_then_return
    with pytest.raises(dg.ScriptError) as info:
        dg.jit.script(fn)(X3)
    check_message(str(info.value), fn, "a condition must be a single value", "x > 0", ".any()")


def test_script_error_is_exported():
    assert dg.ScriptError is dg.jit.ScriptError


def test_one_branch_message_names_the_if_line():
    with pytest.raises(dg.ScriptError) as info:
        dg.jit.script(one_branch_only)(X3)
    lines, first = inspect.getsourcelines(one_branch_only)
    if_line = first + next(i for i, t in enumerate(lines) if t.strip().startswith("if "))
    assert f"of the if at line {if_line}" in str(info.value)


def test_loop_only_message_names_the_loop_line():
    with pytest.raises(dg.ScriptError) as info:
        dg.jit.script(assigned_in_loop_only)(X3, 3)
    lines, first = inspect.getsourcelines(assigned_in_loop_only)
    loop_line = first + next(i for i, t in enumerate(lines) if t.strip().startswith("for "))
    assert f"inside the loop at line {loop_line}" in str(info.value)


def test_function_without_source():
    scope: dict = {"dg": dg}
    exec("def made_by_exec(x):\n    return x * 2\n", scope)
    with pytest.raises(dg.ScriptError) as info:
        dg.jit.script(scope["made_by_exec"])
    msg = str(info.value)
    assert "cannot script 'made_by_exec'" in msg
    assert "source is not available" in msg and "exec" in msg
    assert "Hint: define the function in a file" in msg


def test_builtin_lambda_function_without_file_source():
    with pytest.raises(dg.ScriptError, match="source is not available"):
        dg.jit.script(eval("lambda x: x"))


def two_args(x, y, scale=1.0):
    return (x + y) * scale


def test_wrong_call_arguments_raise_a_clear_type_error():
    f = dg.jit.script(two_args)
    with pytest.raises(TypeError, match=r"two_args\(\): missing a required argument: 'y'"):
        f(X3)
    with pytest.raises(TypeError, match=r"two_args\(\): too many positional arguments"):
        f(X3, X3, 2.0, 3.0)
    with pytest.raises(TypeError, match=r"two_args\(\): got an unexpected keyword argument "
                                        r"'bias'"):
        f(X3, X3, bias=1.0)
    with pytest.raises(TypeError, match=r"two_args\(\): multiple values for argument 'x'"):
        f(X3, X3, x=X3)
    # and the function still works afterwards
    assert f(X3, X3, scale=0.5).tolist() == [1.0, -2.0, 3.0]


def test_error_does_not_poison_the_cache():
    f = dg.jit.script(condition_with_many_elements)
    with pytest.raises(dg.ScriptError):
        f(X3)
    assert f(dg.tensor([2.0])).tolist() == [2.0]
    assert f(dg.tensor([-2.0])).tolist() == [2.0]


def annotated(xs: List[dg.Tensor], n: int, h: Optional[dg.Tensor] = None) -> dg.Tensor:
    acc = xs[0] * 0
    for x in xs:
        acc = acc + x
    if h is not None:
        acc = acc + h
    return acc * n


def test_annotations_are_checked_at_the_call():
    import numpy as np
    f = dg.jit.script(annotated)
    np.testing.assert_allclose(f([dg.ones(2), dg.ones(2)], 3).numpy(), [6.0, 6.0])
    np.testing.assert_allclose(f([dg.ones(2)], 2, dg.ones(2)).numpy(), [4.0, 4.0])
    with pytest.raises(TypeError, match=r"argument 'n' is annotated int but got float"):
        f([dg.ones(2)], 2.5)
    with pytest.raises(TypeError, match=r"argument 'xs' is annotated List\[Tensor\] but got "
                                        r"Tensor"):
        f(dg.ones(2), 2)
    with pytest.raises(TypeError, match=r"argument 'h' is annotated (Optional\[Tensor\]|"
                                        r"Union\[Tensor, None\]) but got int"):
        f([dg.ones(2)], 2, 3)
