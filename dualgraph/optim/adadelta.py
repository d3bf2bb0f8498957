"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

from typing import Any, Iterable

from ._common import check_lr, refuse, scalar, step_tensor
from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta as PyTorch documents it: v = rho*v + (1-rho)*g^2;
    delta = sqrt(u + eps) / sqrt(v + eps) * g; u = rho*u + (1-rho)*delta^2; p -= lr*delta."""

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative("epsilon value", eps)
        check_nonnegative("weight_decay value", weight_decay)
        refuse("Adadelta", differentiable, capturable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, p: Any) -> dict:
        from ..creation import zeros_like
        state = self._state(p)
        if not state:
            state["step"] = step_tensor()
            state["square_avg"] = zeros_like(p)
            state["acc_delta"] = zeros_like(p)
        return state

    def _update(self, p: Any, group: dict) -> None:
        state = self._init_state(p)
        rho, eps = group["rho"], group["eps"]
        g = -p.grad if group["maximize"] else p.grad
        state["step"].add_(1)
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        v, u = state["square_avg"], state["acc_delta"]
        v.mul_(rho).addcmul_(g, g, value=1 - rho)
        std = v.add(eps).sqrt_()
        delta = u.add(eps).sqrt_().div_(std).mul_(g)
        u.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-scalar(group["lr"]))
