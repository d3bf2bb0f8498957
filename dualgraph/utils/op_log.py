"""`op_log()`: see every op that runs, including the ops autograd's VJP rules call in backward.

An interpreter that records each call and hands it to the interpreter below it on the stack, so
results are unchanged. It is the smallest example of a non-eager interpreter, and a debugging aid:

    >>> w = dg.ones(2, requires_grad=True)
    >>> with dg.utils.op_log() as log:
    ...     (w * 3).sum().backward()
    >>> [entry.op for entry in log]
    ['mul', 'sum', 'expand', 'mul']
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from ..dispatch import Interpreter, interpreting
from ..ir.registry import OpDef


@dataclass
class OpCall:
    """One logged op call: the op's name, whether it wrote in place, and its attributes."""

    op: str
    inplace: bool
    attrs: dict

    def __str__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attrs.items())
        return f"{self.op}{'_' if self.inplace else ''}({attrs})"


class OpLogger(Interpreter):
    """Appends an `OpCall` per op to `calls`, then lets the interpreter below run it."""

    def __init__(self) -> None:
        self.calls: list[OpCall] = []

    def process(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        self.calls.append(OpCall(op.name, False, dict(attrs)))
        return self.process_below(op, inputs, attrs)

    def process_inplace(self, op: OpDef, inputs: Sequence, attrs: dict) -> Any:
        self.calls.append(OpCall(op.name, True, dict(attrs)))
        return self.process_below(op, inputs, attrs, inplace=True)


@contextmanager
def op_log() -> Iterator[list]:
    """Log the ops called on this thread inside the block; yields the list being filled."""
    logger = OpLogger()
    with interpreting(logger):
        yield logger.calls
