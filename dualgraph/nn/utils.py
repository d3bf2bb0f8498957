"""`dg.nn.utils`: gradient clipping (`clip_grad_norm_`, `clip_grad_value_`), as PyTorch's."""

from __future__ import annotations

import math
from typing import Any, Iterable

from ..autograd.grad_mode import no_grad


def _grads(parameters: Any) -> list:
    if hasattr(parameters, "grad"):  # a single tensor
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> Any:
    """Scale all gradients together so that their joint `norm_type` norm is at most `max_norm`;
    returns the norm before clipping (a 0-d tensor), as PyTorch does."""
    from .. import creation, linalg, stack
    grads = _grads(parameters)
    if not grads:
        return creation.tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        norms = stack([linalg.vector_norm(g, norm_type) for g in grads])
        total = norms.max() if math.isinf(norm_type) else linalg.vector_norm(norms, norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                               "`parameters` is non-finite, so it cannot be clipped. To disable "
                               "this error and scale the gradients by the non-finite norm "
                               "anyway, set `error_if_nonfinite=False`")
        # PyTorch's arithmetic, in tensors (so a traced step computes it each call): the
        # factor max_norm / (norm + 1e-6), capped at 1, scales every gradient.
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef)
    return total


def clip_grad_value_(parameters: Iterable, clip_value: float, foreach: Any = None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
