"""Calling an op's VJP rule: the context a rule sees, and fitting its results to the inputs.

Shared by eager backward (tape nodes) and, later, graph autodiff, so the rules in `ir` are the
only derivative formulas there are.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..dispatch import bind
from ..ir.errors import DualgraphError
from ..ir.registry import OpDef, get


class Ctx:
    """What a VJP rule reads: saved inputs and output, attributes, and every input's shape, dtype,
    device and whether it needs a gradient."""

    __slots__ = ("op", "inputs", "output", "attrs", "shapes", "dtypes", "devices",
                 "needs_input_grad")

    def __init__(self, op: OpDef, inputs: tuple, output: Any, attrs: dict, shapes: tuple,
                 dtypes: tuple, devices: tuple, needs_input_grad: tuple) -> None:
        self.op, self.inputs, self.output, self.attrs = op, inputs, output, attrs
        self.shapes, self.dtypes, self.devices = shapes, dtypes, devices
        self.needs_input_grad = needs_input_grad

    @property
    def op_name(self) -> str:
        return self.op.name

    @staticmethod
    def bind(op_name: str, inputs: Sequence, attrs: dict) -> Any:
        """Call an op that has no tensor method (e.g. `getitem_backward`) from a rule."""
        return bind(get(op_name), inputs, attrs)


def fit_grads(grads: Sequence, ctx: Ctx) -> list:
    """Reduce each input gradient to its input's shape (un-broadcasting, as PyTorch's engine
    does) and cast it to the input's dtype; drop gradients nobody asked for."""
    out = []
    for i, g in enumerate(grads):
        if g is None or not ctx.needs_input_grad[i]:
            out.append(None)
            continue
        shape = ctx.shapes[i]
        try:
            differs = tuple(g.shape) != shape
        except DualgraphError:  # a symbolic size met a number (graph autodiff)
            differs = _differs(tuple(g.shape), shape)
        if differs:
            g = g.sum_to_size(*shape)
        if g.dtype is not ctx.dtypes[i]:
            g = g.to(ctx.dtypes[i])
        out.append(g)
    return out


def _differs(a: tuple, b: tuple) -> bool:
    """Shapes differ; symbolic sizes (graph autodiff) compare by name, never as numbers."""
    if len(a) != len(b):
        return True
    for x, y in zip(a, b):
        if x.__class__ is int and y.__class__ is int:
            if x != y:
                return True
        elif getattr(x, "name", x) != getattr(y, "name", y):
            return True
    return False
