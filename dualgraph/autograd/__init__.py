"""`dg.autograd`: reverse-mode differentiation of eager computations.

`backward` and `grad` run the engine; `no_grad`/`enable_grad`/`set_grad_enabled` switch recording
per thread; `gradcheck` checks gradients against finite differences; `Variable` is kept for old
tutorials and, as in PyTorch 2.x, returns a plain Tensor; `Function` is a custom op with its own
backward (`function.py`).
"""

from __future__ import annotations

from typing import Any

from . import function, graph
from .engine import backward, grad
from .function import Function, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                        no_grad, set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:
    """PyTorch 0.3's Variable: today simply the tensor (detached), marked `requires_grad`."""
    from ..tensor import Tensor
    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    if volatile:
        import warnings
        warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                      "instead.", UserWarning, stacklevel=2)
    t = data.detach()
    if requires_grad:
        t.requires_grad_(True)
    return t


__all__ = ["Function", "once_differentiable", "function", "Variable", "backward", "grad",
           "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled", "inference_mode",
           "is_inference_mode_enabled", "gradcheck", "GradcheckError", "graph"]
