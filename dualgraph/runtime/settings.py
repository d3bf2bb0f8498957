"""Process settings the kernels read, under PyTorch's names: intra-op threads (Numba's parallel
kernels and the BLAS NumPy calls), inter-op threads, deterministic algorithms and the float32
matmul precision. `dualgraph` exports the functions (`dg.set_num_threads`, ...).

Numba and threadpoolctl are imported only when a thread count is set or read, so importing
dualgraph stays fast.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable


class _Settings:
    def __init__(self) -> None:
        self.num_threads: int | None = None  # None: never set (Numba's and BLAS's defaults)
        self.interop_threads: int | None = None
        self.deterministic = False
        self.deterministic_warn_only = False
        self.matmul_precision = "highest"
        self.blas_limit: Any = None  # threadpoolctl's limiter, kept so the limit stays


settings = _Settings()


def _positive_int(name: str, n: Any) -> int:
    if not isinstance(n, int) or isinstance(n, bool):
        raise RuntimeError(f"{name} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{name} expects a positive integer")
    return n


def _numba() -> Any:
    import numba
    return numba


def set_num_threads(n: int) -> None:
    """The number of threads intra-op parallel work uses: Numba's parallel kernels (the fused
    and row kernels; at most Numba's NUMBA_NUM_THREADS, the CPU count, on the calling thread, as
    Numba counts per thread) and, where threadpoolctl is installed, the BLAS NumPy's matmul calls
    (process-wide); without threadpoolctl BLAS keeps its own count (OPENBLAS_NUM_THREADS,
    OMP_NUM_THREADS, MKL_NUM_THREADS set before start)."""
    n = _positive_int("set_num_threads", n)
    numba = _numba()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        settings.blas_limit = threadpool_limits(limits=n, user_api="blas")
    settings.num_threads = n


def get_num_threads() -> int:
    """The intra-op thread count: the last `set_num_threads`, else Numba's (the CPU count)."""
    if settings.num_threads is not None:
        return settings.num_threads
    return int(_numba().get_num_threads())


def set_num_interop_threads(n: int) -> None:
    """PyTorch's inter-op pool size, settable once, as in PyTorch. dualgraph runs ops one after
    another on the calling thread and has no inter-op pool: a value above 1 is recorded (and
    returned by `get_num_interop_threads`) with a warning that nothing runs in parallel."""
    n = _positive_int("set_num_interop_threads", n)
    if settings.interop_threads is not None:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has "
                           "started or set_num_interop_threads called")
    if n > 1:
        warnings.warn(f"set_num_interop_threads({n}): dualgraph runs independent ops one after "
                      "another on the calling thread; there is no inter-op pool to size",
                      UserWarning, stacklevel=2)
    settings.interop_threads = n


def get_num_interop_threads() -> int:
    """The inter-op thread count: 1 (ops run in sequence) unless `set_num_interop_threads`."""
    return 1 if settings.interop_threads is None else settings.interop_threads


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Require deterministic kernels. Every CPU kernel of dualgraph is deterministic (NumPy, and
    Numba loops whose per-row sums run in one order); on CUDA the kernels that accumulate with
    CuPy's atomic `add.at` (index_add, scatter_add, put and index_put with accumulate) then
    raise — or warn, with `warn_only=True` — as PyTorch's nondeterministic kernels do."""
    if not isinstance(mode, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be "
                        f"bool, not {type(mode).__name__}")
    if not isinstance(warn_only, bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'warn_only' must be bool, "
                        f"not {type(warn_only).__name__}")
    settings.deterministic = mode
    settings.deterministic_warn_only = mode and warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return settings.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return settings.deterministic_warn_only


_DEBUG_MODES = ("default", "warn", "error")


def set_deterministic_debug_mode(debug_mode: str | int) -> None:
    """PyTorch's other spelling of `use_deterministic_algorithms`: "default"/0 (off),
    "warn"/1 (warn_only) and "error"/2 (on)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif not isinstance(debug_mode, int) or isinstance(debug_mode, bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 (off), 1 (warn only) or 2 (on): see `set_deterministic_debug_mode`."""
    if not settings.deterministic:
        return 0
    return 1 if settings.deterministic_warn_only else 2


def nondeterministic(name: str, kernel: Callable,
                     when: Callable[[dict], bool] = lambda attrs: True) -> Callable:
    """`kernel` refusing to run (or warning) while deterministic algorithms are required and
    `when(attrs)` says this call is the nondeterministic kind; otherwise the kernel itself."""

    @functools.wraps(kernel)
    def guarded(*args: Any, **attrs: Any) -> Any:
        if settings.deterministic and when(attrs):
            message = (f"{name}_cuda does not have a deterministic implementation, but you set "
                       "'torch.use_deterministic_algorithms(True)'. You can turn off determinism "
                       "just for this operation, or you can use the 'warn_only=True' option, if "
                       "that's acceptable for your application.")
            if not settings.deterministic_warn_only:
                raise RuntimeError(message)
            warnings.warn(message, UserWarning, stacklevel=2)
        return kernel(*args, **attrs)
    return guarded


_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision: str) -> None:
    """Permit lower internal precision for float32 matmuls ("high", "medium"), as PyTorch does.
    It permits and never requires: NumPy's and CuPy's BLAS compute float32 matmuls in full
    float32 in every mode, which each mode allows. Another string warns and changes nothing,
    as in PyTorch."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    settings.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return settings.matmul_precision


__all__ = ["set_num_threads", "get_num_threads", "set_num_interop_threads",
           "get_num_interop_threads", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode",
           "set_float32_matmul_precision", "get_float32_matmul_precision"]
