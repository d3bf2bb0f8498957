"""Adagrad: per-element learning rates shrinking with the sum of squared gradients."""

from __future__ import annotations

from typing import Any, Iterable

from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad as PyTorch documents it: clr = lr / (1 + (t-1)*lr_decay); s += g^2;
    p -= clr * g / (sqrt(s) + eps). State is created at construction, as PyTorch does."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_nonnegative("learning rate", lr)
        check_nonnegative("lr_decay value", lr_decay)
        check_nonnegative("weight_decay value", weight_decay)
        check_nonnegative("initial_accumulator_value value", initial_accumulator_value)
        check_nonnegative("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Any, group: dict) -> dict:
        from ..creation import full_like, tensor
        state = self._state(p)
        if not state:  # also covers groups added after construction
            state["step"] = tensor(0.0)
            state["sum"] = full_like(p, group["initial_accumulator_value"])
        return state

    def _update(self, p: Any, group: dict) -> None:
        state = self._init_state(p, group)
        g = -p.grad if group["maximize"] else p.grad
        state["step"].add_(1)
        t = state["step"].item()
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        state["sum"].addcmul_(g, g, value=1)
        std = state["sum"].sqrt().add_(group["eps"])
        p.addcdiv_(g, std, value=-clr)
