"""`dg.cuda`: whether a GPU can be used (through CuPy), and how many; the legacy
`dg.cuda.FloatTensor`-style constructors (refused without a GPU, as PyTorch refuses them)."""

from __future__ import annotations

from . import creation as _creation
from .methods.creation import CUDA_LEGACY_TYPES as _legacy

globals().update(_legacy)


def is_available() -> bool:
    """True only when CuPy is installed and sees at least one GPU."""
    try:
        from .runtime.cupy_backend import import_cupy
        import_cupy()
        return True
    except RuntimeError:
        return False


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or a GPU)."""
    if not is_available():
        return 0
    import cupy
    return int(cupy.cuda.runtime.getDeviceCount())


def current_device() -> int:
    from .runtime.cupy_backend import import_cupy
    return int(import_cupy().cuda.runtime.getDevice())


def synchronize() -> None:
    """Wait for all queued GPU work to finish (for timing)."""
    from .runtime.cupy_backend import import_cupy
    import_cupy().cuda.runtime.deviceSynchronize()


def manual_seed(seed: int) -> None:
    """Seed the random numbers of the current GPU. dualgraph draws GPU tensors' random numbers
    on the host from the default generator (so CPU and GPU give the same numbers for a seed):
    with a GPU present this seeds that generator; without one it does nothing, as PyTorch's
    does on a machine without CUDA (there is no GPU generator to seed)."""
    seed = int(seed)  # PyTorch's conversion: a str of digits or a float is accepted
    if is_available():
        _creation.manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the random numbers of every GPU: see `manual_seed` (one host generator serves all)."""
    manual_seed(seed)


def __getattr__(name: str):
    """`dg.cuda.amp`: the deprecated spelling of `dg.amp` for CUDA (imported on first use)."""
    if name == "amp":
        from .amp.deprecated import namespace
        return namespace("cuda")
    raise AttributeError(f"module 'dualgraph.cuda' has no attribute {name!r}")
