"""Backends: one per device type, each a kernel table over its array library.

`backend_for(device)` is what the eager runtime asks; a backend is loaded on first use, so
dualgraph imports without CuPy and says clearly what is missing when `cuda` is asked for.
"""

from __future__ import annotations

from typing import Any

from ..ir.types import Device


class Backend:
    """An array library (`xp`), its array type and its kernels, for one device type."""

    def __init__(self, name: str, xp: Any, kernels: dict, array_type: type,
                 plain: dict | None = None, fuser: Any = None, out: frozenset = frozenset(),
                 workspace: dict | None = None) -> None:
        self.name = name
        self.xp = xp
        self.kernels = kernels
        self.plain = plain or {}  # faster kernels for calls without attributes
        self.array_type = array_type
        self.fuser = fuser  # (body, title, fallback) -> one kernel for a fused node's body
        self.out = out  # names of the kernels that accept out= (kernels/__init__.py)
        self.workspace = workspace or {}  # kernel name -> temporary bytes per output element

    def accepts_out(self, op_name: str) -> bool:
        """Whether the kernel of `op_name` (and its plain form) can write into `out=`."""
        return op_name in self.out

    def buffer(self, nbytes: int) -> Any:
        """A planned buffer of `nbytes` bytes (memory planning: values of any dtype view it)."""
        return self.xp.empty(nbytes, dtype=self.xp.uint8)

    def at(self, buf: Any, shape: tuple, dtype: Any) -> Any:
        """An array of `shape` and `dtype` over the first bytes of the planned buffer `buf`."""
        n = self.xp.dtype(dtype).itemsize
        for d in shape:
            n *= d
        return buf[:n].view(dtype).reshape(shape)

    def fused(self, body: Any, title: str, fallback: Any) -> Any:
        """The callable computing a fused body: a generated kernel where this backend has a
        generator and it can compile the body, else `fallback` (the body op by op)."""
        return fallback if self.fuser is None else self.fuser(body, title, fallback)

    def kernel(self, op_name: str):
        try:
            return self.kernels[op_name]
        except KeyError:
            raise RuntimeError(f"{op_name}(): no kernel for the {self.name} backend") from None

    def asarray(self, value: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(value, dtype=dtype)

    def to_numpy(self, array: Any) -> Any:
        return array if self.name == "cpu" else self.xp.asnumpy(array)

    def __repr__(self) -> str:
        return f"<backend {self.name}>"


_BACKENDS: dict[str, Backend] = {}


def backend_for(device: Device) -> Backend:
    b = _BACKENDS.get(device.type)
    if b is None:
        if device.type == "cpu":
            from . import numpy_backend as mod
        else:
            from . import cupy_backend as mod
        b = _BACKENDS[device.type] = mod.make_backend()
    return b
