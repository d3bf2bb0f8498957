"""Checks and helpers shared by the optimizers: PyTorch's argument errors, the options whose
PyTorch meaning dualgraph does not implement, and the state and gradient every Adam-like step
starts from."""

from __future__ import annotations

import math
from typing import Any


def check_lr(lr: Any, message: str = "Invalid learning rate: {}") -> None:
    """A float, or a 1-element tensor as PyTorch allows, and not negative."""
    if hasattr(lr, "numel") and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= float(lr):
        raise ValueError(message.format(lr))


def check_betas(betas: tuple) -> None:
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def refuse(name: str, differentiable: bool = False, capturable: bool = False) -> None:
    """Refuse the options that would change what a step means: differentiable=True (a step
    recorded by autograd) and capturable=True (CUDA-graph capture; PyTorch refuses it for CPU
    parameters too). `foreach` only picks PyTorch's kernel and is accepted."""
    if differentiable:
        raise ValueError(f"{name}: differentiable=True is not supported by dualgraph (its "
                         "optimizer steps are never recorded by autograd); leave it False")
    if capturable:
        raise ValueError(f"{name}: capturable=True (CUDA graph capture) is not supported by "
                         "dualgraph; leave it False")


def scalar(x: Any) -> float:
    """A hyper-parameter that may be a 1-element tensor, as a Python float."""
    return float(x.item()) if hasattr(x, "item") else float(x)


def step_tensor(value: float = 0.0) -> Any:
    """A 0-d float32 tensor: how PyTorch keeps `step`, `eta`, `mu` and `mu_product` (made by
    the `full` op, so that a traced training step records it)."""
    from ..creation import full
    from ..ir.types import float32
    return full((), float(value), dtype=float32)


def init_state(state: dict, p: Any, moments: tuple, **counters: float) -> dict:
    """A parameter's state on its first step, in PyTorch's key order: `step` and the other
    0-d counters, then a zero tensor like `p` for each running moment."""
    if not state:
        from ..creation import zeros_like
        state["step"] = step_tensor()
        for name, value in counters.items():
            state[name] = step_tensor(value)
        for name in moments:
            state[name] = zeros_like(p)
    return state


def step_gradient(p: Any, state: dict, group: dict, lr: float) -> tuple:
    """(gradient, step number) of one step: the gradient negated under `maximize`, weight decay
    added to it, or applied to `p` directly when the group's `decoupled_weight_decay` is set
    (AdamW's form); the step counter advanced."""
    g = -p.grad if group["maximize"] else p.grad
    state["step"].add_(1)
    wd = group["weight_decay"]
    if wd != 0:
        if group.get("decoupled_weight_decay", False):
            p.mul_(1 - lr * wd)
        else:
            g = g.add(p, alpha=wd)
    return g, step_value(state["step"])


def step_value(step: Any) -> Any:
    """A step count for bias corrections: a Python float, as PyTorch's `_get_value` gives it;
    inside a training step being traced, the 0-d count itself in float64 (the same arithmetic),
    so that the compiled step reads it at every call instead of baking in the first."""
    from ..dispatch import current
    if current().outside is None:
        return step.item()
    from ..ir.types import float64
    return step.to(float64)


def sqrt(x: Any) -> Any:
    """The square root of a Python float or of a 0-d tensor (see `step_value`)."""
    return math.sqrt(x) if isinstance(x, (int, float)) else x.sqrt()


def add_scaled_(p: Any, t: Any, scale: Any) -> Any:
    """p += scale * t, where `scale` is a Python float or a 0-d tensor (a learning rate that a
    traced step reads at each call); both round `scale` to p's dtype first, as PyTorch does."""
    if isinstance(scale, (int, float)):
        return p.add_(t, alpha=scale)
    return p.add_(t * scale)


def addcdiv_scaled_(p: Any, t1: Any, t2: Any, scale: Any) -> Any:
    """p += (scale * t1) / t2 for a Python float or 0-d tensor `scale` (see `add_scaled_`)."""
    if isinstance(scale, (int, float)):
        return p.addcdiv_(t1, t2, value=scale)
    return p.add_(t1 * scale / t2)
