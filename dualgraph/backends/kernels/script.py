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

    return {"scalar_tensor": scalar_tensor, "sym_size": sym_size, "assert": assert_}
