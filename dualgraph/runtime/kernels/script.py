"""Kernels of the script-support ops: `scalar_tensor`, `sym_size`, `assert`."""

from __future__ import annotations

from typing import Any, Callable

from ...ir.types import scalar_dtype


def kernels(xp: Any) -> dict[str, Callable]:
    def scalar_tensor(value, dtype=None, device=None):
        return xp.asarray(value, dtype=(dtype or scalar_dtype(value)).np)

    def sym_size(x, dim=0):
        return xp.asarray(x.shape[dim], dtype=xp.int64)

    def assert_(cond, message=""):
        if not bool(cond):
            raise AssertionError(message or "assertion failed in a compiled function")
        return xp.asarray(True)

    def list_append(items, value):
        items.append(value)
        return items

    return {"detach": lambda x: x, "scalar_tensor": scalar_tensor, "sym_size": sym_size, "assert": assert_,
            "list_new": lambda element=None: [], "list_append": list_append,
            "list_get": lambda items, index: items[int(index)]}
