"""Kernels of `gather` and `scatter_add` (index-driven movement along a dim)."""

from __future__ import annotations

from typing import Any, Callable


# Accumulating inf/NaN: see kernels/__init__.
QUIET = frozenset({'scatter_add'})


def kernels(xp: Any) -> dict[str, Callable]:
    def along(index, dim):
        """Index arrays that address `index`'s positions, with `index` itself along `dim`."""
        grid = list(xp.indices(index.shape, sparse=True))
        grid[dim] = index
        return tuple(grid)

    def scatter_add(x, index, src, dim=0):
        out = x.copy()
        src = src[tuple(slice(0, s) for s in index.shape)]
        xp.add.at(out, along(index, dim % x.ndim), src)
        return out

    return {"gather": lambda x, index, dim=0: xp.take_along_axis(x, index, axis=dim),
            "scatter_add": scatter_add}
