"""`dg.cpu`: the CPU as PyTorch's `torch.cpu` describes it (always available, one device), and
`dg.cpu.amp`, the deprecated spelling of `dg.amp` for the CPU."""

from __future__ import annotations

from typing import Any


def is_available() -> bool:
    """The CPU is always there."""
    return True


def device_count() -> int:
    """PyTorch counts the CPU as one device."""
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device: Any = None) -> None:
    """CPU kernels finish before they return: nothing to wait for."""


def __getattr__(name: str) -> Any:
    if name == "amp":  # imported on first use: dg.amp sits above this module
        from .amp.deprecated import namespace
        return namespace("cpu")
    raise AttributeError(f"module 'dualgraph.cpu' has no attribute {name!r}")
