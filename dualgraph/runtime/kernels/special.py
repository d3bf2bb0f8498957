"""Kernels of the graph-support ops (`constant`)."""

from __future__ import annotations

from typing import Any, Callable


def kernels(xp: Any) -> dict[str, Callable]:
    return {"constant": lambda value: xp.array(value, copy=True)}
