"""Kernels of joining, splitting, reordering, selection, ordering, index-driven writes and
advanced indexing (see ir/ops/indexing.py).

Checks that need the data (an index out of range, a bad k) are made here, before anything is
written, and raise PyTorch's error; checks on shapes alone fail here with any exception and the
op's meta function then explains them (eager._explain).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


class IndexOutOfRange(IndexError, RuntimeError):
    """An index out of range: an IndexError, as PyTorch raises, and a RuntimeError so the eager
    runtime passes the kernel's own message through unchanged."""


def _first_bad(xp: Any, index: Any, lo: int, hi: int) -> Any:
    """The first value of `index` outside [lo, hi), or None."""
    if index.size == 0:
        return None
    bad = (index < lo) | (index >= hi)
    if not bool(bad.any()):
        return None
    return int(index[bad].ravel()[0])


def _along(xp: Any, index: Any, dim: int) -> tuple:
    """Index arrays that address `index`'s positions, with `index` itself along `dim`."""
    grid = list(xp.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


def _numpy_index(indices: tuple, dims: tuple) -> tuple:
    """A NumPy index tuple putting each index array at its start dim (full slices between)."""
    where, pos = [], 0
    for ix, d in zip(indices, dims):
        where += [slice(None)] * (d - pos) + [ix]
        pos = d + (ix.ndim if ix.dtype == bool else 1)
    return tuple(where)


# Accumulating inf/NaN: see kernels/__init__.
QUIET = frozenset({'index_add', 'put'})


def kernels(xp: Any) -> dict[str, Callable]:
    def check_indices(shape: tuple, indices: tuple, dims: tuple) -> None:
        for ix, d in zip(indices, dims):
            if ix.dtype != bool and d < len(shape):
                bad = _first_bad(xp, ix, -shape[d], shape[d])
                if bad is not None:
                    raise IndexOutOfRange(f"index {bad} is out of bounds for dimension {d} "
                                          f"with size {shape[d]}")

    def cat(*arrays, dim=0):
        kept = [a for a in arrays if a.shape != (0,)] or list(arrays)
        return xp.concatenate(kept, axis=dim)

    def split(x, sizes=(), dim=0):
        dim %= x.ndim
        if sum(sizes) != x.shape[dim] or min(sizes, default=0) < 0:
            raise ValueError("split sizes do not add up")  # the meta function explains
        out, start = [], 0
        for s in sizes:
            where = [slice(None)] * x.ndim
            where[dim] = slice(start, start + s)
            out.append(x[tuple(where)])
            start += s
        return tuple(out)

    def unbind(x, dim=0):
        dim %= x.ndim
        lead = (slice(None),) * dim
        return tuple(x[lead + (i, Ellipsis)] for i in range(x.shape[dim]))  # views, 0-d too

    def flip(x, dims=()):
        axes = [d % x.ndim for d in dims] if x.ndim else []
        if len(set(axes)) != len(axes):
            raise ValueError("repeated dim")
        return xp.flip(x, axis=tuple(axes)).copy() if axes else x.copy()

    def roll(x, shifts=(), dims=()):
        if len(shifts) != max(len(dims), 1):
            raise ValueError("shifts and dims differ")
        if not dims:
            return xp.roll(x.reshape(-1), shifts[0]).reshape(x.shape)
        return xp.roll(x, tuple(shifts), axis=tuple(dims))

    def repeat(x, repeats=()):
        if len(repeats) < x.ndim or min(repeats, default=0) < 0:
            raise ValueError("bad repeats")
        return xp.tile(x, tuple(repeats)) if repeats else x.copy()

    def index_select(x, index, dim=0):
        if index.ndim > 1:
            raise ValueError("index is not a vector")
        index = index.reshape(-1)
        if x.ndim == 0:
            if _first_bad(xp, index, 0, 1) is not None:
                raise IndexOutOfRange("index out of range in self")
            return x.reshape(1)[index].reshape(())
        if _first_bad(xp, index, 0, x.shape[dim]) is not None:
            raise IndexOutOfRange("index out of range in self")
        return xp.take(x, index, axis=dim)

    def masked_fill(x, mask, value):
        return xp.where(mask, value, x).astype(x.dtype, copy=False)  # a float value: x's dtype

    def masked_select(x, mask):
        shape = np.broadcast_shapes(x.shape, mask.shape)  # shapes only: NumPy serves CuPy too
        return xp.broadcast_to(x, shape)[xp.broadcast_to(mask, shape)]

    def take(x, index):
        bad = _first_bad(xp, index, -x.size, x.size)
        if bad is not None:
            raise IndexOutOfRange(f"out of range: tried to access index {bad} on a tensor of "
                                  f"{x.size} elements.")
        return x.reshape(-1)[index]

    def sort(x, dim=-1, descending=False, stable=False):
        if x.ndim == 0:
            return x.copy(), xp.zeros((), dtype=xp.int64)
        if descending:  # stable descending: sort the reversed input, then map positions back
            idx = xp.flip(xp.argsort(xp.flip(x, dim), axis=dim, kind="stable"), dim)
            idx = x.shape[dim] - 1 - idx
        else:
            idx = xp.argsort(x, axis=dim, kind="stable")
        return xp.take_along_axis(x, idx, axis=dim), idx

    def topk(x, k=1, dim=-1, largest=True, sorted=True):
        size = x.shape[dim] if x.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError("topk(): selected index k out of range")
        values, idx = sort(x, dim, descending=largest)
        if x.ndim == 0:
            return values, idx
        keep = xp.arange(k)
        return xp.take(values, keep, axis=dim), xp.take(idx, keep, axis=dim)

    def kthvalue(x, k=1, dim=-1, keepdim=False):
        size = x.shape[dim] if x.ndim else 1
        if not 1 <= k <= size:
            raise RuntimeError(f"kthvalue(): selected number k out of range for dimension "
                               f"{dim % max(x.ndim, 1)}")
        values, idx = sort(x, dim)
        if x.ndim == 0:
            return values, idx
        pick = xp.asarray([k - 1])
        values, idx = xp.take(values, pick, axis=dim), xp.take(idx, pick, axis=dim)
        if not keepdim:
            values, idx = xp.squeeze(values, dim), xp.squeeze(idx, dim)
        return values, idx

    def unique(x, sorted=True, dim=None):
        if dim is None:
            values, inverse, counts = xp.unique(x.reshape(-1), return_inverse=True,
                                                return_counts=True)
            return values, inverse.reshape(x.shape), counts
        values, inverse, counts = xp.unique(x, return_inverse=True, return_counts=True,
                                            axis=dim)
        return values, inverse.reshape(-1), counts

    def scatter(x, index, src, dim=0):
        dim %= x.ndim
        if index.ndim != x.ndim or any(n > x.shape[d] for d, n in enumerate(index.shape)
                                       if d != dim):
            raise ValueError("index does not fit")  # the meta function explains
        bad = _first_bad(xp, index, 0, x.shape[dim])
        if bad is not None:
            raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size "
                               f"{x.shape[dim]}")
        out = x.copy()
        if hasattr(src, "shape"):
            src = src[tuple(slice(0, s) for s in index.shape)]
        out[_along(xp, index, dim)] = src
        return out

    def index_write(name: str, accumulate: bool):
        def kernel(x, index, source, dim=0, alpha=1):
            if index.ndim > 1:
                raise ValueError("index is not a vector")
            index, shape = index.reshape(-1), x.shape
            if x.ndim == 0:
                x, source = x.reshape(1), source.reshape(1)
            dim %= x.ndim
            bad = _first_bad(xp, index, 0, x.shape[dim])
            if bad is not None:
                error = IndexOutOfRange if name == "index_copy_" else RuntimeError
                raise error(f"{name}(): index {bad} is out of bounds for dimension {dim} with "
                            f"size {x.shape[dim]}")
            out = x.copy()
            where = (slice(None),) * dim + (index,)
            if accumulate:
                xp.add.at(out, where, source if alpha == 1 else source * alpha)
            else:
                out[where] = source
            return out.reshape(shape)
        return kernel

    def index_fill(x, index, value, dim=0):
        if index.ndim > 1:
            raise ValueError("index is not a vector")  # the meta function explains
        index = index.reshape(-1)
        size = x.shape[dim] if x.ndim else 1
        bad = _first_bad(xp, index, -size, size)
        if bad is not None:
            raise IndexOutOfRange(f"index_fill_(): index {bad} is out of bounds for dimension "
                                  f"{dim % max(x.ndim, 1)} with size {size}")
        out = x.copy()
        if x.ndim == 0:
            if index.size:
                out[...] = value
            return out
        out[(slice(None),) * (dim % x.ndim) + (index,)] = value
        return out

    def put(x, index, source, accumulate=False):
        index, source = index.reshape(-1), source.reshape(-1)
        if index.size != source.size:
            raise ValueError("put: sizes differ")  # the meta function explains
        bad = _first_bad(xp, index, -x.size, x.size)
        if bad is not None:
            raise IndexOutOfRange(f"put_(): out of range: tried to access index {bad} on a "
                                  f"tensor of {x.size} elements.")
        out = x.copy()
        flat = out.reshape(-1)  # a view: `out` is a fresh contiguous copy
        if accumulate:
            xp.add.at(flat, index, source)
        else:
            flat[index] = source
        return out

    def masked_scatter(x, mask, source):
        shape = np.broadcast_shapes(x.shape, mask.shape)
        out = xp.array(xp.broadcast_to(x, shape))
        m = xp.broadcast_to(mask, shape)
        count = int(m.sum())
        if count > source.size:
            raise RuntimeError(f"masked_scatter_(): Number of elements of source < number of "
                               f"ones in mask ({source.size} < {count})")
        out[m] = source.reshape(-1)[:count]
        return out

    def index(x, *indices, dims=()):
        check_indices(x.shape, indices, dims)
        return x[_numpy_index(indices, dims)]

    def index_put(x, values, *indices, dims=(), accumulate=False):
        check_indices(x.shape, indices, dims)
        out = x.copy()
        where = _numpy_index(indices, dims)
        if not accumulate:
            out[where] = values
        elif all(ix.dtype == bool for ix in indices):  # masks pick each element once
            out[where] = out[where] + values
        else:  # repeated integer indices must add up: unbuffered add
            split = []
            for ix in where:
                split += list(ix.nonzero()) if getattr(ix, "dtype", None) == bool else [ix]
            xp.add.at(out, tuple(split), values)
        return out

    return {
        "cat": cat, "stack": lambda *arrays, dim=0: xp.stack(arrays, axis=dim),
        "split": split, "unbind": unbind, "flip": flip, "roll": roll, "repeat": repeat,
        "index_fill": index_fill, "put": put, "masked_scatter": masked_scatter,
        "index_select": index_select, "masked_fill": masked_fill, "masked_select": masked_select,
        "nonzero": lambda x: xp.argwhere(x).astype(xp.int64), "take": take,
        "sort": sort, "topk": topk, "kthvalue": kthvalue, "unique": unique,
        "scatter": scatter, "index_add": index_write("index_add_", True),
        "index_copy": index_write("index_copy_", False),
        "index": index, "index_put": index_put,
    }
