"""Values a user logs (dualgraph tensors, NumPy arrays, Python numbers) as NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from dualgraph.tensor import Tensor


def to_numpy(value: Any, what: str) -> np.ndarray:
    """`value` as a NumPy array: a tensor's data (on the host, autograd ignored), an array as it
    is, a number or a nested list through `np.asarray`. `what` names the call in errors."""
    if isinstance(value, Tensor):
        if getattr(value, "_data", None) is None:
            raise TypeError(f"{what}: got a tensor being traced (it has no value yet); log "
                            "values outside jit.trace / jit.script")
        return np.asarray(value._host())
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, int, float, np.generic, list, tuple)):
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"{what}: expected numbers, got a ragged or mixed sequence")
        return array
    raise TypeError(f"{what}: expected a Tensor, a NumPy array or a number, got "
                    f"{type(value).__name__}")


def to_scalar(value: Any, what: str) -> float:
    """A one-element value as a Python float (PyTorch's writer accepts shapes () and (1,))."""
    array = to_numpy(value, what)
    if array.size != 1:
        raise ValueError(f"{what}: expected a single number, got an array of shape "
                         f"{tuple(array.shape)}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{what}: expected a number, got dtype {array.dtype}")
    return float(array.reshape(()))


def check_step(global_step: Any, what: str, name: str = "global_step") -> int | None:
    """`global_step` as an int (None stays None: the event's step is then 0, as in PyTorch)."""
    if global_step is None:
        return None
    if isinstance(global_step, (Tensor, np.ndarray)):
        array = to_numpy(global_step, f"{what} {name}")
        if array.size == 1 and np.issubdtype(array.dtype, np.integer):
            return int(array.reshape(()))
    elif isinstance(global_step, (int, np.integer)) and not isinstance(global_step, bool):
        return int(global_step)
    raise TypeError(f"{what}: {name} must be an integer, got {global_step!r}")
