"""Collectives that autograd can differentiate (what SyncBatchNorm builds its statistics with).

`all_reduce_sum(x)` returns the sum of `x` over the group's ranks as a new tensor. Its backward
all-reduces the incoming gradient: every rank's loss depends on the sum, so the gradient reaching
rank r's `x` is the sum over ranks of d(loss_i)/d(sum), exactly what one process holding all
the ranks' data would compute (DDP's averaging then divides it as it divides everything else).
Every rank must run the matching backward, as every rank runs DDP's.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..tensor import Tensor

__all__ = ["all_reduce_sum"]


class AllReduceSum(Function):
    """Sum over ranks, forward and (of the gradient) backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, group: Any) -> Tensor:
        from .collectives import all_reduce
        ctx.group = group
        out = x.clone()
        all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple:
        from .collectives import all_reduce
        out = grad.clone()
        all_reduce(out, group=ctx.group)
        return out, None


def all_reduce_sum(x: Tensor, group: Any = None) -> Tensor:
    """The sum of `x` over the ranks of `group`, differentiable (see the module docstring)."""
    return AllReduceSum.apply(x, group)
