"""Saved-tensor hooks (`dg.autograd.graph.saved_tensors_hooks`, PyTorch's): how the tensors a
backward node saves are stored.

Inside `with saved_tensors_hooks(pack, unpack):` every tensor an op (or a custom Function's
`save_for_backward`) saves is handed to `pack`, and the node keeps only what `pack` returned;
backward calls `unpack` on it to get the tensor back. Only the innermost pair of hooks applies,
and the hooks are per thread, as in PyTorch. As in PyTorch, a tensor saved through hooks is not
checked against in-place changes (the hooks decide what is kept). Activation checkpointing
(`dg.utils.checkpoint`) is built on these hooks.
"""

from __future__ import annotations

from typing import Any, Callable

from ..tensor import Tensor, _wrap
from .grad_mode import state as grad_state


class saved_tensors_hooks:
    """Context manager: `pack_hook(tensor) -> anything` runs when a tensor is saved for backward,
    `unpack_hook(packed) -> tensor` when backward needs it back."""

    def __init__(self, pack_hook: Callable[[Tensor], Any],
                 unpack_hook: Callable[[Any], Tensor]) -> None:
        for name, fn in (("pack_hook", pack_hook), ("unpack_hook", unpack_hook)):
            if not callable(fn):
                raise TypeError(f"saved_tensors_hooks(): {name} must be callable, got "
                                f"{type(fn).__name__}")
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook
        self._prev: list = []

    def __enter__(self) -> "saved_tensors_hooks":
        self._prev.append(grad_state.saved_hooks)
        grad_state.saved_hooks = (self.pack_hook, self.unpack_hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        grad_state.saved_hooks = self._prev.pop()


class SavedPacked:
    """A tensor saved under hooks: what `pack` returned, the `unpack` hook, and the gradient
    edge the unpacked tensor is given (its original's history, for double backward)."""

    __slots__ = ("packed", "unpack_hook", "grad_fn", "output_nr", "grad_acc", "is_output")

    def __init__(self, t: Tensor, hooks: tuple, grad_acc: Any = None, is_output: bool = False,
                 nr: int = 0) -> None:
        pack, self.unpack_hook = hooks
        self.is_output = is_output
        # an output's history is its node itself (set when unpacked: no reference cycle)
        self.grad_fn = None if is_output else t._grad_fn
        self.output_nr = nr if is_output else t._output_nr
        self.grad_acc = grad_acc  # a saved leaf's AccumulateGrad
        self.packed = pack(t)

    def unpack(self, node: Any) -> Tensor:
        t = self.unpack_hook(self.packed)
        if not isinstance(t, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(t).__name__}")
        u = _wrap(t._data, t._dtype, t._device)
        u._version = t._version_counter()
        if not t._dtype.is_floating_point:
            return u
        if self.is_output:
            u._grad_fn, u._output_nr, u._requires_grad = node, self.output_nr, True
        elif self.grad_fn is not None:
            u._grad_fn, u._output_nr, u._requires_grad = self.grad_fn, self.output_nr, True
        elif self.grad_acc is not None:  # a leaf: gradients reach the leaf's own accumulator
            u._meta().grad_acc = self.grad_acc
            u._requires_grad = True
        return u
