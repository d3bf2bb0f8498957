"""RAdam: Adam whose adaptive step is switched on, rectified, once its variance is tractable."""

from __future__ import annotations

from typing import Any, Iterable

from ._common import check_betas, check_lr, init_state, refuse, scalar, step_gradient
from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam as PyTorch documents it: rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t); while
    rho_t <= 5 the step is lr * m_hat (SGD with momentum), after it lr * m_hat * r_t * l_t."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        check_nonnegative("epsilon value", eps)
        check_betas(betas)
        check_nonnegative("weight_decay value", weight_decay)
        refuse("RAdam", differentiable, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p: Any, group: dict) -> None:
        state = init_state(self._state(p), p, ("exp_avg", "exp_avg_sq"))
        lr, (beta1, beta2) = scalar(group["lr"]), group["betas"]
        g, t = step_gradient(p, state, group, lr)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        m_hat = m / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (bias_correction2 ** 0.5) / v.sqrt().add_(group["eps"])
            p.add_(m_hat * lr * adaptive * rect, alpha=-1.0)
        else:
            p.add_(m_hat * lr, alpha=-1.0)
