"""`gradcheck`: compare autograd's gradients with central finite differences (in float64)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..tensor import Tensor
from .engine import grad


class GradcheckError(RuntimeError):
    """Autograd and finite differences disagree; the message names the input and output."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func: Callable, inputs: Sequence) -> tuple:
    return tuple(o for o in _as_tuple(func(*inputs))
                 if isinstance(o, Tensor) and o.dtype.is_floating_point)


def _numerical(func: Callable, inputs: Sequence, x: Tensor, eps: float) -> list:
    """d(outputs)/d(x) by central differences, as one (numel_out, numel_x) array per output."""
    data = x._data  # perturbed element by element in place (C order, as Jacobian columns are)
    columns = []
    # grad mode stays as the caller has it: a function may call autograd.grad inside
    for k in np.ndindex(data.shape):
        orig = data[k].item()
        data[k] = orig + eps
        plus = [o._host().astype(np.float64).reshape(-1) for o in _outputs(func, inputs)]
        data[k] = orig - eps
        minus = [o._host().astype(np.float64).reshape(-1) for o in _outputs(func, inputs)]
        data[k] = orig
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    return [np.stack([c[j] for c in columns], axis=1) if columns else np.zeros((0, 0))
            for j in range(len(columns[0]) if columns else 0)]


def _analytical(outputs: tuple, wrt: list) -> list:
    """For each output, for each input: the Jacobian from backward with one-hot gradients."""
    result = []
    for o in outputs:
        n = o.numel()
        jac = [np.zeros((n, x.numel())) for x in wrt]
        if o.requires_grad:
            for j in range(n):
                onehot = np.zeros(n, dtype=o.dtype.np)
                onehot[j] = 1
                g_out = o.new_tensor(onehot.reshape(o._data.shape))
                grads = grad(o, wrt, g_out, retain_graph=True, allow_unused=True)
                for i, g in enumerate(grads):
                    if g is not None:
                        if tuple(g.shape) != tuple(wrt[i].shape) or g.dtype is not wrt[i].dtype:
                            raise GradcheckError(
                                f"gradient for input {i} has shape {list(g.shape)} and dtype "
                                f"{g.dtype}; expected {list(wrt[i].shape)} and {wrt[i].dtype}")
                        jac[i][j] = g._host().astype(np.float64).reshape(-1)
        result.append(jac)
    return result


def gradcheck(func: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """True if the gradients of `func` at `inputs` match finite differences.

    Use float64 inputs: in float32 the finite differences themselves are too coarse.
    """
    inputs = _as_tuple(inputs)
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    outputs = _outputs(func, inputs)
    analytical = _analytical(outputs, wrt)
    for i, x in enumerate(wrt):
        numerical = _numerical(func, inputs, x, eps)
        for j, num in enumerate(numerical):
            ana = analytical[j][i]
            if not np.allclose(ana, num, rtol=rtol, atol=atol, equal_nan=True):
                if not raise_exception:
                    return False
                worst = np.unravel_index(np.argmax(np.abs(ana - num)), num.shape)
                raise GradcheckError(
                    f"Jacobian mismatch for output {j} with respect to input {i}: at "
                    f"(output element, input element) {tuple(int(w) for w in worst)} autograd "
                    f"gives {ana[worst]:.6g}, finite differences {num[worst]:.6g}.\n"
                    f"numerical:\n{num}\nanalytical:\n{ana}")
    return True
