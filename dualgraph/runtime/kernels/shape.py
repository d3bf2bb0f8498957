"""Shape and view kernels, basic indexing, copies and casts."""

from __future__ import annotations

from typing import Any, Callable

from .common import full_index


def kernels(xp: Any) -> dict[str, Callable]:
    def check_shape(shape):
        """NumPy reads any negative size as "infer"; PyTorch only -1 (the meta function then
        says "invalid shape dimension -2")."""
        if shape and min(shape) < -1:
            raise ValueError("invalid shape dimension")

    def reshape(x, shape):
        check_shape(shape)
        return x.reshape(shape)

    def view(x, shape):
        check_shape(shape)
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
        out = xp.sum(x, axis=axes, keepdims=True, dtype=x.dtype) if axes else x  # ints stay
        return out.reshape(size) if lead else out

    def squeeze(x, dim=None):
        if dim is None:
            return xp.squeeze(x)
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        n = max(x.ndim, 1)
        if any(not -n <= d < n for d in dims):
            raise IndexError("squeeze(): dim out of range")  # the meta function explains
        dims = tuple(d % x.ndim for d in dims) if x.ndim else ()
        return xp.squeeze(x, axis=tuple(d for d in dims if x.shape[d] == 1))

    def getitem_backward(g, shape, index):
        out = xp.zeros(shape, dtype=g.dtype)
        out[full_index(index)] = g
        return out

    def setitem(x, src, index):
        out = x.copy()
        out[full_index(index)] = src
        return out

    def copy(dst, src):
        return xp.array(xp.broadcast_to(xp.asarray(src, dtype=dst.dtype), dst.shape), copy=True)

    return {
        "view": view, "reshape": reshape, "unsafe_view": reshape, "t": lambda x: x.T,
        "transpose": lambda x, dim0=0, dim1=1: xp.swapaxes(x, dim0, dim1),
        "permute": lambda x, dims: xp.transpose(x, dims),
        "expand": expand, "sum_to_size": sum_to_size,
        "unsqueeze": lambda x, dim=0: xp.expand_dims(x, dim), "squeeze": squeeze,
        "getitem": lambda x, index: x[full_index(index)],
        "getitem_backward": getitem_backward, "setitem": setitem,
        "clone": lambda x: x.copy(), "copy": copy, "contiguous": xp.ascontiguousarray,
        "to_dtype": lambda x, dtype: x.astype(dtype.np),
        "to_device": lambda x, device: _transfer(x, device),
    }


def _transfer(x: Any, device: Any) -> Any:
    from .. import backend_for
    target = backend_for(device)
    if isinstance(x, target.array_type):
        return x.copy()
    if target.name == "cpu":
        return x.get()  # CuPy -> NumPy
    return target.xp.asarray(x)
