"""ASGD: SGD with a decaying step size and a running (Polyak) average of the iterates."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ._common import check_lr, refuse, scalar, step_tensor
from .optimizer import Optimizer
from .sgd import check_nonnegative

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD as PyTorch implements it: p *= 1 - lambd*eta; p -= eta*g; the average
    `ax` follows p once t > t0 (ax += mu (p - ax)); then eta = lr / (1 + lambd lr t)^alpha and
    mu = 1 / max(1, t - t0). eta and mu are float32 tensors in the state, as in PyTorch."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_lr(lr)
        check_nonnegative("weight_decay value", weight_decay)
        refuse("ASGD", differentiable, capturable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, p: Any, group: dict) -> dict:
        from ..creation import zeros_like
        state = self._state(p)
        if not state:
            state["step"] = step_tensor()
            state["eta"] = step_tensor(scalar(group["lr"]))
            state["mu"] = step_tensor(1.0)
            state["ax"] = zeros_like(p)
        return state

    def _update(self, p: Any, group: dict) -> None:
        state = self._init_state(p, group)
        lr, lambd = scalar(group["lr"]), group["lambd"]
        g = -p.grad if group["maximize"] else p.grad
        state["step"].add_(1)
        t = state["step"].item()
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        eta = state["eta"].item()
        p.mul_(1 - lambd * eta)
        p.add_(g, alpha=-eta)
        mu = state["mu"].item()
        ax = state["ax"]
        if mu != 1:
            ax.add_(p.sub(ax).mul_(mu))
        else:
            ax.copy_(p)
        # PyTorch makes each new value with torch.as_tensor(a Python float): a float32 tensor,
        # so the values are float32 even after load_state_dict made the state float64
        state["eta"].fill_(float(np.float32(lr / ((1 + lambd * lr * t) ** group["alpha"]))))
        state["mu"].fill_(float(np.float32(1 / max(1, t - group["t0"]))))
