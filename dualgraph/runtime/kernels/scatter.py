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

    def check(x, index, dim):
        """PyTorch's error for an index outside [0, size) (NumPy would wrap negatives or raise
        its own IndexError); returns the non-negative dim."""
        dim = dim % x.ndim if x.ndim else 0
        size = x.shape[dim] if x.ndim else 1
        if index.size:
            bad = (index < 0) | (index >= size)
            if bad.any():
                raise RuntimeError(f"index {int(index[bad].reshape(-1)[0])} is out of bounds "
                                   f"for dimension {dim} with size {size}")
        return dim

    def gather(x, index, dim=0):
        dim = check(x, index, dim)
        if x.ndim == 0:
            return x.reshape(index.shape).copy()
        return xp.take_along_axis(x, index, axis=dim)

    def scatter_add(x, index, src, dim=0):
        dim = check(x, index, dim)
        out = x.copy()
        if x.ndim == 0:
            return out + src.reshape(-1)[:index.size].sum()
        src = src[tuple(slice(0, s) for s in index.shape)]
        xp.add.at(out, along(index, dim), src)
        return out

    return {"gather": gather, "scatter_add": scatter_add}
