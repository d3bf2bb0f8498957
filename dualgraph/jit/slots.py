"""Where the state of a traced training step lives between calls, and how each call reads it
and writes it back.

A training step reads and changes tensors that belong to Python objects: a parameter (changed
in place by the optimizer), its `.grad` (made by `backward()`, dropped by `zero_grad()`), an
optimizer's state (`exp_avg`, a momentum buffer, the step count) and a group's learning rate (a
Python float that a scheduler changes). Each is a `Slot`: the compiled step reads every slot at
every call (so a change made outside the step is seen) and writes back what it changed.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor


# sys.getrefcount of an array held only by its tensor, seen from copy_in: the tensor's
# attribute, the local name and getrefcount's own argument.
_ONLY_THE_TENSOR = 3


class Slot:
    """One piece of outside state: `read()` gives its tensor now (or None), `assign(v)` replaces
    it, `copy_in(v)` writes into the tensor it holds (keeping that tensor's identity)."""

    name = "state"

    def read(self) -> Tensor | None:
        raise TypeError(f"{type(self).__name__} defines no read()")

    def assign(self, value: Tensor | None) -> None:
        raise TypeError(f"{self.name} cannot be assigned by a compiled step")

    def copy_in(self, value: Tensor) -> None:
        """Write `value` into the slot's tensor. When nothing else holds the tensor's array (no
        view, no alias: only the tensor refers to it) the new array simply replaces it — the
        same result as a copy, without one; the version counter moves as for any write."""
        target = self.read()
        old, new = target._data, value._data
        if (sys.getrefcount(old) <= _ONLY_THE_TENSOR and type(new) is type(old)
                and new.dtype == old.dtype and new.shape == old.shape and new.base is None
                and value._device is target._device):
            target._data = new
            target._version_counter().value += 1
            return
        with no_grad():
            target.copy_(value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class TensorSlot(Slot):
    """A tensor read by reference (a parameter, a buffer): changes are written into it."""

    def __init__(self, tensor: Tensor, name: str) -> None:
        self.tensor, self.name = tensor, name

    def read(self) -> Tensor:
        return self.tensor


class GradSlot(Slot):
    """The `.grad` of a leaf: assigned a new tensor by a step's backward, or None."""

    def __init__(self, leaf: Tensor, name: str) -> None:
        self.leaf, self.name = leaf, f"{name}.grad"

    def read(self) -> Tensor | None:
        ag = self.leaf._ag
        return None if ag is None else ag.grad

    def assign(self, value: Tensor | None) -> None:
        self.leaf._meta().grad = value


class OptimizerStateSlot(Slot):
    """`optimizer.state[p][key]`: found by parameter and key at each call, so a state loaded
    with `load_state_dict` (new tensors) is read."""

    def __init__(self, optimizer: Any, param: Tensor, key: str, name: str) -> None:
        self.optimizer, self.param, self.key, self.name = optimizer, param, key, name

    def read(self) -> Tensor | None:
        state = self.optimizer.state.get(self.param)
        return None if state is None else state.get(self.key)

    def assign(self, value: Tensor | None) -> None:
        self.optimizer.state.setdefault(self.param, {})[self.key] = value


class GroupScalarSlot(Slot):
    """A number in an optimizer's parameter group (the learning rate), read at each call as a
    0-d float64 tensor, so a scheduler's change reaches the compiled step."""

    def __init__(self, group: dict, key: str, name: str) -> None:
        self.group, self.key, self.name = group, key, name
        self._last: tuple = (None, None)  # (number, its tensor): made again only on a change

    def read(self) -> Tensor:
        value = self.group[self.key]
        if isinstance(value, Tensor):
            return value
        number, made = self._last
        if made is None or number != value:
            from ..tensor import from_array
            made = from_array(np.array(float(value), dtype=np.float64))
            self._last = (value, made)
        return made
