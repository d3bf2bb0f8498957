"""Tensors as MPI buffers: the NumPy array behind a CPU tensor goes to mpi4py as is when it is
contiguous (no copy); a non-contiguous tensor is staged through a contiguous copy and written
back when the operation completes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["check_tensor", "Staged", "check_eager"]


def check_eager(who: str) -> None:
    """Collectives run now, on real data: refuse them inside a trace or compiled step."""
    from .. import dispatch
    if dispatch.current() is not dispatch.EAGER:
        raise RuntimeError(f"dg.distributed.{who} cannot be captured in a traced, scripted or "
                           "compiled graph: collectives run eagerly; call it outside the "
                           "captured function (DistributedDataParallel's gradient all-reduce "
                           "runs in eager backward)")


def check_tensor(t: Any, param: str, who: str) -> Tensor:
    """`t` as a CPU tensor, or PyTorch's TypeError for a non-tensor."""
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type "
                        f"Tensor but got {type(t)} instead. (dg.distributed.{who})")
    if t._device.type != "cpu":
        raise RuntimeError(f"dg.distributed.{who}: No backend type associated with device type "
                           f"{t._device.type}: the MPI transport carries CPU tensors (move "
                           f"`{param}` with .cpu())")
    return t


class Staged:
    """The array MPI reads and writes for a tensor, and the write-back when it was a copy."""

    __slots__ = ("tensor", "array", "copied")

    def __init__(self, t: Tensor) -> None:
        data = t._data
        self.tensor = t
        self.copied = not data.flags.c_contiguous
        self.array = np.ascontiguousarray(data) if self.copied else data

    def written(self, value: np.ndarray | None = None) -> None:
        """The operation wrote the array (or `value` is the result): update the tensor."""
        data = self.tensor._data
        if value is not None:
            np.copyto(data, value.reshape(data.shape), casting="unsafe")
        elif self.copied:
            np.copyto(data, self.array)
        self.tensor._version_counter().value += 1


def same_dtype(a: Tensor, b: Tensor, who: str) -> None:
    if a._data.dtype != b._data.dtype:
        raise TypeError(f"dg.distributed.{who}: output and input tensors must have the same "
                        f"dtype, got {a.dtype} and {b.dtype}")
