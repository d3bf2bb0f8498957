"""Where a tensor's elements are in C: a pointer, an element offset, a shape and strides, all
known when the C is written (ints, or formulas of the size arguments), so views cost nothing.

The entry point's inputs are C-ordered arrays and every value a kernel writes is C-ordered, so
the layout of every value follows from its node: a view op changes offset, shape and strides
(`view_layouts`), any other op writes a fresh contiguous array. A view whose strides cannot be
expressed (a `reshape` of a transposed value) returns None, and the caller copies first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ir.symbolic import add, mul, sub
from ..ir.types import DType
from .cexpr import Unlowerable, size_expr


@dataclass(frozen=True)
class Layout:
    """A tensor value in C: `ptr[offset + sum(i_d * strides[d])]` for index (i_0, ...)."""

    ptr: str
    dtype: DType
    shape: tuple
    strides: tuple
    offset: Any = 0

    @property
    def rank(self) -> int:
        return len(self.shape)

    def is_contiguous(self) -> bool:
        return all(same(s, c) for d, s, c in zip(self.shape, self.strides,
                                                  contiguous_strides(self.shape)) if d != 1)

    def ptr_at(self) -> str:
        """A C pointer to the first element."""
        return self.ptr if same(self.offset, 0) else f"({self.ptr} + {size_expr(self.offset)})"

    def at(self, index: list) -> str:
        """The C element expression for loop variables (or expressions) `index`, one per dim."""
        terms = [] if same(self.offset, 0) else [size_expr(self.offset)]
        for i, s, d in zip(index, self.strides, self.shape):
            if same(s, 0) or d == 1:
                continue
            terms.append(i if same(s, 1) else f"{i}*{size_expr(s)}")
        return f"{self.ptr}[{' + '.join(terms) if terms else '0'}]"


def same(a: Any, b: Any) -> bool:
    """Two sizes are equal for every value of the symbols (canonical polynomials compare)."""
    return sub(a, b) == 0


def contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step = mul(step, d)
    return tuple(reversed(strides))


def contiguous(ptr: str, dtype: DType, shape: tuple) -> Layout:
    return Layout(ptr, dtype, tuple(shape), contiguous_strides(tuple(shape)))


def broadcast_strides(layout: Layout, shape: tuple) -> tuple:
    """The strides that read `layout` as an array of `shape` (NumPy broadcasting: 0 where the
    value has size 1 or lacks the dim)."""
    lead = len(shape) - layout.rank
    if lead < 0:
        raise Unlowerable(f"cannot broadcast a rank-{layout.rank} value to {shape}")
    out = [0] * lead
    for d, s, full in zip(layout.shape, layout.strides, shape[lead:]):
        out.append(0 if d == 1 and full != 1 else s)
    return tuple(out)


def broadcast_to(layout: Layout, shape: tuple) -> Layout:
    return Layout(layout.ptr, layout.dtype, tuple(shape), broadcast_strides(layout, shape),
                  layout.offset)


def _reshaped(x: Layout, shape: tuple) -> Layout | None:
    if x.is_contiguous():
        return Layout(x.ptr, x.dtype, tuple(shape), contiguous_strides(tuple(shape)), x.offset)
    kept = [(d, s) for d, s in zip(x.shape, x.strides) if d != 1]
    if [d for d, _ in kept] != [d for d in shape if d != 1]:
        return None  # a real reshape of a strided value: the caller copies first
    it = iter(kept)
    strides = [0 if d == 1 else next(it)[1] for d in shape]
    return Layout(x.ptr, x.dtype, tuple(shape), tuple(strides), x.offset)


def _permuted(x: Layout, perm: list) -> Layout:
    return Layout(x.ptr, x.dtype, tuple(x.shape[p] for p in perm),
                  tuple(x.strides[p] for p in perm), x.offset)


def _indexed(x: Layout, index: tuple, out_shape: tuple) -> Layout:
    """Basic indexing: ints, slices with constant bounds, None and Ellipsis."""
    index = tuple(index)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (x.rank - n_real) + index[k + 1:]
    index = index + (slice(None),) * (x.rank - sum(1 for i in index if i is not None))
    shape, strides, offset, d = [], [], x.offset, 0
    for item in index:
        if item is None:
            shape.append(1)
            strides.append(0)
            continue
        size, stride = x.shape[d], x.strides[d]
        if isinstance(item, bool) or not isinstance(item, (int, slice)):
            raise Unlowerable(f"index {item!r:.40} is not basic indexing")
        if isinstance(item, int):
            if not isinstance(size, int):
                if item < 0:
                    raise Unlowerable("a negative index into a symbolic dim")
                position = item
            else:
                position = item + size if item < 0 else item
            offset = add(offset, mul(position, stride))
        else:
            if not isinstance(size, int):
                if item.step not in (None, 1) or (item.start or 0) < 0 or item.stop is not None:
                    raise Unlowerable("a slice of a symbolic dim other than [k:]")
                start, step = item.start or 0, 1
            else:
                start, _, step = item.indices(size)
            offset = add(offset, mul(start, stride))
            shape.append(None)
            strides.append(mul(stride, step))
        d += 1
    shape = list(out_shape)
    return Layout(x.ptr, x.dtype, tuple(shape), tuple(strides), offset)


def view_layouts(op: Any, attrs: dict, x: Layout, out_types: list) -> list | None:
    """The layouts of a view node's outputs over its input's layout, or None where the view
    needs a contiguous input (a reshape of a strided value)."""
    shapes = [tuple(t.shape) for t in out_types]
    name = op.name
    if op.algebra.permutation is not None:
        return [_permuted(x, list(op.algebra.permutation(attrs, x.rank)))]
    if op.algebra.reshape_like:
        out = _reshaped(x, shapes[0])
        return None if out is None else [out]
    if name == "expand":
        return [broadcast_to(x, shapes[0])]
    if name == "getitem":
        return [_indexed(x, attrs["index"], shapes[0])]
    if name in ("split", "unbind"):
        dim = attrs["dim"] % x.rank
        layouts, start = [], 0
        for shape in shapes:
            if name == "split":
                offset = add(x.offset, mul(start, x.strides[dim]))
                layouts.append(Layout(x.ptr, x.dtype, shape, x.strides, offset))
                start = add(start, shape[dim])
            else:
                offset = add(x.offset, mul(start, x.strides[dim]))
                strides = x.strides[:dim] + x.strides[dim + 1:]
                layouts.append(Layout(x.ptr, x.dtype, shape, strides, offset))
                start = add(start, 1)
        return layouts
    if name == "diagonal":
        d1, d2, k = attrs["dim1"] % x.rank, attrs["dim2"] % x.rank, attrs["offset"]
        offset = add(x.offset, mul(k, x.strides[d2]) if k >= 0 else mul(-k, x.strides[d1]))
        rest = [i for i in range(x.rank) if i not in (d1, d2)]
        strides = tuple(x.strides[i] for i in rest) + (add(x.strides[d1], x.strides[d2]),)
        return [Layout(x.ptr, x.dtype, shapes[0], strides, offset)]
    raise Unlowerable(f"view op {name} has no C layout rule")
