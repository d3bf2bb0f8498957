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


class SymDim:
    """A symbolic dimension (`B`) seen by traced code through `x.shape[i]`.

    It can be passed back as a size (`x.view(B, -1)`); turning it into a Python int would bake
    the example's batch size into the graph, so that raises TraceError instead.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def _refuse(self, *args: Any) -> Any:
        from .jit.tracer import trace_error
        raise trace_error(f"the symbolic dimension {self.name} was used as a Python number",
                          "pass the dimension to view/reshape/expand as it is, or mark the "
                          "input's dimension static (leave it out of dynamic_dims)")

    __index__ = __int__ = __bool__ = __float__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __floordiv__ = __truediv__ = __mod__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SymDim):
            return other.name == self.name
        return self._refuse()

    def __hash__(self) -> int:
        return hash(self.name)
