"""The GPU backend: the shared kernels bound to CuPy, with overrides where CuPy differs."""

from __future__ import annotations

from typing import Any

from . import Backend
from .kernels import build, out_kernels, plain_kernels, workspace
from .settings import nondeterministic


def import_cupy() -> Any:
    """CuPy, or a RuntimeError naming the missing piece (the package, or a visible GPU)."""
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "CUDA is not available: the CuPy package is not installed (install dualgraph with "
            "the gpu extra: pip install 'dualgraph[gpu]')") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CuPy raises its own CUDARuntimeError without a driver
        raise RuntimeError(f"CUDA is not available: CuPy found no usable GPU ({exc})") from None
    if count == 0:
        raise RuntimeError("CUDA is not available: CuPy sees no GPU on this machine")
    return cupy


def make_backend() -> Backend:
    cupy = import_cupy()
    kernels = build(cupy)

    def view(x, shape):
        out = x.view()
        try:
            out.shape = shape  # CuPy refuses, like NumPy, when a copy would be needed
        except AttributeError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) "
                "instead.") from None
        return out

    kernels["view"] = lambda x, shape: view(x, _resolve(x.size, shape))
    plain = plain_kernels(cupy)
    for name, when in ATOMIC.items():  # CuPy's add.at accumulates in no fixed order
        for table in (kernels, plain):
            if name in table:
                table[name] = nondeterministic(name, table[name], when)
    return Backend("cuda", cupy, kernels, cupy.ndarray, plain, None, out_kernels(cupy),
                   workspace())


# The kernels that accumulate with CuPy's atomic `add.at`, and which of their calls do: refused
# while `dg.use_deterministic_algorithms(True)` holds (runtime/settings.py).
ATOMIC = {"index_add": lambda attrs: True, "scatter_add": lambda attrs: True,
          "put": lambda attrs: bool(attrs.get("accumulate")),
          "index_put": lambda attrs: bool(attrs.get("accumulate"))}


def _resolve(total: int, shape: tuple) -> tuple:
    known = 1
    for d in shape:
        if d != -1:
            known *= d
    return tuple(total // known if d == -1 else d for d in shape)
