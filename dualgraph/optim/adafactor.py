"""Adafactor: Adam-like steps whose second moment of a matrix is kept factored (row and column
means), so its state is O(rows + cols) instead of O(rows * cols)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ._common import check_lr, scalar, step_tensor
from .optimizer import Optimizer

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor as PyTorch 2.13 implements it (torch.optim.Adafactor): beta2_t = 1 - t^decay;
    rho_t = min(lr, 1/sqrt(t)); alpha = max(eps2, RMS(p)) * rho_t; for a matrix the variance
    estimate is (row_var @ col_var) / mean(row_var); the update is g / sqrt(var), clipped to
    RMS <= d; decoupled weight decay p *= 1 - lr*wd."""

    def __init__(self, params: Iterable, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        check_lr(lr, "Learning rate should be >= 0 but is: {}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, p: Any) -> dict:
        from ..creation import zeros_like
        state = self._state(p)
        if not state:
            state["step"] = step_tensor()
            g = p.grad
            if g.dim() > 1:
                row, col = list(g.shape), list(g.shape)
                row[-1], col[-2] = 1, 1
                state["row_var"] = g.new_zeros(row)
                state["col_var"] = g.new_zeros(col)
            else:
                state["variance"] = zeros_like(g)
        return state

    def _update(self, p: Any, group: dict) -> None:
        if not p.dtype.is_floating_point:
            raise RuntimeError("Adafactor does not support non-floating parameters")
        state = self._init_state(p)
        lr, wd, d = scalar(group["lr"]), group["weight_decay"], group["d"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(p.dtype.name).eps)
        g = -p.grad if group["maximize"] else p.grad
        state["step"].add_(1)
        t = state["step"].item()
        one_minus_beta2_t = t ** group["beta2_decay"]
        rho_t = min(lr, 1 / (t ** 0.5))
        alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
        if wd != 0:
            p.mul_(1 - lr * wd)
        if g.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_var.lerp_(g.norm(dim=-1, keepdim=True).square_().div_(g.shape[-1]),
                          one_minus_beta2_t)
            col_var.lerp_(g.norm(dim=-2, keepdim=True).square_().div_(g.shape[-2]),
                          one_minus_beta2_t)
            var = row_var.matmul(col_var)
            var.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            state["variance"].lerp_(g * g, one_minus_beta2_t)
            var = state["variance"].clone()
        update = var.clamp_(min=eps1 * eps1).rsqrt_().mul_(g)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
        p.add_(update, alpha=-alpha / denom)
