"""`nn.Parameter`: a tensor that a Module registers as one of its parameters."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and shares the storage of `data`.

    Only its class differs from a Tensor: ops on a Parameter give plain Tensors (the runtime
    makes results with its own constructor), and `Module.__setattr__` registers it.
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): expected a Tensor as data, got {type(data).__name__}")
        p = object.__new__(cls)
        p._data, p._dtype, p._device = data._data, data._dtype, data._device
        p._requires_grad = False
        p._grad_fn = None
        p._output_nr = 0
        p._version = data._version_counter()  # shares storage: in-place writes count for both
        p._ag = None
        p._view = None
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happens in __new__ (Tensor has no __init__ to forward to)

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> "Parameter":
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(Tensor.__deepcopy__(self, {}), self._requires_grad)
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild_parameter, (Tensor.__reduce_ex__(self, protocol), self._requires_grad))


def _rebuild_parameter(reduced: tuple, requires_grad: bool) -> Parameter:
    fn, args = reduced
    return Parameter(fn(*args), requires_grad)
