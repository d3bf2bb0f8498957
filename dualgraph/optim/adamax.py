"""Adamax: Adam with the infinity norm of past gradients in place of their RMS."""

from __future__ import annotations

from typing import Any, Iterable

from ._common import check_betas, check_lr, init_state, refuse, scalar, step_gradient
from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax as PyTorch documents it: m = lerp(m, g, 1-beta1); u = max(beta2*u, |g| + eps);
    p -= lr / (1 - beta1^t) * m / u."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_lr(lr)
        check_nonnegative("epsilon value", eps)
        check_betas(betas)
        check_nonnegative("weight_decay value", weight_decay)
        refuse("Adamax", differentiable, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p: Any, group: dict) -> None:
        state = init_state(self._state(p), p, ("exp_avg", "exp_inf"))
        beta1, beta2 = group["betas"]
        g, t = step_gradient(p, state, group, scalar(group["lr"]))
        m, u = state["exp_avg"], state["exp_inf"]
        m.lerp_(g, 1 - beta1)
        u.copy_(u.mul_(beta2).maximum(g.abs().add_(group["eps"])))
        clr = scalar(group["lr"]) / (1 - beta1 ** t)
        p.addcdiv_(m, u, value=-clr)
