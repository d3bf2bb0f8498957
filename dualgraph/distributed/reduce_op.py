"""`ReduceOp`: how a collective combines the ranks' values (PyTorch's torch.distributed.ReduceOp).

Each op maps onto an MPI reduction; `AVG`, which MPI lacks, is a sum divided by the group size.
Boolean tensors reduce with MPI's logical ops (a bool sum is a logical or, as in PyTorch).
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

__all__ = ["ReduceOp"]


class ReduceOp(enum.Enum):
    """The reductions of `all_reduce`, `reduce` and `reduce_scatter_tensor`."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"
    AVG = "avg"

    def __repr__(self) -> str:
        return f"<RedOpType.{self.name}: {list(ReduceOp).index(self)}>"


_BITWISE = {ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR}


def mpi_op(op: Any, dtype: np.dtype, who: str) -> Any:
    """The mpi4py operation for `op` on arrays of `dtype`; clear errors for what cannot apply."""
    from mpi4py import MPI
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{who}: op must be a dg.distributed.ReduceOp (such as ReduceOp.SUM), "
                        f"got {op!r} of type {type(op).__name__}")
    if dtype == np.bool_:
        return {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
                ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND,
                ReduceOp.BXOR: MPI.LXOR}.get(op) or _avg_error(who, dtype)
    if op in _BITWISE and dtype.kind not in "iu":
        raise TypeError(f"{who}: ReduceOp.{op.name} needs an integer or bool tensor, got dtype "
                        f"{dtype}")
    if op is ReduceOp.AVG:
        if dtype.kind != "f":
            _avg_error(who, dtype)
        return MPI.SUM
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR,
            ReduceOp.BXOR: MPI.BXOR}[op]


def _avg_error(who: str, dtype: np.dtype) -> Any:
    raise TypeError(f"{who}: ReduceOp.AVG needs a floating-point tensor, got dtype {dtype}")
