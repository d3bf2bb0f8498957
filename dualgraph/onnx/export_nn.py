"""Export entries for layers, reductions with indices, linear algebra and random draws (the table
in export_table.py names them)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ir import meta
from ..ir.graph import Node
from ..ir.types import int64
from .dtypes import TO_ONNX
from .emitter import Emitter
from .lowering import (axes, c, dtypes, finish, moments, operands, out_type, rank, reduce,
                       where)


def conv2d(em: Emitter, node: Node) -> list:
    x, w = operands(em, node)
    a = node.attrs
    pad = list(a["padding"])
    return [em.emit("Conv", [x, w], strides=list(a["stride"]), dilations=list(a["dilation"]),
                    pads=pad + pad, group=a["groups"])]


def max_pool2d(em: Emitter, node: Node) -> list:
    """MaxPool; its indices count over the whole (N, C, H, W) tensor, PyTorch's over each
    (H, W) plane: the remainder by H*W converts them."""
    x = node.inputs[0]
    a = node.attrs
    pad = list(a["padding"])
    if node.outputs[1] not in em.used:  # the indices are read by no one: MaxPool's Y alone
        y = em.emit("MaxPool", [em.get(x)], kernel_shape=list(a["kernel_size"]),
                    strides=list(a["stride"]), pads=pad + pad, dilations=list(a["dilation"]))
        return [y, ""]
    y, idx = em.emit("MaxPool", [em.get(x)], outputs=2, kernel_shape=list(a["kernel_size"]),
                     strides=list(a["stride"]), pads=pad + pad, dilations=list(a["dilation"]))
    h, w = x.type.shape[-2:]
    plane = em.scalar_size(meta.dim(h) * meta.dim(w) if isinstance(h, str) or isinstance(
        w, str) else h * w)
    return [y, em.emit("Mod", [idx, plane], fmod=0)]


def softmax(onnx_op: str):
    def entry(em: Emitter, node: Node) -> list:
        result, _ = dtypes(node)
        x = node.inputs[0]
        dim = node.attrs["dim"]
        axis = meta.normalize_dim(node.op.name, -1 if dim is None else dim, max(rank(x), 1))
        name = em.get(x, result)
        if rank(x) == 0:
            return [em.emit("Identity", [c(em, 0 if "Log" in onnx_op else 1, result)])]
        return [em.emit(onnx_op, [name], axis=axis)]
    return entry


def layer_norm(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    x = em.get(node.inputs[0], compute)
    mean = reduce(em, "ReduceMean", x, [-1], True)
    d = em.emit("Sub", [x, mean])
    var = reduce(em, "ReduceMean", em.emit("Mul", [d, d]), [-1], True)
    std = em.emit("Sqrt", [em.emit("Add", [var, c(em, node.attrs["eps"], compute)])])
    return [finish(em, em.emit("Div", [d, std]), compute, result)]


def rms_norm(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    x = em.get(node.inputs[0], compute)
    ms = reduce(em, "ReduceMean", em.emit("Mul", [x, x]), [-1], True)
    r = em.emit("Reciprocal", [em.emit("Sqrt", [em.emit("Add", [ms, c(em, node.attrs["eps"],
                                                                      compute)])])])
    return [finish(em, em.emit("Mul", [x, r]), compute, result)]


def addmm(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    bias, a, b = operands(em, node)
    alpha, beta = node.attrs["alpha"], node.attrs["beta"]
    if rank(node.inputs[1]) == 2 and rank(node.inputs[2]) == 2 and compute.is_floating_point:
        ins = [a, b] if beta == 0 else [a, b, bias]
        return [finish(em, em.emit("Gemm", ins, alpha=float(alpha), beta=float(beta)),
                       compute, result)]
    prod = em.emit("MatMul", [a, b])
    if alpha != 1:
        prod = em.emit("Mul", [prod, c(em, alpha, compute)])
    if beta != 0:
        bias = bias if beta == 1 else em.emit("Mul", [bias, c(em, beta, compute)])
        prod = em.emit("Add", [bias, prod])
    return [finish(em, prod, compute, result)]


def with_index(reduce_op: str, arg_op: str):
    """max / min over one dim: the values and the (first) index of each."""
    def entry(em: Emitter, node: Node) -> list:
        x = node.inputs[0]
        keep = int(node.attrs["keepdim"])
        if rank(x) == 0:
            return [em.emit("Identity", [em.get(x)]), em.const(np.asarray(0, np.int64))]
        dim = meta.normalize_dim(node.op.name, node.attrs["dim"], rank(x))
        vals = reduce(em, reduce_op, em.get(x), [dim], bool(keep))
        idx = em.emit(arg_op, [em.get(x)], axis=dim, keepdims=keep)
        return [vals, idx]
    return entry


def arg_reduce(onnx_op: str):
    def entry(em: Emitter, node: Node) -> list:
        x = node.inputs[0]
        name = em.get(x)
        dim = node.attrs["dim"]
        if dim is None or rank(x) == 0:
            flat = em.emit("Reshape", [name, em.ints([-1])])
            y = em.emit(onnx_op, [flat], axis=0, keepdims=0)
            if node.attrs["keepdim"] and rank(x):
                y = em.emit("Reshape", [y, em.ints([1] * rank(x))])
            return [y]
        dim = meta.normalize_dim(node.op.name, dim, rank(x))
        return [em.emit(onnx_op, [name], axis=dim, keepdims=int(node.attrs["keepdim"]))]
    return entry


def logical_reduce(all_: bool):
    def entry(em: Emitter, node: Node) -> list:
        x = node.inputs[0]
        from ..ir.types import bool_, int32
        flags = em.cast(em.cast(em.get(x), bool_), int32)
        dims = axes(node, node.attrs["dim"], rank(x))
        if rank(x) == 0:
            return [em.cast(flags, bool_)]
        if all_:  # all: no element is false (so an empty tensor is all true)
            flags = em.cast(em.emit("Not", [em.cast(flags, bool_)]), int32)
        n = reduce(em, "ReduceSum", flags, dims, node.attrs["keepdim"])
        hit = em.emit("Greater", [n, c(em, 0, int32)])
        return [em.cast(em.emit("Not", [hit]) if all_ else hit, out_type(node).dtype)]
    return entry


def var(em: Emitter, node: Node) -> list:
    v, _ = moments(em, node)
    return [em.emit("Sqrt", [v]) if node.op.name == "std" else v]


def var_mean(em: Emitter, node: Node) -> list:
    v, m = moments(em, node)
    return [em.emit("Sqrt", [v]) if node.op.name == "std_mean" else v, m]


def logsumexp(em: Emitter, node: Node) -> list:
    result, _ = dtypes(node)
    x = node.inputs[0]
    if rank(x) == 0:
        return [em.emit("Identity", [em.get(x, result)])]
    dims = axes(node, node.attrs["dim"], rank(x))
    xv = em.get(x, result)
    m = reduce(em, "ReduceMax", xv, dims, True)
    finite = where(em, em.emit("IsInf", [m]), c(em, 0, result), m)
    s = reduce(em, "ReduceSum", em.emit("Exp", [em.emit("Sub", [xv, finite])]), dims,
               node.attrs["keepdim"])
    shift = finite if node.attrs["keepdim"] else em.emit("Squeeze", [finite, em.ints(dims)])
    return [em.emit("Add", [em.emit("Log", [s]), shift])]


def cumsum(em: Emitter, node: Node) -> list:
    result, _ = dtypes(node)
    x = node.inputs[0]
    name = em.get(x, result)
    if rank(x) == 0:
        return [em.emit("Identity", [name])]
    dim = meta.normalize_dim("cumsum", node.attrs["dim"], rank(x))
    return [em.emit("CumSum", [name, em.const(np.asarray(dim, np.int64))],
                    reverse=int(node.attrs["reverse"]))]


def vector_norm(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    x = node.inputs[0]
    ord_ = node.attrs["ord"]
    keep = node.attrs["keepdim"]
    name = em.get(x, compute)
    dims = axes(node, node.attrs["dim"], rank(x))
    if rank(x) == 0:
        name, dims = em.emit("Unsqueeze", [name, em.ints([0])]), [0]
        keep = False
    a = em.emit("Abs", [name])
    if ord_ == 2:
        y = reduce(em, "ReduceL2", name, dims, keep)
    elif ord_ == 1:
        y = reduce(em, "ReduceL1", name, dims, keep)
    elif ord_ == math.inf:
        y = reduce(em, "ReduceMax", a, dims, keep)
    elif ord_ == -math.inf:
        y = reduce(em, "ReduceMin", a, dims, keep)
    elif ord_ == 0:
        nz = em.cast(em.emit("Not", [em.emit("Equal", [name, c(em, 0, compute)])]), compute)
        y = reduce(em, "ReduceSum", nz, dims, keep)
    else:
        p = c(em, ord_, compute)
        s = reduce(em, "ReduceSum", em.emit("Pow", [a, p]), dims, keep)
        y = em.emit("Pow", [s, c(em, 1.0 / ord_, compute)])
    return [finish(em, y, compute, result)]


def dist(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    a, b = operands(em, node)
    d = em.emit("Reshape", [em.emit("Abs", [em.emit("Sub", [a, b])]), em.ints([-1])])
    p = node.attrs["p"]
    if p == 2:
        y = reduce(em, "ReduceL2", d, [0], False)
    elif p == math.inf:
        y = reduce(em, "ReduceMax", d, [0], False)
    elif p == 1:
        y = reduce(em, "ReduceL1", d, [0], False)
    else:
        y = em.emit("Pow", [reduce(em, "ReduceSum", em.emit("Pow", [d, c(em, p, compute)]),
                                   [0], False), c(em, 1.0 / p, compute)])
    return [finish(em, y, compute, result)]


def mse_loss(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    a, b = operands(em, node)
    d = em.emit("Sub", [a, b])
    return _loss_reduction(em, node, em.emit("Mul", [d, d]), compute, result)


def _loss_reduction(em: Emitter, node: Node, loss: str, compute: Any, result: Any) -> list:
    """A loss's `reduction`: kept, or averaged / summed over every element."""
    mode = node.attrs["reduction"]
    if mode == "none":
        return [finish(em, loss, compute, result)]
    flat = em.emit("Reshape", [loss, em.ints([-1])])
    op = {"mean": "ReduceMean", "sum": "ReduceSum"}[mode]
    return [finish(em, reduce(em, op, flat, [0], False), compute, result)]


def bce_with_logits(em: Emitter, node: Node) -> list:
    """(1 - y) x - (1 + (p - 1) y) log_sigmoid(x), log_sigmoid as -Softplus(-x), times the
    weight; a weight left out (the number 1.0) multiplies nothing."""
    result, compute = dtypes(node)
    x, y, w, p = operands(em, node)
    given = [hasattr(v, "type") for v in node.inputs]
    one = c(em, 1, compute)
    log_sig = em.emit("Neg", [em.emit("Softplus", [em.emit("Neg", [x])])])
    if given[3]:
        scale = em.emit("Add", [em.emit("Mul", [em.emit("Sub", [p, one]), y]), one])
        log_sig = em.emit("Mul", [log_sig, scale])
    loss = em.emit("Sub", [em.emit("Mul", [em.emit("Sub", [one, y]), x]), log_sig])
    if given[2]:
        loss = em.emit("Mul", [loss, w])
    return _loss_reduction(em, node, loss, compute, result)


def nll_loss(em: Emitter, node: Node) -> list:
    """ONNX's NegativeLogLikelihoodLoss has PyTorch's semantics (class dim 1, `mean` over the
    weights of the counted targets, `ignore_index`); the target goes as int64."""
    result, compute = dtypes(node)
    x, target, weight = node.inputs
    inputs = [em.get(x, compute), em.get(target, int64), em.get(weight, compute)]
    out = em.emit("NegativeLogLikelihoodLoss", inputs, reduction=node.attrs["reduction"],
                  ignore_index=int(node.attrs["ignore_index"]))
    return [finish(em, out, compute, result)]


def embedding(em: Emitter, node: Node) -> list:
    """Gather of the weight's rows (padding_idx and scale_grad_by_freq only shape gradients)."""
    weight, indices = node.inputs
    return [em.emit("Gather", [em.get(weight), em.get(indices, int64)], axis=0)]


def einsum(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    eq = node.attrs["equation"].replace(" ", "")
    if "->" in eq:
        out = eq.split("->")[1].replace("...", "")
        if len(set(out)) != len(out):
            em.fail(f"einsum {eq!r} repeats an output letter (a diagonal embedding), which "
                    "ONNX's Einsum refuses")
    sizes: dict = {}
    for spec, x in zip(eq.split("->")[0].split(","), node.inputs):
        if "..." not in spec:
            for letter, size in zip(spec, x.type.shape):
                if sizes.setdefault(letter, size) != size:
                    em.fail(f"einsum {eq!r} broadcasts {letter!r} ({sizes[letter]} and {size}), "
                            "which ONNX's Einsum does not")
    return [finish(em, em.emit("Einsum", operands(em, node), equation=eq), compute, result)]


def vdot(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    a, b = operands(em, node)
    return [finish(em, reduce(em, "ReduceSum", em.emit("Mul", [a, b]), [0], False),
                   compute, result)]


def trace(em: Emitter, node: Node) -> list:
    result, _ = dtypes(node)
    x = em.get(node.inputs[0], result)
    return [reduce(em, "ReduceSum", em.emit("Mul", [x, em.emit("EyeLike", [x])]), [0, 1],
                   False)]


def trilu(upper: bool):
    def entry(em: Emitter, node: Node) -> list:
        k = em.const(np.asarray(node.attrs["diagonal"], np.int64))
        return [em.emit("Trilu", [em.get(node.inputs[0]), k], upper=int(upper))]
    return entry


# ------------------------------------------------------------------------------ random draws

def _no_generator(em: Emitter, node: Node) -> None:
    if node.attrs.get("generator") is not None:
        em.fail("a Generator cannot travel in an ONNX model (ONNX's random ops take a seed)")


def random_fresh(onnx_op: str):
    """rand / randn of a size: ONNX's RandomUniform / RandomNormal (Like, for symbolic sizes)."""
    def entry(em: Emitter, node: Node) -> list:
        _no_generator(em, node)
        t = out_type(node)
        if not t.dtype.is_floating_point:
            em.fail(f"{node.op.name} of dtype {t.dtype} has no ONNX random op")
        if all(isinstance(d, int) for d in t.shape):
            return [em.emit(onnx_op, [], shape=list(t.shape), dtype=TO_ONNX[t.dtype])]
        from .export_shapes import _filled
        like = _filled(em, em.shape(t.shape), 0, t.dtype)
        return [em.emit(onnx_op + "Like", [like], dtype=TO_ONNX[t.dtype])]
    return entry


def randint(em: Emitter, node: Node) -> list:
    _no_generator(em, node)
    t = out_type(node)
    lo, hi = node.attrs["low"], node.attrs["high"]
    from ..ir.types import float64
    u = em.emit("RandomUniform", [], shape=list(t.shape), low=float(lo), high=float(hi),
                dtype=TO_ONNX[float64])
    # the draw is < high; flooring keeps it in [low, high - 1]
    return [em.cast(em.emit("Min", [em.emit("Floor", [u]), c(em, hi - 1, float64)]), t.dtype)]


def uniform(em: Emitter, node: Node) -> list:
    _no_generator(em, node)
    t = out_type(node)
    return [em.emit("RandomUniformLike", [em.get(node.inputs[0])], dtype=TO_ONNX[t.dtype],
                    low=float(node.attrs["low"]), high=float(node.attrs["high"]))]


def normal(em: Emitter, node: Node) -> list:
    _no_generator(em, node)
    result, _ = dtypes(node)
    x, mean, std = node.inputs
    like = em.emit("Expand", [em.get(x, result), em.shape(out_type(node).shape)])
    z = em.emit("RandomNormalLike", [like], dtype=TO_ONNX[result])
    return [em.emit("Add", [em.emit("Mul", [z, em.get(std, result)]), em.get(mean, result)])]


def bernoulli(em: Emitter, node: Node) -> list:
    _no_generator(em, node)
    t = out_type(node)
    x, p = node.inputs
    pd = em.dtype(p) if not isinstance(p, (int, float)) else t.dtype
    if not pd.is_floating_point:
        from ..ir.types import float32
        pd = float32
    probs = em.emit("Expand", [em.get(p, pd), em.shape(t.shape)])
    return [em.emit("Bernoulli", [probs], dtype=TO_ONNX[t.dtype])]


def exponential(em: Emitter, node: Node) -> list:
    _no_generator(em, node)
    t = out_type(node)
    u = em.emit("RandomUniformLike", [em.get(node.inputs[0])], dtype=TO_ONNX[t.dtype])
    one = c(em, 1, t.dtype)
    e = em.emit("Neg", [em.emit("Log", [em.emit("Sub", [one, u])])])
    return [em.emit("Div", [e, c(em, node.attrs["lambd"], t.dtype)])]


def multinomial(em: Emitter, node: Node) -> list:
    _no_generator(em, node)
    if not node.attrs["replacement"] and node.attrs["num_samples"] > 1:
        em.fail("draws without replacement have no ONNX op (Multinomial draws with it)")
    x = node.inputs[0]
    logp = em.emit("Log", [em.get(x)])
    if rank(x) == 1:
        logp = em.emit("Unsqueeze", [logp, em.ints([0])])
    y = em.emit("Multinomial", [logp], sample_size=node.attrs["num_samples"],
                dtype=TO_ONNX[int64])
    if rank(x) == 1:
        y = em.emit("Squeeze", [y, em.ints([0])])
    return [y]


# -------------------------------------------------------------------- sorting and selection

def _topk(em: Emitter, x, dim: int, k: Any, largest: bool) -> list:
    """ONNX TopK (ties: the lower index first, which is a stable sort's order)."""
    kk = em.ints([k]) if not isinstance(k, str) else em.size(k)
    return em.emit("TopK", [em.get(x), kk], outputs=2, axis=dim, largest=int(largest),
                   sorted=1)


def sort(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    if rank(x) == 0:
        return [em.emit("Identity", [em.get(x)]), em.const(np.asarray(0, np.int64))]
    dim = meta.normalize_dim("sort", node.attrs["dim"], rank(x))
    return list(_topk(em, x, dim, x.type.shape[dim], node.attrs["descending"]))


def topk(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    if rank(x) == 0:
        return [em.emit("Identity", [em.get(x)]), em.const(np.asarray(0, np.int64))]
    a = node.attrs
    dim = meta.normalize_dim("topk", a["dim"], rank(x))
    return list(_topk(em, x, dim, a["k"], a["largest"]))


def _kth(em: Emitter, x, dim: int, k: Any, keep: bool) -> list:
    """The k-th smallest along `dim` (k an int or a size) and its index."""
    vals, idx = _topk(em, x, dim, k, False)
    last = lambda t: em.emit("Slice", [t, em.ints([-1]), em.ints([1 << 62]), em.ints([dim])])
    vals, idx = last(vals), last(idx)
    if not keep:
        vals, idx = (em.emit("Squeeze", [t, em.ints([dim])]) for t in (vals, idx))
    return [vals, idx]


def kthvalue(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    if rank(x) == 0:
        return [em.emit("Identity", [em.get(x)]), em.const(np.asarray(0, np.int64))]
    dim = meta.normalize_dim("kthvalue", node.attrs["dim"], rank(x))
    return _kth(em, x, dim, node.attrs["k"], node.attrs["keepdim"])


def _lower_middle(size: Any) -> Any:
    """k of the lower median of `size` elements, (size - 1) // 2 + 1; None for a symbol."""
    return None if isinstance(size, str) else (size - 1) // 2 + 1


def median(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    if rank(x) == 0:
        return [em.emit("Identity", [em.get(x)]), em.const(np.asarray(0, np.int64))]
    dim = meta.normalize_dim("median", node.attrs["dim"], rank(x))
    k = _lower_middle(x.type.shape[dim])
    if k is None:
        em.fail("median over a symbolic size is not exported")
    return _kth(em, x, dim, k, node.attrs["keepdim"])


def median_all(em: Emitter, node: Node) -> list:
    x = node.inputs[0]
    n = meta.numel(x.type.shape)
    if isinstance(n, str):
        em.fail("median over a symbolic size is not exported")
    if n == 0:
        em.fail("the median of no elements")
    flat = em.emit("Reshape", [em.get(x), em.ints([-1])])
    from ..ir.graph import Value
    from ..ir.types import TensorType
    holder = Value(TensorType(x.type.dtype, (n,)), "flat")
    em.names[holder] = flat
    return [_kth(em, holder, 0, (n - 1) // 2 + 1, False)[0]]


def cross(em: Emitter, node: Node) -> list:
    result, compute = dtypes(node)
    a, b = operands(em, node)
    n = len(out_type(node).shape)
    dim = meta.normalize_dim("linalg_cross", node.attrs["dim"], n)
    # broadcast both to the output first, then pick components 0, 1, 2 along dim
    shape = em.shape(out_type(node).shape)
    a, b = (em.emit("Expand", [t, shape]) for t in (a, b))
    pick = lambda t, i: em.emit("Gather", [t, em.const(np.asarray([i], np.int64))], axis=dim)
    a0, a1, a2 = (pick(a, i) for i in range(3))
    b0, b1, b2 = (pick(b, i) for i in range(3))
    term = lambda p, q, r, s: em.emit("Sub", [em.emit("Mul", [p, q]), em.emit("Mul", [r, s])])
    out = em.emit("Concat", [term(a1, b2, a2, b1), term(a2, b0, a0, b2), term(a0, b1, a1, b0)],
                  axis=dim)
    return [finish(em, out, compute, result)]
