"""Small building blocks the export table composes (ONNX nodes for one IR idiom each): operands
at an op's compute dtype, results cast to its result dtype, reduction axes, compositions such as
`x * sigmoid(x)`. They read only the node and the emitter, so each table entry stays one line.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ..ir import meta
from ..ir.graph import Node, operand_type
from ..ir.types import TensorType, bool_
from .emitter import INT64_MAX, INT64_MIN, Emitter

Entry = Callable[[Emitter, Node], list]


def dtypes(node: Node) -> tuple:
    """(result dtype, compute dtype) of a node, from its op's dtype rule."""
    result, compute = node.op.dtype_rule([operand_type(x) for x in node.inputs], node.attrs)
    if isinstance(result, tuple):  # an op of several outputs: the first one's
        result = result[0]
        compute = compute[0] if isinstance(compute, tuple) else compute
    return result, compute or result


def out_type(node: Node, i: int = 0) -> TensorType:
    return node.outputs[i].type


def rank(x: Any) -> int:
    return len(x.type.shape) if isinstance(getattr(x, "type", None), TensorType) else 0


def finish(em: Emitter, name: str, have: Any, want: Any) -> str:
    """`name` (of dtype `have`) cast to `want` where they differ."""
    return name if have is want else em.cast(name, want)


def operands(em: Emitter, node: Node, dtype: Any = None) -> list:
    """Every input at the node's compute dtype (or at `dtype`)."""
    d = dtype or dtypes(node)[1]
    return [em.get(x, d) for x in node.inputs]


def elementwise(onnx_op: str, **fixed: Any) -> Entry:
    """One ONNX op over the inputs at the compute dtype, cast to the result dtype."""
    def entry(em: Emitter, node: Node) -> list:
        result, compute = dtypes(node)
        return [finish(em, em.emit(onnx_op, operands(em, node), **fixed), compute, result)]
    return entry


def composite(fn: Callable) -> Entry:
    """`fn(em, *inputs at compute dtype, compute=, **attrs)` builds the value at the compute
    dtype; the result is cast to the result dtype."""
    def entry(em: Emitter, node: Node) -> list:
        result, compute = dtypes(node)
        y = fn(em, *operands(em, node), compute=compute, **node.attrs)
        return [finish(em, y, compute, result)]
    return entry


def c(em: Emitter, value: Any, dtype: Any) -> str:
    """A 0-d constant of `dtype`."""
    return em.const(np.asarray(value, dtype=dtype.np))


def scaled(em: Emitter, x: str, factor: Any, dtype: Any) -> str:
    return x if factor == 1 else em.emit("Mul", [x, c(em, factor, dtype)])


def axes(node: Node, dim: Any, ndim: int) -> tuple:
    return meta.reduce_dims(node.op.name, dim, ndim)


def reduce(em: Emitter, onnx_op: str, x: str, dims: Sequence[int], keep: bool) -> str:
    """An ONNX reduction over `dims` (axes as an input: opset 18 and later)."""
    return em.emit(onnx_op, [x, em.ints(dims)], keepdims=int(keep))


def reduction(onnx_op: str, dims_of: Callable = lambda a: a.get("dim")) -> Entry:
    """sum, mean, prod, amax ...: cast to the result dtype, then reduce."""
    def entry(em: Emitter, node: Node) -> list:
        result, _ = dtypes(node)
        x = node.inputs[0]
        dim = dims_of(node.attrs)
        dims = axes(node, None if dim == () else dim, rank(x))
        if rank(x) == 0:
            return [em.emit("Identity", [em.get(x, result)])]
        return [reduce(em, onnx_op, em.get(x, result), dims, node.attrs.get("keepdim", False))]
    return entry


def count(em: Emitter, shape: Sequence, dims: Sequence[int], dtype: Any) -> str:
    """The number of elements over `dims` (symbolic sizes read at run time), as `dtype`."""
    n: Any = 1
    for d in dims:
        n = n * meta.dim(shape[d]) if isinstance(shape[d], str) else n * shape[d]
    return em.cast(em.scalar_size(n), dtype) if isinstance(n, str) else c(em, n, dtype)


def moments(em: Emitter, node: Node) -> tuple:
    """(var, mean) over the node's dims with its correction, at the result dtype."""
    result, _ = dtypes(node)
    x = node.inputs[0]
    shape = x.type.shape
    dims = axes(node, node.attrs["dim"], rank(x))
    keep = node.attrs["keepdim"]
    xv = em.get(x, result)
    mean_k = reduce(em, "ReduceMean", xv, dims, True)
    d = em.emit("Sub", [xv, mean_k])
    ss = reduce(em, "ReduceSum", em.emit("Mul", [d, d]), dims, keep)
    n = count(em, shape, dims, result)
    denom = em.emit("Max", [em.emit("Sub", [n, c(em, node.attrs["correction"], result)]),
                            c(em, 0, result)])
    var = em.emit("Div", [ss, denom])
    mean = mean_k if keep else em.emit("Squeeze", [mean_k, em.ints(dims)]) if dims else mean_k
    return var, mean


def where(em: Emitter, cond: str, a: str, b: str) -> str:
    return em.emit("Where", [cond, a, b])


def trunc(em: Emitter, x: str, compute: Any) -> str:
    return em.emit("Mul", [em.emit("Sign", [x]), em.emit("Floor", [em.emit("Abs", [x])])])


def floor_div_int(em: Emitter, a: str, b: str, compute: Any) -> str:
    """Integer floor division from ONNX's truncating Div."""
    q = em.emit("Div", [a, b])
    zero = c(em, 0, compute)
    inexact = em.emit("Not", [em.emit("Equal", [em.emit("Mul", [q, b]), a])])
    signs = em.emit("Xor", [em.emit("Less", [a, zero]), em.emit("Less", [b, zero])])
    return em.emit("Sub", [q, em.cast(em.emit("And", [inexact, signs]), compute)])


def div(em: Emitter, a: str, b: str, *, compute: Any, rounding_mode: Any) -> str:
    if not compute.is_floating_point:
        if rounding_mode == "floor":
            return floor_div_int(em, a, b, compute)
        return em.emit("Div", [a, b])
    q = em.emit("Div", [a, b])
    if rounding_mode == "floor":
        return em.emit("Floor", [q])
    return trunc(em, q, compute) if rounding_mode == "trunc" else q


def remainder(em: Emitter, a: str, b: str, *, compute: Any) -> str:
    """Python's modulo (the sign of the divisor)."""
    if not compute.is_floating_point:
        return em.emit("Mod", [a, b], fmod=0)
    return em.emit("Sub", [a, em.emit("Mul", [em.emit("Floor", [em.emit("Div", [a, b])]), b])])


def atan2(em: Emitter, y: str, x: str, *, compute: Any) -> str:
    k = lambda v: c(em, v, compute)
    base = em.emit("Atan", [em.emit("Div", [y, x])])
    y_neg = em.emit("Less", [y, k(0)])
    left = where(em, y_neg, em.emit("Sub", [base, k(math.pi)]), em.emit("Add", [base, k(math.pi)]))
    axis = where(em, em.emit("Greater", [y, k(0)]), k(math.pi / 2),
                 where(em, y_neg, k(-math.pi / 2), k(0)))
    return where(em, em.emit("Greater", [x, k(0)]), base,
                 where(em, em.emit("Less", [x, k(0)]), left, axis))


def negative(em: Emitter, y: str, compute: Any) -> str:
    """y < 0, -0.0 included (its reciprocal is -inf)."""
    zero = c(em, 0, compute)
    return em.emit("Or", [em.emit("Less", [y, zero]),
                          em.emit("Less", [em.emit("Div", [c(em, 1, compute), y]), zero])])


def clamp_like_logit(em: Emitter, x: str, lo: float, hi: float, compute: Any) -> str:
    """PyTorch's `x < lo ? lo : (x > hi ? hi : x)`, which differs from clamp when lo > hi."""
    k = lambda v: c(em, v, compute)
    inner = where(em, em.emit("Greater", [x, k(hi)]), k(hi), x)
    return where(em, em.emit("Less", [x, k(lo)]), k(lo), inner)


def clamp(em: Emitter, x: str, *, compute: Any, min: Any, max: Any) -> str:
    if min is not None:
        x = em.emit("Max", [x, c(em, min, compute)])
    if max is not None:
        x = em.emit("Min", [x, c(em, max, compute)])
    return x


def gelu(em: Emitter, x: str, *, compute: Any, approximate: str) -> str:
    k = lambda v: c(em, v, compute)
    if approximate == "tanh":
        inner = em.emit("Mul", [k(math.sqrt(2 / math.pi)), em.emit("Add", [x, em.emit(
            "Mul", [k(0.044715), em.emit("Mul", [x, em.emit("Mul", [x, x])])])])])
        t = em.emit("Tanh", [inner])
    else:
        t = em.emit("Erf", [em.emit("Mul", [x, k(1 / math.sqrt(2))])])
    return em.emit("Mul", [em.emit("Mul", [x, k(0.5)]), em.emit("Add", [t, k(1)])])


def softplus(em: Emitter, x: str, *, compute: Any, beta: float, threshold: float) -> str:
    bx = scaled(em, x, beta, compute)
    soft = em.emit("Softplus", [bx])
    soft = soft if beta == 1 else em.emit("Div", [soft, c(em, beta, compute)])
    return where(em, em.emit("Greater", [bx, c(em, threshold, compute)]), x, soft)


def rounding(onnx_op: str) -> Callable:
    """ceil, floor, round: integers are already whole."""
    def build(em: Emitter, x: str, *, compute: Any, **attrs: Any) -> str:
        if not compute.is_floating_point:
            return em.emit("Identity", [x])
        d = attrs.get("decimals", 0)
        if onnx_op == "Trunc":
            return trunc(em, x, compute)
        if d:
            return em.emit("Div", [em.emit(onnx_op, [scaled(em, x, 10.0 ** d, compute)]),
                                   c(em, 10.0 ** d, compute)])
        return em.emit(onnx_op, [x])
    return build


def minmax(onnx_op: str, bool_op: str, nan_loses: bool = False) -> Callable:
    """maximum / minimum (NaN wins), fmax / fmin (NaN loses); bools through Or / And."""
    def build(em: Emitter, a: str, b: str, *, compute: Any) -> str:
        if compute is bool_:
            return em.emit(bool_op, [a, b])
        m = em.emit(onnx_op, [a, b])
        if not nan_loses or not compute.is_floating_point:
            return m
        return where(em, em.emit("IsNaN", [a]), b, where(em, em.emit("IsNaN", [b]), a, m))
    return build


def is_special(onnx_op: str, **fixed: Any) -> Entry:
    """isnan / isinf ...: false for integers and bools, which have no such values."""
    def entry(em: Emitter, node: Node) -> list:
        x = node.inputs[0]
        name = em.get(x)
        if em.dtype(x).is_floating_point:
            return [em.emit(onnx_op, [name], **fixed)]
        return [em.emit("Not", [em.emit("Equal", [name, name])])]
    return entry


def isfinite(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    name = em.get(x)
    if not em.dtype(x).is_floating_point:
        return [em.emit("Equal", [name, name])]
    bad = em.emit("Or", [em.emit("IsNaN", [name]), em.emit("IsInf", [name])])
    return [em.emit("Not", [bad])]


def nan_to_num(em: Emitter, x: str, *, compute: Any, nan: Any, posinf: Any,
               neginf: Any) -> str:
    if not compute.is_floating_point:
        return x
    info = np.finfo(compute.np)
    big = lambda v, default: c(em, default if v is None else v, compute)
    x = where(em, em.emit("IsNaN", [x]), c(em, nan, compute), x)
    x = where(em, em.emit("IsInf", [x], detect_negative=0), big(posinf, info.max), x)
    return where(em, em.emit("IsInf", [x], detect_positive=0), big(neginf, info.min), x)


def logical(onnx_op: str, unary: bool = False) -> Entry:
    def entry(em: Emitter, node: Node) -> list:
        return [em.emit(onnx_op, [em.get(x, bool_) for x in node.inputs])]
    return entry


def bitwise(int_op: str, bool_op: str) -> Entry:
    def entry(em: Emitter, node: Node) -> list:
        result, compute = dtypes(node)
        op = bool_op if compute is bool_ else int_op
        return [finish(em, em.emit(op, operands(em, node)), compute, result)]
    return entry


def reshape_to(em: Emitter, x: str, shape: Sequence) -> str:
    """Reshape to an IR shape (ints and symbols, never -1); zeros are sizes (allowzero)."""
    return em.emit("Reshape", [x, em.shape(shape)], allowzero=1)


def slices(em: Emitter, x: str, specs: Sequence) -> str:
    """ONNX Slice from (axis, start, stop, step) tuples; None bounds as Python reads them."""
    if not specs:
        return x
    starts, ends, axes_, steps = [], [], [], []
    for axis, start, stop, step in specs:
        step = 1 if step is None else step
        lo, hi = (0, INT64_MAX) if step > 0 else (INT64_MAX, INT64_MIN)
        starts.append(lo if start is None else start)
        ends.append(hi if stop is None else stop)
        axes_.append(axis)
        steps.append(step)
    return em.emit("Slice", [x, em.shape(starts), em.shape(ends), em.ints(axes_),
                             em.ints(steps)])


def compare(onnx_op: str, negate: bool = False) -> Entry:
    """A comparison at the compute dtype; ONNX gives the bool result itself."""
    def entry(em: Emitter, node: Node) -> list:
        y = em.emit(onnx_op, operands(em, node))
        return [em.emit("Not", [y]) if negate else y]
    return entry


def select(em: Emitter, node: Node) -> list:
    """where(cond, a, b): the branches at the result dtype, the condition as bool."""
    cond, a, b = node.inputs
    d = out_type(node).dtype
    return [em.emit("Where", [em.get(cond, bool_), em.get(a, d), em.get(b, d)])]
