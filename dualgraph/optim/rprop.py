"""Rprop: per-element step sizes grown or shrunk by the sign agreement of successive gradients."""

from __future__ import annotations

from typing import Any, Iterable

from ._common import check_lr, refuse, scalar, step_tensor
from .optimizer import Optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop as PyTorch documents it: where g * g_prev > 0 the step size grows by etaplus,
    where < 0 it shrinks by etaminus and that gradient is taken as 0 (no step, and no sign for
    the next comparison); sizes are clamped to step_sizes; p -= sign(g) * step_size."""

    def __init__(self, params: Iterable, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        refuse("Rprop", differentiable, capturable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p: Any, group: dict) -> dict:
        from ..creation import full_like, zeros_like
        state = self._state(p)
        if not state:
            state["step"] = step_tensor()
            state["prev"] = zeros_like(p)
            state["step_size"] = full_like(p.grad, scalar(group["lr"]))
        return state

    def _update(self, p: Any, group: dict) -> None:
        from ..creation import ones_like
        state = self._init_state(p, group)
        etaminus, etaplus = group["etas"]
        size_min, size_max = group["step_sizes"]
        g = -p.grad if group["maximize"] else p.grad
        state["step"].add_(1)
        prev, step_size = state["prev"], state["step_size"]
        agree = g.mul(prev)
        factor = ones_like(g).masked_fill(agree > 0, etaplus).masked_fill(agree < 0, etaminus)
        step_size.mul_(factor).clamp_(size_min, size_max)
        g = g.masked_fill(agree < 0, 0.0)
        p.addcmul_(g.sign(), step_size, value=-1)
        prev.copy_(g)
