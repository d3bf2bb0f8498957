"""`dg.Size`: the tuple subclass shapes are returned as, printed `torch.Size([5, 3])`."""

from __future__ import annotations

import math


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
