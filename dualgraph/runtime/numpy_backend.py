"""The CPU backend: the shared kernels bound to NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import Backend
from .kernels import build, out_kernels, plain_kernels, workspace


class NumpyBackend(Backend):
    """NumPy: planned buffers viewed through the ndarray constructor (one call, no slicing)."""

    def at(self, buf: Any, shape: tuple, dtype: Any) -> Any:
        return np.ndarray(shape, dtype, buf)


def make_backend() -> Backend:
    from .fusion import fused_kernel
    return NumpyBackend("cpu", np, build(np), np.ndarray, plain_kernels(np), fused_kernel,
                        out_kernels(np), workspace())
