"""Reusable pieces of meta functions: dtype rules and shape rules shared by many ops.

A dtype rule maps (operands, attrs) to (result dtype, compute dtype): the dtype of the output and
the dtype the inputs are cast to before the kernel runs (they differ for comparisons). A shape rule
maps (operands, attrs) to the output shape. Operands are TensorTypes (or tensors: anything with
`.dtype` and `.shape`) and Python scalars. Dimensions may be symbolic sizes in graphs: a symbol
(`"B"`) or an expression of symbols (`SymExpr`, a str: `48*B`, `B*T`, `B + 1`; see
`ir/symbolic.py`). A rule that computes with sizes normalizes them with `dim` and uses `+ - *`,
`prod` and `exact_div`; `is_symbolic` tells a symbolic size from an int.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .registry import OpError
from .symbolic import SymExpr, dim, exact_div, is_symbolic, prod  # noqa: F401 (re-exported)
from .types import DType, bool_, get_default_dtype, int64, result_type


def is_tensor(x: Any) -> bool:
    return hasattr(x, "dtype") and hasattr(x, "shape")


def tensors(operands: Sequence) -> list:
    return [x for x in operands if is_tensor(x)]


def fmt_shape(shape: Sequence) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# PyTorch's names for dtypes in messages ("Got: Long", "result type Float can't be cast ...").
SCALAR_TYPE_NAMES = {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double", "int8": "Char",
                     "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte",
                     "bool": "Bool"}

# ------------------------------------------------------------------------------------ dtype rules

def promote(operands: Sequence, attrs: dict) -> tuple[DType, DType]:
    """Arithmetic: PyTorch's promotion over all operands (`add`, `mul`, `maximum`)."""
    d = result_type(operands)
    return d, d


def promote_to_float(operands: Sequence, attrs: dict) -> tuple[DType, DType]:
    """Like `promote`, but integers and bools become the default float (`div`, `exp`, `sqrt`)."""
    d = result_type(operands)
    if not d.is_floating_point:
        d = get_default_dtype()
    return d, d


def compare(operands: Sequence, attrs: dict) -> tuple[DType, DType]:
    """Comparisons compute in the promoted dtype and return bool."""
    return bool_, result_type(operands)


def keep_first(operands: Sequence, attrs: dict) -> tuple[DType, DType]:
    """The output has the first input's dtype (views, shape ops, `neg`, `relu`)."""
    d = operands[0].dtype
    return d, d


# Rules whose answer never depends on attributes: the eager fast path may use its precomputed
# dtype table for calls with attributes (`view(2, 2)`) when the op's rule is one of these.
for _rule in (promote, promote_to_float, compare, keep_first):
    _rule.ignores_attrs = True


def no_bool(rule):
    """Wrap a rule to refuse bool inputs, with PyTorch's message for `-bool_tensor` and friends."""
    def checked(operands, attrs):
        for x in operands:
            if is_tensor(x) and x.dtype is bool_:
                raise OpError("this op does not support bool tensors; convert with .int() or "
                              ".float() first")
        return rule(operands, attrs)
    checked.__name__ = getattr(rule, "__name__", "rule")
    return checked


def bool_refused(op_name: str, rule, message: str | None = None):
    """Wrap a dtype rule to refuse a computation in bool, with PyTorch's message: `message`
    for any bool tensor input (relu), else where the result dtype would be bool (`pow` of two
    bool tensors, `addcmul`), which NumPy would silently promote to int."""
    def checked(operands, attrs):
        result = rule(operands, attrs)
        if message and any(is_tensor(x) and x.dtype is bool_ for x in operands):
            raise OpError(message)
        if result[0] is bool_:
            raise OpError(f'"{op_name}" not implemented for \'Bool\'')
        return result
    checked.__name__ = getattr(rule, "__name__", "rule")
    return checked


def same_dtype(op_name: str):
    """All tensor inputs must share one dtype (`matmul`), as PyTorch requires."""
    def rule(operands, attrs):
        ts = tensors(operands)
        for t in ts[1:]:
            if t.dtype is not ts[0].dtype:
                raise OpError(f"{op_name}(): expected both inputs to have the same dtype, but got "
                              f"{ts[0].dtype} and {t.dtype}")
        if ts[0].dtype is bool_:
            raise OpError(f"{op_name}(): bool tensors are not supported")
        return ts[0].dtype, ts[0].dtype
    return rule


def reduction_dtype(op_name: str, needs_float: bool):
    """`sum` turns ints and bools into int64; `mean` needs a float unless `dtype=` is given."""
    def rule(operands, attrs):
        want = attrs.get("dtype")
        d = operands[0].dtype
        if want is not None:
            return want, want
        if needs_float and not d.is_floating_point:
            raise OpError(
                f"{op_name}(): could not infer output dtype. Input dtype must be either a "
                f"floating point or complex dtype. Got: {SCALAR_TYPE_NAMES[d.name]}")
        if not d.is_floating_point:
            return int64, int64
        return d, d
    return rule


def cast_rule(operands, attrs):
    """`to_dtype`: the kernel does the cast, so inputs are not cast beforehand."""
    if not isinstance(attrs["dtype"], DType):
        raise OpError(f"to_dtype(): attribute dtype must be a dtype, got {attrs['dtype']!r}")
    return attrs["dtype"], operands[0].dtype


# ------------------------------------------------------------------------------------ shape rules

def broadcast_shapes(op_name: str, *shapes: Sequence) -> tuple:
    """NumPy/PyTorch broadcasting; a mismatch names the op, the dimension and both shapes.
    Sizes may be ints, symbolic sizes, or a tracer's SymDims (VJP rules pass those): each
    entry of the result is one of the inputs' entries."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        size = key = 1
        for s in shapes:
            if len(s) < -i:
                continue
            d = s[i]
            k = d if isinstance(d, (int, str)) else dim(d)
            if k == 1 or k == key:
                continue
            if key == 1:
                size, key = d, k
            elif is_symbolic(k) or is_symbolic(key):
                # A symbolic size meets a concrete one: the concrete size wins (the kernel
                # checks the symbol's value when the graph runs); two symbolic sizes: the first.
                if not is_symbolic(k):
                    size, key = d, k
            else:
                a, b = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
                raise OpError(
                    f"{op_name}(): The size of tensor a ({a[i] if len(a) >= -i else 1}) must "
                    f"match the size of tensor b ({b[i] if len(b) >= -i else 1}) at non-singleton "
                    f"dimension {ndim + i}; input shapes are {fmt_shape(a)} and {fmt_shape(b)}")
        out.append(size)
    return tuple(out)


def broadcast_rule(op_name: str):
    def rule(operands, attrs):
        return broadcast_shapes(op_name, *(tuple(t.shape) for t in tensors(operands)))
    return rule


def first_shape(operands, attrs):
    return tuple(operands[0].shape)


def normalize_dim(op_name: str, dim: int, ndim: int) -> int:
    """A dim in [-ndim, ndim) as a non-negative index; PyTorch's IndexError otherwise."""
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op_name}(): dim must be an int, got {dim!r}")
    if not lo <= dim <= hi:
        raise IndexError(f"{op_name}(): Dimension out of range (expected to be in range of "
                         f"[{lo}, {hi}], but got {dim})")
    return dim % ndim if ndim else 0


def reduce_dims(op_name: str, dim: Any, ndim: int) -> tuple:
    """`dim=None` means all dims; an int or a tuple is normalized, sorted and checked."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = sorted({normalize_dim(op_name, d, ndim) for d in dims})
    if len(out) != len(dims):
        raise RuntimeError(f"{op_name}(): dim {dim} appears multiple times in the list of dims")
    return tuple(out)


def reduction_shape(op_name: str):
    def rule(operands, attrs):
        shape = tuple(operands[0].shape)
        dims = reduce_dims(op_name, attrs.get("dim"), len(shape))
        keep = attrs.get("keepdim", False)
        return tuple((1 if keep else None) if i in dims else d
                     for i, d in enumerate(shape) if keep or i not in dims)
    return rule


def numel(shape: Sequence) -> Any:
    """The element count of a shape: an int, or a SymExpr when a dim is symbolic (`48*B`)."""
    return prod(dim(d) for d in shape)


def infer_reshape(op_name: str, shape: Sequence, new_shape: Sequence) -> tuple:
    """Fill in a single -1 and check the element count ("shape '[5, 3]' is invalid ...").

    Sizes are exact polynomials of the symbols: (B, 1, 28, 28) viewed as (B, -1) gives
    (B, 784), (B, T, 8) as (-1, 8) gives (B*T, 8); a -1 that is not an exact quotient for every
    value of the symbols (`2*B` as `(4, -1)`) is refused with PyTorch's message."""
    new_shape = tuple(dim(d) if is_symbolic(d) else d for d in new_shape)
    if sum(1 for d in new_shape if d == -1) > 1:
        raise RuntimeError(f"{op_name}(): only one dimension can be inferred")
    for d in new_shape:
        if not is_symbolic(d) and d < -1:
            raise RuntimeError(f"{op_name}(): invalid shape dimension {d}")
    total = numel(shape)
    known = prod(d for d in new_shape if d != -1)
    invalid = RuntimeError(f"{op_name}(): shape '{fmt_shape(new_shape)}' is invalid for input of "
                           f"size {total}")
    if -1 in new_shape:
        inferred = exact_div(total, known) if known != 0 else None
        if inferred is None:
            raise invalid
        return tuple(inferred if d == -1 else d for d in new_shape)
    if known != total:
        raise invalid
    return new_shape


def reshape_shape(op_name: str):
    def rule(operands, attrs):
        return infer_reshape(op_name, tuple(operands[0].shape), attrs["shape"])
    return rule


def transpose_shape(operands, attrs):
    shape = list(operands[0].shape)
    a = normalize_dim("transpose", attrs["dim0"], len(shape))
    b = normalize_dim("transpose", attrs["dim1"], len(shape))
    shape[a], shape[b] = shape[b], shape[a]
    return tuple(shape)


def permute_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    dims = tuple(normalize_dim("permute", d, len(shape)) for d in attrs["dims"])
    if len(dims) != len(shape) or sorted(dims) != list(range(len(shape))):
        raise RuntimeError(f"permute(): dims {list(attrs['dims'])} must be a permutation of the "
                           f"{len(shape)} dims of the input of shape {fmt_shape(shape)}")
    return tuple(shape[d] for d in dims)


def expand_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    size = tuple(attrs["size"])
    if len(size) < len(shape):
        raise RuntimeError(
            f"expand(): the number of sizes provided ({len(size)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(shape)})")
    out = []
    lead = len(size) - len(shape)
    for i, s in enumerate(size):
        if i < lead:
            if s == -1:
                raise RuntimeError("expand(): -1 is not allowed in a leading, non-existing "
                                   "dimension")
            out.append(s)
            continue
        d = shape[i - lead]
        if s == -1:
            out.append(d)
        elif d == 1 or d == s:
            out.append(s)
        else:
            raise RuntimeError(
                f"expand(): The expanded size of the tensor ({s}) must match the existing size "
                f"({d}) at non-singleton dimension {i}.  Target sizes: {fmt_shape(size)}.  "
                f"Tensor sizes: {fmt_shape(shape)}")
    return tuple(out)


def sum_to_shape(operands, attrs):
    shape, size = tuple(operands[0].shape), tuple(attrs["size"])
    lead = len(shape) - len(size)
    ok = lead >= 0 and all(s == d or s == 1 for s, d in zip(size, shape[lead:]))
    if not ok:
        raise RuntimeError(f"sum_to_size(): size {fmt_shape(size)} is not expandable to size "
                           f"{fmt_shape(shape)}")
    return size


def unsqueeze_shape(operands, attrs):
    shape = list(operands[0].shape)
    d = normalize_dim("unsqueeze", attrs["dim"], len(shape) + 1)
    shape.insert(d, 1)
    return tuple(shape)


def squeeze_shape(operands, attrs):
    shape = tuple(operands[0].shape)
    dims = reduce_dims("squeeze", attrs.get("dim"), len(shape)) if shape else ()
    return tuple(d for i, d in enumerate(shape) if not (i in dims and d == 1))


def matmul_shape(operands, attrs):
    a, b = (tuple(t.shape) for t in operands[:2])
    if not a or not b:
        raise OpError(f"matmul(): both arguments need at least 1 dimension, got shapes "
                      f"{fmt_shape(a)} and {fmt_shape(b)}")
    k1 = a[-1]
    k2 = b[-2] if len(b) > 1 else b[0]
    if k1 != k2 and not (isinstance(k1, str) or isinstance(k2, str)):
        raise OpError(f"matmul(): shapes {fmt_shape(a)} and {fmt_shape(b)} cannot be multiplied "
                      f"({k1} != {k2} in the contracted dimension)")
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(b) == 1:
        return a[:-1]
    if len(a) == 1:
        return b[:-2] + b[-1:]
    batch = broadcast_shapes("matmul", a[:-2], b[:-2])
    return batch + (a[-2], b[-1])


def index_shape(operands, attrs):
    """Basic indexing (ints, slices, None, Ellipsis) of the first operand."""
    return apply_basic_index(tuple(operands[0].shape), attrs["index"])


def expand_ellipsis(index: tuple, ndim: int) -> tuple:
    """Replace `...` by full slices so every index entry lines up with a dim (None adds one)."""
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    out = []
    for i in index:
        if i is Ellipsis:
            out.extend([slice(None)] * (ndim - used))
        else:
            out.append(i)
    if Ellipsis not in index:
        out.extend([slice(None)] * (ndim - used))
    return tuple(out)


def symbolic_slice_size(size: Any, index: slice) -> Any:
    """The length of `index` over a symbolic size, as an expression: `x[1:-1]` of B is `B - 2`,
    `x[2:]` is `B - 2`, `x[1:B - 1]` is `B - 2`. The size is taken to be at least what the slice
    needs (B >= 2 for `1:-1`); the compiled function checks that when it is called. A length
    that would be a constant (`x[:3]`, `x[-2:]`: really min(3, B)) and a step other than 1 have
    no polynomial length and are refused."""
    from .symbolic import dim as as_dim, sub
    if index.step not in (None, 1):
        raise OpError(f"slicing symbolic dimension {size} with step {index.step} is not "
                      f"supported (its length is not a polynomial of {size}); slice with step "
                      "1, or mark the dimension static")

    def position(bound: Any, default: Any) -> Any:
        if bound is None:
            return default
        bound = as_dim(bound)
        if isinstance(bound, int) and bound < 0:
            return sub(size, -bound)  # counted from the end
        return bound

    start, stop = position(index.start, 0), position(index.stop, size)
    length = sub(stop, start)
    if isinstance(length, int):  # x[:3], x[-2:]: min(3, B) rows, which no expression says
        raise OpError(f"slicing symbolic dimension {size} with {_slice_text(index)}: its length "
                      f"is min({length}, ...) of the size, which sizes cannot express; slice "
                      "from a size (x[:x.shape[0] - k]), or mark the dimension static")
    return length


def _slice_text(index: slice) -> str:
    parts = ["" if v is None else str(v) for v in (index.start, index.stop)]
    return ":".join(parts) + ("" if index.step is None else f":{index.step}")


def apply_basic_index(shape: tuple, index: tuple) -> tuple:
    out = []
    dim = 0
    for i in expand_ellipsis(index, len(shape)):
        if i is None:
            out.append(1)
            continue
        size = shape[dim]
        if isinstance(i, slice):
            if isinstance(size, str):
                out.append(symbolic_slice_size(size, i))
            else:
                out.append(len(range(*i.indices(size))))
        else:
            if not isinstance(size, str) and not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size "
                                 f"{size}")
        dim += 1
    return tuple(out)


def default_float(operands, attrs):
    d = attrs.get("dtype") or get_default_dtype()
    return d, d

