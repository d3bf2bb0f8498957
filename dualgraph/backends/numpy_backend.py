"""The CPU backend: the shared kernels bound to NumPy."""

from __future__ import annotations

import numpy as np

from . import Backend
from .kernels import build, plain_kernels


def make_backend() -> Backend:
    from .fusion import fused_kernel
    return Backend("cpu", np, build(np), np.ndarray, plain_kernels(np), fused_kernel)
