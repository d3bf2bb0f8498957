"""Adam and AdamW (Adam with weight decay decoupled from the gradient)."""

from __future__ import annotations

from typing import Any, Iterable

from ._common import addcdiv_scaled_, init_state, sqrt, step_gradient
from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam as PyTorch documents it, with bias correction, optional AMSGrad, L2 weight decay
    (added to the gradient) or decoupled weight decay (p *= 1 - lr*wd, as AdamW)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        check_nonnegative("learning rate", lr)
        check_nonnegative("epsilon value", eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        check_nonnegative("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, p: Any, group: dict) -> dict:
        moments = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())
        return init_state(self._state(p), p, moments)

    def _update(self, p: Any, group: dict) -> None:
        state = self._init_state(p, group)
        lr, (beta1, beta2) = group["lr"], group["betas"]
        g, t = step_gradient(p, state, group, lr)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            v_max.copy_(v_max.maximum(v))
            v = v_max
        bias_correction1 = 1 - beta1 ** t
        bias_correction2_sqrt = sqrt(1 - beta2 ** t)
        denom = (v.sqrt() / bias_correction2_sqrt).add_(group["eps"])
        addcdiv_scaled_(p, m, denom, -lr / bias_correction1)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2): p *= 1 - lr*wd before the Adam step."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
