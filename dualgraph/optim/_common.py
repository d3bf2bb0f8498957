"""Checks and helpers shared by the optimizers: PyTorch's argument errors, the options whose
PyTorch meaning dualgraph does not implement, and the state and gradient every Adam-like step
starts from."""

from __future__ import annotations

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
    """A 0-d float32 tensor: how PyTorch keeps `step`, `eta`, `mu` and `mu_product`."""
    from ..creation import tensor
    return tensor(value)


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
    return g, state["step"].item()
