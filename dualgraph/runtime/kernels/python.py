"""Kernels of the Python-callback ops (`ir/ops/python.py`): they hand the arrays to the live
call registered under the node's key, which runs the custom Function's forward or backward."""

from __future__ import annotations

from typing import Any, Callable

from ...ir.ops.python import CALLS


def _call(key: int, function: str) -> Any:
    call = CALLS.get(key)
    if call is None:  # only a graph traced in this process can name a live call
        raise RuntimeError(f"python_function: the call of {function} this graph was traced with "
                           "is not known in this process (a graph holding a Python function "
                           "runs only where it was traced)")
    return call


def kernels(xp: Any) -> dict[str, Callable]:
    def python_function(*arrays, function="", call=0, out_dtypes=(), out_shapes=()):
        return _call(call, function).forward(xp, arrays)

    def python_function_backward(token, *grads, function="", call=0, present=(), in_dtypes=(),
                                 in_shapes=()):
        return _call(call, function).backward(xp, token, grads, present)

    return {"python_function": python_function,
            "python_function_backward": python_function_backward}
