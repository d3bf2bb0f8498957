"""The one funnel every op call goes through: `bind(op, inputs, attrs)`.

`bind` hands the call to the interpreter on top of a per-thread stack. Eager evaluation is the
interpreter at the bottom; a tracer (or any `Interpreter` subclass) pushed with `interpreting()`
sees every op until it is popped, including the ops that VJP rules call during `backward()`.
Interpreters nest: one may pass a call on to the interpreter below it with `process_below`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from .ir.registry import OpDef

NO_ATTRS: dict = {}


class Interpreter(ABC):
    """Something that gives meaning to op calls: runs them, records them, or both."""

    # What sees the reads and writes of state that lives outside tensors' data while this
    # interpreter is on top: a leaf's `.grad`, an optimizer's step, `backward()` (None: eager
    # semantics). A training-step tracer sets it (jit/step_tracer.py).
    outside = None

    @abstractmethod
    def process(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        """Apply `op` to `inputs` (tensors and Python scalars) with attributes `attrs`."""

    @abstractmethod
    def process_inplace(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        """Apply `op` and write the result into `inputs[0]`, which is returned."""

    def process_below(self, op: OpDef, inputs: Sequence, attrs: dict, inplace: bool = False):
        """Hand a call to the interpreter under this one on the current thread's stack."""
        stack = _state.stack
        below = stack[stack.index(self) - 1]
        return below.process_inplace(op, inputs, attrs) if inplace else below.process(
            op, inputs, attrs)


class EagerInterpreter(Interpreter):
    """Runs kernels now; records autograd tape nodes when grad mode is on and grads are wanted."""

    def process(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        return op.eager(inputs, attrs)

    def process_inplace(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        return op.eager_inplace(inputs, attrs)


EAGER = EagerInterpreter()


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[Interpreter] = [EAGER]
        self.top: Interpreter = EAGER


_state = _State()


def bind(op: OpDef, inputs: Sequence, attrs: dict = NO_ATTRS) -> Any:
    """Apply `op` through the active interpreter. Keep this function a single line: it is on
    every op call of eager mode."""
    return _state.top.process(op, inputs, attrs)


def bind_inplace(op: OpDef, inputs: Sequence, attrs: dict = NO_ATTRS) -> Any:
    """Apply `op` and write its result into `inputs[0]` (the `add_` forms, `copy_`, `x[i] = v`)."""
    return _state.top.process_inplace(op, inputs, attrs)


def active() -> tuple:
    """This thread's interpreter stack, bottom (eager) first."""
    return tuple(_state.stack)


def current() -> Interpreter:
    """The interpreter that would handle an op called now on this thread."""
    return _state.top


@contextmanager
def interpreting(interpreter: Interpreter) -> Iterator[Interpreter]:
    """Push `interpreter` for the duration of the block (per thread); nesting is allowed."""
    _state.stack.append(interpreter)
    _state.top = interpreter
    try:
        yield interpreter
    finally:
        _state.stack.remove(interpreter)
        _state.top = _state.stack[-1]
