"""The op functions of the `dualgraph` namespace (`dg.add`, `dg.exp`, `dg.sum`, ...).

Each is one `bind` through the registry, like the tensor methods. `out=` writes the result into an
existing tensor, as PyTorch does, and is refused when autograd would need to track it.
"""

from __future__ import annotations

from typing import Any

from ._tensor_ops import (ABS, ADD, COS, DIV, EQ, EXP, GE, GT, LE, LOG, LT, MATMUL, MEAN, MUL, NE,
                          NEG, POW, RECIPROCAL, RELU, SIGMOID, SIGN, SIN, SQRT, SUB, SUM, TANH,
                          _alpha, _reduce_attrs, sizes)
from .autograd.grad_mode import no_grad, state as grad_state
from .runtime import backend_for
from .dispatch import bind
from .eager import can_cast
from .ir.meta import SCALAR_TYPE_NAMES
from .ir import get
from .tensor import Tensor

TO_DEVICE = get("to_device")


def _out(name: str, result: Tensor, out: Tensor | None, inputs: tuple) -> Tensor:
    """Write `result` into `out` (resizing it if its shape differs) and return `out`."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if grad_state.enabled and any(isinstance(x, Tensor) and x._requires_grad
                                  for x in inputs + (out,)):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if not can_cast(result._dtype, out._dtype):
        raise RuntimeError(f"{name}(): result type {SCALAR_TYPE_NAMES[result._dtype.name]} can't "
                           f"be cast to the desired output type "
                           f"{SCALAR_TYPE_NAMES[out._dtype.name]}")
    if out._data.shape != result._data.shape:
        if out._view is not None:
            raise RuntimeError(f"{name}(): cannot resize the view given as out= from "
                               f"{list(out.shape)} to {list(result.shape)}")
        out._data = backend_for(out._device).xp.empty(result._data.shape, dtype=out._dtype.np)
    with no_grad():
        out.copy_(result)
    return out


def _binary(name: str, op: Any, input: Any, other: Any, attrs: dict, out: Tensor | None) -> Tensor:
    return _out(name, bind(op, (input, other), attrs), out, (input, other))


def add(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    """input + alpha * other, with broadcasting and PyTorch's type promotion."""
    return _binary("add", ADD, input, other, _alpha(alpha), out)


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    """input - alpha * other."""
    return _binary("sub", SUB, input, other, _alpha(alpha), out)


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Elementwise product."""
    return _binary("mul", MUL, input, other, {}, out)


def div(input: Any, other: Any, *, rounding_mode: str | None = None,
        out: Tensor | None = None) -> Tensor:
    """Division: true division (integers give the default float dtype), or with
    `rounding_mode` 'trunc' / 'floor' the rounded quotient (integers stay integers)."""
    attrs = {} if rounding_mode is None else {"rounding_mode": rounding_mode}
    return _binary("div", DIV, input, other, attrs, out)


def pow(input: Any, exponent: Any, *, out: Tensor | None = None) -> Tensor:
    """input ** exponent (either may be a Python scalar)."""
    return _binary("pow", POW, input, exponent, {}, out)


def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix product with NumPy's rules for 1-D, 2-D and batched (broadcast) operands."""
    return _binary("matmul", MATMUL, input, other, {}, out)


def mm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Product of two 2-D matrices."""
    return _out("mm", input.mm(mat2), out, (input, mat2))


subtract, multiply, divide, true_divide = sub, mul, div, div


def _unary(name: str, op: Any):
    def fn(input: Tensor, *, out: Tensor | None = None) -> Tensor:
        return _out(name, bind(op, (input,)), out, (input,))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (see `Tensor.{name}`)."
    return fn


neg = negative = _unary("neg", NEG)
reciprocal = _unary("reciprocal", RECIPROCAL)
exp = _unary("exp", EXP)
log = _unary("log", LOG)
sqrt = _unary("sqrt", SQRT)
tanh = _unary("tanh", TANH)
sigmoid = _unary("sigmoid", SIGMOID)
sin = _unary("sin", SIN)
cos = _unary("cos", COS)
sign = _unary("sign", SIGN)
abs = _unary("abs", ABS)
relu = _unary("relu", RELU)


def _compare(name: str, op: Any):
    def fn(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
        return _binary(name, op, input, other, {}, out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise `{name}` comparison; returns a bool tensor."
    return fn


eq, ne, lt, le, gt, ge = (_compare(n, o) for n, o in (("eq", EQ), ("ne", NE), ("lt", LT),
                                                      ("le", LE), ("gt", GT), ("ge", GE)))
greater, less, greater_equal, less_equal, not_equal = gt, lt, ge, le, ne


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
        out: Tensor | None = None) -> Tensor:
    """Sum over all elements, or over `dim` (an int or a tuple)."""
    return _out("sum", bind(SUM, (input,), _reduce_attrs(dim, keepdim, dtype)), out, (input,))


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         out: Tensor | None = None) -> Tensor:
    """Mean over all elements, or over `dim`; needs a floating input (or `dtype=`)."""
    return _out("mean", bind(MEAN, (input,), _reduce_attrs(dim, keepdim, dtype)), out, (input,))


def reshape(input: Tensor, shape: Any) -> Tensor:
    """A tensor with the same data and a new shape: a view when possible, else a copy."""
    return input.reshape(sizes((shape,)))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return input.transpose(dim0, dim1)


def t(input: Tensor) -> Tensor:
    return input.t()


def permute(input: Tensor, dims: Any) -> Tensor:
    return input.permute(*dims)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    return input.unsqueeze(dim)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    return input.squeeze(dim)


def clone(input: Tensor) -> Tensor:
    return input.clone()


def to_device(input: Tensor, device: Any) -> Tensor:
    """Copy `input` to another device; autograd copies the gradient back."""
    return bind(TO_DEVICE, (input,), {"device": device})


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and elements."""
    return input.equal(other)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True if |input - other| <= atol + rtol * |other| elementwise."""
    return input.allclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()
