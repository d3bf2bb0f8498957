"""The funnel: every op goes through `dispatch.bind`, and interpreters nest on a per-thread stack."""

from __future__ import annotations

import threading

import pytest

import dualgraph as dg
from dualgraph import dispatch
from dualgraph.utils import OpLogger, op_log


def test_every_call_reaches_the_active_interpreter_including_backward_rules():
    x = dg.ones(2, requires_grad=True)
    with op_log() as log:
        (x * 3).sum().backward()
    assert [c.op for c in log] == ["mul", "sum", "expand", "mul"]  # forward, then the VJP rules
    assert x.grad.tolist() == [3.0, 3.0]  # the logger changed nothing


def test_interpreters_nest_and_unwind():
    a = dg.ones(2)
    with op_log() as outer:
        a + 1
        with op_log() as inner:
            a.exp()
        a * 2
    assert [c.op for c in inner] == ["exp"]
    # the inner logger handed exp down the stack, through the outer one, to eager
    assert [c.op for c in outer] == ["add", "exp", "mul"]
    assert dispatch.current() is dispatch.EAGER


def test_nesting_with_grad_mode_and_in_place_calls():
    w = dg.ones(3, requires_grad=True)
    with dg.no_grad(), op_log() as log:  # (w is made outside: creation ops are ops too)
        y = w * 2
        y.add_(1)
    assert y.grad_fn is None and y.tolist() == [3.0, 3.0, 3.0]
    assert [str(c) for c in log] == ["mul()", "add_()"]


def test_the_stack_is_per_thread():
    seen = []
    one = dg.ones(1)
    with op_log() as log:
        t = threading.Thread(target=lambda: seen.append(dispatch.current()))
        t.start()
        t.join()
        one.neg()
    assert seen == [dispatch.EAGER] and [c.op for c in log] == ["neg"]


def test_an_interpreter_is_popped_even_when_the_block_raises():
    logger = OpLogger()
    a, b = dg.ones(2), dg.ones(3)
    with pytest.raises(RuntimeError):
        with dispatch.interpreting(logger):
            a + b
    assert dispatch.current() is dispatch.EAGER
    assert [c.op for c in logger.calls] == ["add"]
