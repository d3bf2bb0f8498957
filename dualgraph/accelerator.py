"""`dg.accelerator`: PyTorch's device-generic view of the current accelerator. dualgraph has one
kind, CUDA through CuPy, so these answer about it; on a machine without a GPU, as PyTorch does
there, `is_available()` is False, `current_accelerator()` is None and `device_count()` is 0."""

from __future__ import annotations

from . import cuda
from .ir.types import Device

_NONE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    """Whether an accelerator (a GPU CuPy can use) is present."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """`device(type='cuda')` when a GPU is present, else None (with or without
    `check_available`, since dualgraph knows of no accelerator it cannot use)."""
    return Device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """How many accelerators there are (0 without a GPU)."""
    return cuda.device_count()


def current_device_index() -> int:
    """The index of the current GPU; PyTorch's RuntimeError without one."""
    if not cuda.is_available():
        raise RuntimeError(_NONE)
    return cuda.current_device()


current_device_idx = current_device_index


def synchronize(device: int | None = None) -> None:
    """Wait for all queued GPU work to finish; PyTorch's RuntimeError without a GPU."""
    if not cuda.is_available():
        raise RuntimeError(_NONE)
    cuda.synchronize()


__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "current_device_idx", "synchronize"]
