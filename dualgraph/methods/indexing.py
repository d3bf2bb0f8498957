"""Shape manipulation, joining and splitting, and indexing: the Tensor methods and
`dualgraph.*` functions of the ops in ir/ops/indexing.py and ir/ops/ordering.py. What a tensor
says about its memory (`storage()`, `stride()`, ...) is in storage.py."""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

from .. import return_types
from .._tensor_ops import sizes
from ..dispatch import bind, bind_inplace
from ..ir import get
from ..ir.meta import broadcast_shapes, normalize_dim

CAT, STACK, SPLIT, UNBIND = get("cat"), get("stack"), get("split"), get("unbind")
FLIP, ROLL, REPEAT = get("flip"), get("roll"), get("repeat")
INDEX_SELECT, MASKED_FILL, MASKED_SELECT = get("index_select"), get("masked_fill"), \
    get("masked_select")
NONZERO, TAKE, SORT, TOPK = get("nonzero"), get("take"), get("sort"), get("topk")
KTHVALUE, UNIQUE, SCATTER, SCATTER_ADD = get("kthvalue"), get("unique"), get("scatter"), \
    get("scatter_add")
INDEX_ADD, INDEX_COPY, INDEX_PUT = get("index_add"), get("index_copy"), get("index_put")
GETITEM, PERMUTE, TRANSPOSE, RESHAPE = get("getitem"), get("permute"), get("transpose"), \
    get("reshape")
GATHER = get("gather")
INDEX_FILL, PUT, MASKED_SCATTER = get("index_fill"), get("put"), get("masked_scatter")


def _named(name: str) -> type:
    """PyTorch's named result tuple (`torch.return_types.sort`), shared with return_types."""
    return getattr(return_types, name, None) or return_types._make(name, ("values", "indices"))


_SORT_T, _TOPK_T, _KTH_T = _named("sort"), _named("topk"), _named("kthvalue")


def _ints(args: tuple) -> tuple:
    """`f(0, 1)`, `f((0, 1))` and `f([0, 1])` all mean (0, 1)."""
    return sizes(args)


def _dim_tuple(dims: Any) -> tuple:
    return (dims,) if isinstance(dims, int) else tuple(dims)


def _tensor_list(name: str, tensors: Any) -> tuple:
    from ..tensor import Tensor
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"torch.{name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return tuple(tensors)


def _out(name: str, result: Any, out: Any, inputs: tuple) -> Any:
    from ..ops import _out as write_out
    return write_out(name, result, out, inputs)


def _not_traced(t: Any, what: str) -> None:
    if getattr(t, "_tracer", None) is not None:
        from ..jit.tracer import trace_error
        raise trace_error(f"{what} reads the memory of a traced tensor, which a graph does not "
                          "have")


# ----------------------------------------------------------------------- index arguments

def _as_index(ix: Any, device: Any) -> Any:
    """An index argument as an integer or bool tensor on `device` (lists and arrays too)."""
    from ..creation import tensor
    from ..tensor import Tensor
    from ..ir.types import bool_, uint8
    if not isinstance(ix, Tensor):
        ix = tensor(ix)
    if ix._dtype is uint8:
        warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                      "torch.bool instead.", UserWarning, stacklevel=3)
        ix = ix.to(bool_)
    return ix if ix._device is device else ix.to(device)


def put_indices(indices: Sequence, device: Any) -> tuple:
    """`index_put`'s indices (tensors, or None for a whole dim) as (tensors, start dims)."""
    from ..ir.types import bool_
    tensors, dims, d = [], [], 0
    for ix in indices:
        if ix is None:
            d += 1
            continue
        ix = _as_index(ix, device)
        tensors.append(ix)
        dims.append(d)
        d += ix.dim() if ix._dtype is bool_ else 1
    if not tensors:
        raise IndexError("index_put(): expected at least one index tensor")
    return tuple(tensors), tuple(dims)


class Methods:
    """Tensor methods of shape manipulation, indexing and storage."""

    __slots__ = ()

    # joining and splitting -------------------------------------------------------------
    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple:
        """Pieces of `split_size` along `dim` (the last may be smaller), or of the listed sizes."""
        d = normalize_dim("split", dim, self.dim())
        size = self.shape[d]
        if not isinstance(split_size_or_sections, (list, tuple)):
            step = int(split_size_or_sections)
            if step < 0:
                raise RuntimeError(f"split expects split_size be non-negative, but got "
                                   f"split_size={step}")
            if step == 0 and size != 0:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {size}")
            sizes = [step] * (size // step) if step else []
            sizes += [size % step] if step and size % step else []
            split_size_or_sections = sizes or [0]
        return bind(SPLIT, (self,), {"sizes": tuple(int(s) for s in split_size_or_sections),
                                     "dim": dim})

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """At most `chunks` pieces of equal size (the last may be smaller) along `dim`."""
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        size = self.shape[normalize_dim("chunk", dim, self.dim())]
        return self.split(max(-(-size // chunks), 1), dim)

    def unbind(self, dim: int = 0) -> tuple:
        return bind(UNBIND, (self,), {"dim": dim})

    def narrow(self, dim: int, start: Any, length: int) -> Any:
        """A view of `length` elements from `start` along `dim`."""
        d = normalize_dim("narrow", dim, self.dim())
        size, first = self.shape[d], int(start)
        if not -size <= first <= size:
            raise IndexError(f"start out of range (expected to be in range of [{-size}, "
                             f"{size}], but got {first})")
        if first < 0:
            first += size
        if length < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        if first + length > size:
            raise RuntimeError(f"start ({first}) + length ({length}) exceeds dimension size "
                               f"({size}).")
        return bind(GETITEM, (self,), {"index": (slice(None),) * d
                                       + (slice(first, first + length),)})

    # reordering --------------------------------------------------------------------------
    def flip(self, *dims: Any) -> Any:
        """A copy with the elements of `dims` in reverse order."""
        return bind(FLIP, (self,), {"dims": _ints(dims)})

    def fliplr(self) -> Any:
        if self.dim() < 2:
            raise RuntimeError("Input must be >= 2-d.")
        return self.flip(1)

    def flipud(self) -> Any:
        if self.dim() < 1:
            raise RuntimeError("Input must be >= 1-d.")
        return self.flip(0)

    def roll(self, shifts: Any, dims: Any = None) -> Any:
        return bind(ROLL, (self,), {"shifts": _dim_tuple(shifts),
                                    "dims": () if dims is None else _dim_tuple(dims)})

    def repeat(self, *sizes: Any) -> Any:
        return bind(REPEAT, (self,), {"repeats": _ints(sizes)})

    def tile(self, *dims: Any) -> Any:
        reps = _ints(dims)
        return self.repeat((1,) * (self.dim() - len(reps)) + reps)

    def unflatten(self, dim: int, sizes: Sequence) -> Any:
        """Split dim `dim` into `sizes` (one may be -1)."""
        d = normalize_dim("unflatten", dim, self.dim())
        sizes, size = tuple(int(s) for s in sizes), self.shape[d]
        known = math.prod(s for s in sizes if s != -1)
        ok = (size % known == 0 and known) if -1 in sizes else known == size
        if not ok or sizes.count(-1) > 1:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to "
                               f"the size of dim {d} ({size}) in the input tensor")
        shape = tuple(self.shape)
        return bind(RESHAPE, (self,), {"shape": shape[:d] + sizes + shape[d + 1:]})

    def movedim(self, source: Any, destination: Any) -> Any:
        """A view with dims `source` moved to positions `destination`."""
        n = self.dim()
        src = [normalize_dim("movedim", s, n) for s in _dim_tuple(source)]
        dst = [normalize_dim("movedim", s, n) for s in _dim_tuple(destination)]
        if len(src) != len(dst):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({len(src)} "
                               f"dims) should contain the same number of dims as destination "
                               f"({len(dst)} dims)")
        for name, ds in (("source", src), ("destination", dst)):
            if len(set(ds)) != len(ds):
                raise RuntimeError(f"movedim: repeated dim in `{name}` ({ds})")
        order = [None] * n
        for s, d in zip(src, dst):
            order[d] = s
        rest = iter(i for i in range(n) if i not in src)
        return bind(PERMUTE, (self,), {"dims": tuple(o if o is not None else next(rest)
                                                     for o in order)})

    moveaxis = movedim

    def swapaxes(self, axis0: int, axis1: int) -> Any:
        return bind(TRANSPOSE, (self,), {"dim0": axis0, "dim1": axis1})

    swapdims = swapaxes

    # selecting ---------------------------------------------------------------------------
    def index_select(self, dim: int, index: Any) -> Any:
        return bind(INDEX_SELECT, (self, index), {"dim": dim})

    def masked_fill(self, mask: Any, value: Any) -> Any:
        return bind(MASKED_FILL, (self, mask, value))

    def masked_fill_(self, mask: Any, value: Any) -> Any:
        return bind_inplace(MASKED_FILL, (self, mask, value))

    def masked_select(self, mask: Any) -> Any:
        return bind(MASKED_SELECT, (self, mask))

    def masked_scatter(self, mask: Any, source: Any) -> Any:
        """`source`'s elements, in order, where `mask` (broadcast) is true; else `self`."""
        return bind(MASKED_SCATTER, (self, mask, source))

    def masked_scatter_(self, mask: Any, source: Any) -> Any:
        return bind_inplace(MASKED_SCATTER, (self, mask, source))

    def index_fill(self, dim: int, index: Any, value: Any) -> Any:
        """`value` at `index` along `dim`."""
        return bind(INDEX_FILL, (self, index, value), {"dim": dim})

    def index_fill_(self, dim: int, index: Any, value: Any) -> Any:
        return bind_inplace(INDEX_FILL, (self, index, value), {"dim": dim})

    def put(self, index: Any, source: Any, accumulate: bool = False) -> Any:
        """`source` at `index` of the flattened tensor (added when `accumulate`)."""
        return bind(PUT, (self, index, source), {"accumulate": bool(accumulate)})

    def put_(self, index: Any, source: Any, accumulate: bool = False) -> Any:
        return bind_inplace(PUT, (self, index, source), {"accumulate": bool(accumulate)})

    def nonzero(self, *, as_tuple: bool = False) -> Any:
        """Indices of the non-zero elements: one row each, or one tensor per dim."""
        if not as_tuple:
            return bind(NONZERO, (self,))
        rows = bind(NONZERO, (self if self.dim() else self.reshape(1),))
        return tuple(bind(GETITEM, (rows,), {"index": (slice(None), i)})
                     for i in range(max(self.dim(), 1)))

    argwhere = nonzero

    def take(self, index: Any) -> Any:
        return bind(TAKE, (self, index))

    def take_along_dim(self, indices: Any, dim: Any = None) -> Any:
        """Values at `indices` along `dim` (broadcasting the other dims), or in the flattened
        tensor when `dim` is None."""
        if dim is None:
            return bind(GATHER, (self.reshape(-1), indices.reshape(-1)), {"dim": 0})
        if self.dim() != indices.dim():
            raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                               f"number of dimensions, but got {self.dim()} dimensions for "
                               f"input, and {indices.dim()} dimensions for indices")
        d = normalize_dim("take_along_dim", dim, self.dim())
        a, b = list(self.shape), list(indices.shape)
        common = list(broadcast_shapes("take_along_dim", a[:d] + [1] + a[d + 1:],
                                       b[:d] + [1] + b[d + 1:]))
        src = self.expand(*(common[:d] + [a[d]] + common[d + 1:]))
        idx = indices.expand(*(common[:d] + [b[d]] + common[d + 1:]))
        return bind(GATHER, (src, idx), {"dim": d})

    # ordering ----------------------------------------------------------------------------
    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _SORT_T(*bind(SORT, (self,), {"dim": dim, "descending": bool(descending),
                                             "stable": bool(stable)}))

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return self.sort(dim, descending, stable)[1]

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        return _TOPK_T(*bind(TOPK, (self,), {"k": int(k), "dim": dim, "largest": bool(largest),
                                             "sorted": bool(sorted)}))

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False) -> Any:
        return _KTH_T(*bind(KTHVALUE, (self,), {"k": int(k), "dim": dim,
                                                "keepdim": bool(keepdim)}))

    def unique(self, sorted: bool = True, return_inverse: bool = False,
               return_counts: bool = False, dim: Any = None) -> Any:
        """The distinct values (sorted), with the inverse map and counts if asked."""
        values, inverse, counts = bind(UNIQUE, (self,), {"sorted": bool(sorted), "dim": dim})
        extra = ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
        return (values,) + extra if extra else values

    # index-driven writes -----------------------------------------------------------------
    def scatter(self, dim: int, index: Any, src: Any = None, value: Any = None, *,
                reduce: Any = None) -> Any:
        """A copy with `src` (a tensor or a number) written at `index` along `dim`."""
        return bind(*_scatter_call(self, dim, index, src, value, reduce))

    def scatter_(self, dim: int, index: Any, src: Any = None, value: Any = None, *,
                 reduce: Any = None) -> Any:
        return bind_inplace(*_scatter_call(self, dim, index, src, value, reduce))

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Any:
        return bind_inplace(SCATTER_ADD, (self, index, src), {"dim": dim})

    def index_add(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
        return bind(INDEX_ADD, (self, index, source), {"dim": dim, "alpha": alpha})

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
        return bind_inplace(INDEX_ADD, (self, index, source), {"dim": dim, "alpha": alpha})

    def index_copy(self, dim: int, index: Any, source: Any) -> Any:
        return bind(INDEX_COPY, (self, index, source), {"dim": dim})

    def index_copy_(self, dim: int, index: Any, source: Any) -> Any:
        return bind_inplace(INDEX_COPY, (self, index, source), {"dim": dim})

    def index_put(self, indices: Sequence, values: Any, accumulate: bool = False) -> Any:
        """A copy with self[indices] = values (+= with `accumulate`); None indexes a whole dim."""
        tensors, dims = put_indices(indices, self._device)
        return bind(INDEX_PUT, (self, values, *tensors), {"dims": dims,
                                                          "accumulate": bool(accumulate)})

    def index_put_(self, indices: Sequence, values: Any, accumulate: bool = False) -> Any:
        tensors, dims = put_indices(indices, self._device)
        return bind_inplace(INDEX_PUT, (self, values, *tensors),
                            {"dims": dims, "accumulate": bool(accumulate)})

    # memory ------------------------------------------------------------------------------


def _scatter_call(self: Any, dim: int, index: Any, src: Any, value: Any, reduce: Any) -> tuple:
    """(op, inputs, attrs) of scatter: `src` may be a tensor or a number (`value=`)."""
    src = value if src is None else src
    if src is None:
        raise TypeError("scatter() missing required argument 'src' (or 'value')")
    if reduce is not None:
        if reduce != "add":  # PyTorch deprecates `reduce`; 'multiply' is not offered here
            raise ValueError(f"scatter(): reduce={reduce!r} is not supported; reduce='add' is "
                             "(or call scatter_add); multiply through a mask instead")
        if not hasattr(src, "shape"):  # a number: add it at every indexed position
            from ..creation import full
            src = full(tuple(index.shape), src, dtype=self.dtype, device=self.device)
        return SCATTER_ADD, (self, index, src), {"dim": dim}
    return SCATTER, (self, index, src), {"dim": dim}


# ------------------------------------------------------------------------ dualgraph.* functions

def cat(tensors: Sequence, dim: int = 0, *, out: Any = None) -> Any:
    """Join tensors along `dim`; dtypes promote as in arithmetic."""
    tensors = _tensor_list("cat", tensors)
    return _out("cat", bind(CAT, tensors, {"dim": dim}), out, tensors)


concat = concatenate = cat


def stack(tensors: Sequence, dim: int = 0, *, out: Any = None) -> Any:
    """Join same-shaped tensors along a new dim `dim`."""
    tensors = _tensor_list("stack", tensors)
    return _out("stack", bind(STACK, tensors, {"dim": dim}), out, tensors)


def hstack(tensors: Sequence, *, out: Any = None) -> Any:
    tensors = tuple(t.reshape(1) if t.dim() == 0 else t for t in _tensor_list("hstack", tensors))
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1, out=out)


def vstack(tensors: Sequence, *, out: Any = None) -> Any:
    tensors = tuple(t.reshape(1, -1) if t.dim() < 2 else t
                    for t in _tensor_list("vstack", tensors))
    return cat(tensors, 0, out=out)


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple:
    return tensor.split(split_size_or_sections, dim)


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple:
    return input.chunk(chunks, dim)


def unbind(input: Any, dim: int = 0) -> tuple:
    return input.unbind(dim)


def narrow(input: Any, dim: int, start: Any, length: int) -> Any:
    return input.narrow(dim, start, length)


def flip(input: Any, dims: Any) -> Any:
    return input.flip(dims)


def fliplr(input: Any) -> Any:
    return input.fliplr()


def flipud(input: Any) -> Any:
    return input.flipud()


def roll(input: Any, shifts: Any, dims: Any = None) -> Any:
    return input.roll(shifts, dims)


def tile(input: Any, dims: Any) -> Any:
    return input.tile(dims)


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    return input.flatten(start_dim, end_dim)


def unflatten(input: Any, dim: int, sizes: Sequence) -> Any:
    return input.unflatten(dim, sizes)


def movedim(input: Any, source: Any, destination: Any) -> Any:
    return input.movedim(source, destination)


moveaxis = movedim


def swapaxes(input: Any, axis0: int, axis1: int) -> Any:
    return input.swapaxes(axis0, axis1)


swapdims = swapaxes


def index_select(input: Any, dim: int, index: Any, *, out: Any = None) -> Any:
    return _out("index_select", input.index_select(dim, index), out, (input, index))


def masked_fill(input: Any, mask: Any, value: Any) -> Any:
    return input.masked_fill(mask, value)


def masked_scatter(input: Any, mask: Any, source: Any) -> Any:
    """`torch.masked_scatter`: `source`'s elements, in order, where `mask` is true."""
    return input.masked_scatter(mask, source)


def index_fill(input: Any, dim: int, index: Any, value: Any) -> Any:
    """`torch.index_fill`: `value` at `index` along `dim`."""
    return input.index_fill(dim, index, value)


def put(input: Any, index: Any, source: Any, accumulate: bool = False) -> Any:
    """`torch.put`: `source` at `index` of the flattened input (added when `accumulate`)."""
    return input.put(index, source, accumulate)


def masked_select(input: Any, mask: Any, *, out: Any = None) -> Any:
    return _out("masked_select", input.masked_select(mask), out, (input, mask))


def nonzero(input: Any, *, out: Any = None, as_tuple: bool = False) -> Any:
    if as_tuple:
        return input.nonzero(as_tuple=True)
    return _out("nonzero", input.nonzero(), out, (input,))


def argwhere(input: Any) -> Any:
    return input.nonzero()


def take(input: Any, index: Any, *, out: Any = None) -> Any:
    return _out("take", input.take(index), out, (input, index))


def take_along_dim(input: Any, indices: Any, dim: Any = None, *, out: Any = None) -> Any:
    return _out("take_along_dim", input.take_along_dim(indices, dim), out, (input, indices))


def gather(input: Any, dim: int, index: Any, *, out: Any = None) -> Any:
    return _out("gather", input.gather(dim, index), out, (input, index))


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    return input.sort(dim, descending, stable)


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    return input.argsort(dim, descending, stable)


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    return input.topk(k, dim, largest, sorted)


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    return input.kthvalue(k, dim, keepdim)


def unique(input: Any, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: Any = None) -> Any:
    return input.unique(sorted, return_inverse, return_counts, dim)


def scatter(input: Any, dim: int, index: Any, src: Any = None, value: Any = None, *,
            reduce: Any = None) -> Any:
    return input.scatter(dim, index, src, value, reduce=reduce)


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Any:
    return input.scatter_add(dim, index, src)


def index_add(input: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Any:
    return input.index_add(dim, index, source, alpha=alpha)


def index_copy(input: Any, dim: int, index: Any, source: Any) -> Any:
    return input.index_copy(dim, index, source)


def index_put(input: Any, indices: Sequence, values: Any, accumulate: bool = False) -> Any:
    return input.index_put(indices, values, accumulate)


def index_put_(input: Any, indices: Sequence, values: Any, accumulate: bool = False) -> Any:
    return input.index_put_(indices, values, accumulate)


__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "split", "chunk",
           "unbind", "narrow", "flip", "fliplr", "flipud", "roll", "tile", "flatten",
           "unflatten", "movedim", "moveaxis", "swapaxes", "swapdims", "index_select",
           "masked_fill", "masked_select", "nonzero", "argwhere", "take", "take_along_dim",
           "gather", "sort", "argsort", "topk", "kthvalue", "unique", "scatter", "scatter_add",
           "index_add", "index_copy", "index_put", "index_put_", "index_fill", "put",
           "masked_scatter"]
