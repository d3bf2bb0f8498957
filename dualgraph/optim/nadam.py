"""NAdam: Adam with Nesterov momentum and PyTorch's momentum-decay schedule."""

from __future__ import annotations

from typing import Any, Iterable

from ._common import check_betas, check_lr, init_state, refuse, scalar, step_gradient
from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam as PyTorch documents it: mu_t = beta1 (1 - 0.5 * 0.96^(t psi)); the product of the
    mu's is kept as a float32 tensor (`mu_product`), as PyTorch keeps it; L2 weight decay or
    decoupled (p *= 1 - lr*wd)."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        check_nonnegative("epsilon value", eps)
        check_betas(betas)
        check_nonnegative("weight_decay value", weight_decay)
        check_nonnegative("momentum_decay value", momentum_decay)
        refuse("NAdam", differentiable, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p: Any, group: dict) -> None:
        state = init_state(self._state(p), p, ("exp_avg", "exp_avg_sq"), mu_product=1.0)
        lr, (beta1, beta2) = scalar(group["lr"]), group["betas"]
        g, t = step_gradient(p, state, group, lr)
        bias_correction2 = 1 - beta2 ** t
        psi = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        state["mu_product"].mul_(mu)
        mu_product = state["mu_product"].item()
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = v.div(bias_correction2).sqrt().add_(group["eps"])
        p.addcdiv_(g, denom, value=-lr * (1.0 - mu) / (1.0 - mu_product))
        p.addcdiv_(m, denom, value=-lr * mu_next / (1.0 - mu_product * mu_next))
