"""`dg.Size`: the tuple subclass shapes are returned as, printed `torch.Size([5, 3])`."""

from __future__ import annotations

import math
from typing import Any


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as PyTorch prints it."""

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(str(d) for d in self)}])"

    __str__ = __repr__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        return math.prod(self)

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


def _is_tensor(x: Any) -> bool:
    from .tensor import Tensor
    return isinstance(x, Tensor)


class SymDim:
    """A symbolic size (`B`, `B*T`) seen by traced code through `x.shape[i]` or `x.numel()`.

    It can be passed back as a size (`x.view(B, -1)`), and `+ - *` with ints or other SymDims
    give SymDims of the expression (`x.view(x.shape[0] * x.shape[1], D)`); `//` must divide
    exactly. With a float or a tensor (`x.sum(0) / x.shape[0]`, `2 / n`) it becomes a 0-d tensor
    of the size computed when the graph runs, and so do `%` and comparisons whose answer depends
    on the symbols' values (`i % x.shape[0]`, `i < x.shape[0]`: script turns a tensor condition
    into a graph `if` or loop). Turning it into a Python int, bool or float would bake the
    example's size into the graph, so that raises TraceError instead.
    """

    __slots__ = ("expr",)

    def __init__(self, expr: Any) -> None:
        from .ir.symbolic import dim
        self.expr = dim(expr)

    @property
    def name(self) -> str:
        return str(self.expr)

    def __repr__(self) -> str:
        return self.name

    def _refuse(self, *args: Any) -> Any:
        from .jit.tracer import trace_error
        raise trace_error(f"the symbolic dimension {self.name} was used as a Python number",
                          "pass the dimension to view/reshape/expand as it is (sizes may be "
                          "combined with + - * and exact //), or mark the input's dimension "
                          "static (leave it out of dynamic_dims)")

    __index__ = __int__ = __bool__ = __float__ = _refuse

    def _compare(self, other: Any, test: Any) -> bool:
        """Decided only when the difference is a constant (`B + 1 > B`, `min(B, B)`): no
        value of the symbols could change the answer. Anything else is refused."""
        o = self._other(other)
        diff = None if o is None else _ops().sub(self.expr, o)
        if isinstance(diff, int):
            return test(diff)
        if o is None and not _is_tensor(other):
            return self._refuse()
        # decided when the graph runs: a 0-d bool tensor (a scripted `while i < x.shape[0]`
        # becomes a loop condition; in a trace, using it as a Python bool is refused)
        return test(self.tensor() - (other.tensor() if isinstance(other, SymDim) else other))

    def __lt__(self, other: Any) -> bool:
        return self._compare(other, lambda d: d < 0)

    def __le__(self, other: Any) -> bool:
        return self._compare(other, lambda d: d <= 0)

    def __gt__(self, other: Any) -> bool:
        return self._compare(other, lambda d: d > 0)

    def __ge__(self, other: Any) -> bool:
        return self._compare(other, lambda d: d >= 0)

    # ------------------------------------------------------------------ arithmetic
    def tensor(self, dtype: Any = None) -> Any:
        """The size as a 0-d tensor (int64 unless `dtype`) computed when the graph runs."""
        from .dispatch import bind
        from .ir.registry import get
        from .ir.types import int64
        return bind(get("full"), (), {"size": (), "fill_value": self.expr,
                                      "dtype": dtype or int64, "device": None})

    def _other(self, other: Any) -> Any:
        if isinstance(other, SymDim):
            return other.expr
        if isinstance(other, int) and not isinstance(other, bool):
            return other
        return None

    def _float(self) -> Any:
        from .ir.types import float64
        return self.tensor(float64)  # PyTorch computes with a SymFloat: double precision

    def _binary(self, other: Any, fn: Any, reflected: bool, real: Any) -> Any:
        o = self._other(other)
        if o is not None:
            return _sym(fn(o, self.expr) if reflected else fn(self.expr, o))
        if isinstance(other, float):
            return real(other, self._float()) if reflected else real(self._float(), other)
        return NotImplemented  # a tensor: its reflected operator binds the size as a value

    def __add__(self, other: Any) -> Any:
        return self._binary(other, _ops().add, False, lambda a, b: a + b)

    def __radd__(self, other: Any) -> Any:
        return self._binary(other, _ops().add, True, lambda a, b: a + b)

    def __sub__(self, other: Any) -> Any:
        return self._binary(other, _ops().sub, False, lambda a, b: a - b)

    def __rsub__(self, other: Any) -> Any:
        return self._binary(other, _ops().sub, True, lambda a, b: a - b)

    def __mul__(self, other: Any) -> Any:
        return self._binary(other, _ops().mul, False, lambda a, b: a * b)

    def __rmul__(self, other: Any) -> Any:
        return self._binary(other, _ops().mul, True, lambda a, b: a * b)

    def __neg__(self) -> Any:
        return _sym(_ops().mul(self.expr, -1))

    def __pos__(self) -> "SymDim":
        return self

    def _divide(self, a: Any, b: Any) -> Any:
        q = _ops().exact_div(a, b)
        if q is None:
            from .jit.tracer import trace_error
            raise trace_error(f"the symbolic size {a} is not known to be divisible by {b}",
                              "divide sizes only where the quotient is exact for every value "
                              "of the symbols (48*B // 8), or mark the dimension static")
        return _sym(q)

    def __floordiv__(self, other: Any) -> Any:
        o = self._other(other)
        if o is None:
            return NotImplemented
        if o == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        return self._divide(self.expr, o)

    def __rfloordiv__(self, other: Any) -> Any:
        o = self._other(other)
        return NotImplemented if o is None else self._divide(o, self.expr)

    def __mod__(self, other: Any) -> Any:
        o = self._other(other)
        if o is None:
            return NotImplemented
        if o != 0 and _ops().exact_div(self.expr, o) is not None:
            return 0
        return self.tensor() % (other.tensor() if isinstance(other, SymDim) else other)

    def __rmod__(self, other: Any) -> Any:
        if isinstance(other, int) and not isinstance(other, bool) or _is_tensor(other):
            return other % self.tensor()  # `i % x.shape[0]`: computed when the graph runs
        return NotImplemented

    def __truediv__(self, other: Any) -> Any:
        if isinstance(other, (SymDim, int, float)) and not isinstance(other, bool):
            other = other._float() if isinstance(other, SymDim) else other
            return self._float() / other
        return NotImplemented

    def __rtruediv__(self, other: Any) -> Any:
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return other / self._float()
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SymDim):
            return other.expr == self.expr
        return self._refuse()

    def __ne__(self, other: object) -> bool:
        if isinstance(other, SymDim):
            return other.expr != self.expr
        return self._refuse()

    def __hash__(self) -> int:
        return hash(self.expr)


def _ops() -> Any:
    from .ir import symbolic
    return symbolic


def _sym(d: Any) -> Any:
    """A size result: an int when the expression is constant (`B - B`), else a SymDim."""
    return SymDim(d) if isinstance(d, str) else d
