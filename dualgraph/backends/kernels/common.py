"""Helpers shared by the kernel families."""

from __future__ import annotations

from typing import Any


def axis(dim: Any) -> Any:
    """A PyTorch `dim` (int, tuple, list or None) as a NumPy `axis`."""
    return tuple(dim) if isinstance(dim, list) else dim


def full_index(index: tuple) -> tuple:
    """`a[0, 1]` in NumPy yields a scalar copy; `a[0, 1, ...]` yields a 0-d view, as PyTorch."""
    return index if any(i is Ellipsis for i in index) else index + (Ellipsis,)
