"""RMSprop: divide the gradient by a running root-mean-square of its recent magnitudes."""

from __future__ import annotations

from typing import Any, Iterable

from ._common import step_tensor
from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop as PyTorch documents it: v = alpha*v + (1-alpha)*g^2; centered subtracts the
    squared running mean of g; p -= lr*g/(sqrt(v)+eps), through a momentum buffer if mu > 0."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_nonnegative("learning rate", lr)
        check_nonnegative("epsilon value", eps)
        check_nonnegative("momentum value", momentum)
        check_nonnegative("weight_decay value", weight_decay)
        check_nonnegative("alpha value", alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p: Any, group: dict) -> dict:
        from ..creation import zeros_like
        state = self._state(p)
        if not state:
            state["step"] = step_tensor()
            state["square_avg"] = zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like(p)
        return state

    def _update(self, p: Any, group: dict) -> None:
        state = self._init_state(p, group)
        alpha, lr = group["alpha"], group["lr"]
        g = -p.grad if group["maximize"] else p.grad
        state["step"].add_(1)
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        v = state["square_avg"]
        v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if group["centered"]:
            g_avg = state["grad_avg"]
            g_avg.lerp_(g, 1 - alpha)
            avg = v.addcmul(g_avg, g_avg, value=-1).sqrt_()
        else:
            avg = v.sqrt()
        avg = avg.add_(group["eps"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).addcdiv_(g, avg)
            p.add_(buf, alpha=-lr)
        else:
            p.addcdiv_(g, avg, value=-lr)
