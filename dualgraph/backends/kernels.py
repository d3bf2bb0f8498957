"""Kernels written once against the array namespace `xp` (NumPy or CuPy).

`build(xp)` returns {op name: callable(*arrays_or_scalars, **attrs) -> array}. Inputs arrive
already cast to the op's compute dtype (the dtype rule in `ir` decides), so kernels only compute.
A backend overrides an entry only where its library differs.
"""

from __future__ import annotations

from typing import Any, Callable


def _axis(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


def _full_index(index: tuple) -> tuple:
    # `a[0, 1]` in NumPy yields a scalar copy; `a[0, 1, ...]` yields a 0-d view, as PyTorch does.
    return index if any(i is Ellipsis for i in index) else index + (Ellipsis,)


def plain_kernels(xp: Any) -> dict[str, Callable]:
    """Kernels for calls without attributes, where a library function serves directly (no Python
    wrapper: the eager fast path saves a call)."""
    return {"add": xp.add, "sub": xp.subtract, "sum": xp.ndarray.sum, "mean": xp.ndarray.mean}


def build(xp: Any) -> dict[str, Callable]:
    """The kernel table for one array library."""

    def add(a, b, alpha=1):
        return xp.add(a, b) if alpha == 1 else xp.add(a, xp.multiply(b, alpha))

    def sub(a, b, alpha=1):
        return xp.subtract(a, b) if alpha == 1 else xp.subtract(a, xp.multiply(b, alpha))

    def sigmoid(x):
        # 0.5 * (1 + tanh(x / 2)) equals 1 / (1 + exp(-x)) and never overflows.
        return xp.multiply(xp.add(xp.tanh(xp.multiply(x, 0.5)), 1.0), 0.5)

    def view(x, shape):
        try:
            return x.reshape(shape, copy=False)
        except ValueError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) "
                "instead.") from None

    def expand(x, size):
        lead = len(size) - x.ndim
        return xp.broadcast_to(x, tuple(x.shape[i - lead] if s == -1 else s
                                        for i, s in enumerate(size)))

    def sum_to_size(x, size):
        lead = x.ndim - len(size)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size)
                                          if s == 1 and x.shape[lead + i] != 1)
        out = xp.sum(x, axis=axes, keepdims=True) if axes else x
        return out.reshape(size) if lead else out

    def squeeze(x, dim=None):
        if dim is None:
            return xp.squeeze(x)
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = tuple(d % x.ndim for d in dims) if x.ndim else ()
        return xp.squeeze(x, axis=tuple(d for d in dims if x.shape[d] == 1))

    def getitem_backward(g, shape, index):
        out = xp.zeros(shape, dtype=g.dtype)
        out[_full_index(index)] = g
        return out

    def setitem(x, src, index):
        out = x.copy()
        out[_full_index(index)] = src
        return out

    def copy(dst, src):
        return xp.array(xp.broadcast_to(xp.asarray(src, dtype=dst.dtype), dst.shape), copy=True)

    def reduce_sum(x, dim=None, keepdim=False, dtype=None):
        return x.sum(axis=_axis(dim), keepdims=keepdim)

    def reduce_mean(x, dim=None, keepdim=False, dtype=None):
        return x.mean(axis=_axis(dim), keepdims=keepdim)

    return {
        "add": add, "sub": sub, "mul": xp.multiply, "div": xp.true_divide, "pow": xp.power,
        "neg": xp.negative, "reciprocal": xp.reciprocal, "exp": xp.exp, "log": xp.log,
        "sqrt": xp.sqrt, "tanh": xp.tanh, "sigmoid": sigmoid, "sin": xp.sin, "cos": xp.cos,
        "sign": xp.sign, "abs": xp.abs, "relu": lambda x: xp.maximum(x, 0),
        "eq": xp.equal, "ne": xp.not_equal, "lt": xp.less, "le": xp.less_equal,
        "gt": xp.greater, "ge": xp.greater_equal,
        "sum": reduce_sum, "mean": reduce_mean, "matmul": xp.matmul,
        "view": view, "reshape": lambda x, shape: x.reshape(shape),
        "transpose": lambda x, dim0=0, dim1=1: xp.swapaxes(x, dim0, dim1),
        "permute": lambda x, dims: xp.transpose(x, dims),
        "expand": expand, "sum_to_size": sum_to_size,
        "unsqueeze": lambda x, dim=0: xp.expand_dims(x, dim), "squeeze": squeeze,
        "getitem": lambda x, index: x[_full_index(index)],
        "getitem_backward": getitem_backward,
        "clone": lambda x: x.copy(), "copy": copy, "setitem": setitem,
        "to_dtype": lambda x, dtype: x.astype(dtype.np),
        "to_device": lambda x, device: _transfer(x, device),
        "constant": lambda value: xp.array(value, copy=True),
    }


def _transfer(x: Any, device: Any) -> Any:
    from . import backend_for
    target = backend_for(device)
    if isinstance(x, target.array_type):
        return x.copy()
    if target.name == "cpu":
        return x.get()  # CuPy -> NumPy
    return target.xp.asarray(x)
