"""THE import table: ONNX op type -> entry(builder) -> the IR values of the node's outputs, each
built from registry ops only (so an imported model differentiates). Attributes are read with
their ONNX defaults in the entry; an attribute value an entry cannot honour is refused by name.
docs/ONNX.md lists these ops (generated from this table)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ir import meta
from . import import_control as ctl
from . import import_nn as nn
from . import import_resize as rs
from . import import_rnn as rnn
from . import import_shapes as sh
from .dtypes import from_onnx
from .import_builder import Builder


def _rank(v: Any) -> int:
    return len(v.type.shape)


def un(op: str, **attrs: Any):
    return lambda b: [b.emit(op, [b.value(0)], **attrs)]


def bin_(op: str):
    return lambda b: [b.emit(op, [b.value(0), b.value(1)])]


def variadic(op: str):
    def entry(b: Builder) -> list:
        vals = b.values()
        out = vals[0]
        for v in vals[1:]:
            out = b.emit(op, [out, v])
        return [out if len(vals) > 1 else b.emit("clone", [out])]
    return entry


def mean_(b: Builder) -> list:
    out = variadic("add")(b)[0]
    return [b.emit("div", [out, float(len(b.values()))])]


def _axes(b: Builder, v: Any, attr_or_input: int = 1) -> Any:
    """Reduction axes: an input from opset 18 (13 for ReduceSum), an attribute before."""
    axes = b.attr("axes")
    if axes is None and b.has(attr_or_input):
        axes = b.static_ints(attr_or_input, "axes")
    if axes is None or len(axes) == 0:
        return None
    return tuple(meta.normalize_dim("reduce", int(a), max(_rank(v), 1)) for a in axes)


def reduce_(op: str, pre: str | None = None, post: str | None = None, **fixed: Any):
    def entry(b: Builder) -> list:
        x = b.value(0)
        dims = _axes(b, x)
        keep = bool(b.attr("keepdims", 1))
        if dims is None and b.attr("noop_with_empty_axes", 0):
            return [b.emit("clone", [x])]
        if pre == "square":
            x = b.emit("mul", [x, x])
        if _rank(x) == 0:
            y = b.emit("clone", [x])
        elif op == "prod":
            y = x
            for d in sorted(dims or range(_rank(x)), reverse=True):
                y = b.emit("prod", [y], dim=d, keepdim=keep)
        else:
            dim: Any = dims if dims is not None else (() if op in ("amax", "amin") else None)
            over = dims or tuple(range(_rank(x)))
            if op in ("amax", "amin") and any(x.type.shape[d] == 0 for d in over):
                return [_empty_extreme(b, x, over, keep, op == "amax")]
            y = b.emit(op, [x], dim=dim, keepdim=keep, **fixed)
        if post == "log":
            y = b.emit("log", [y])
        return [y]
    return entry


def _empty_extreme(b: Builder, x: Any, dims: tuple, keep: bool, is_max: bool) -> Any:
    """ONNX's max (min) over nothing: the dtype's lowest (highest) value, of the reduced shape."""
    d = x.type.dtype
    if d.is_floating_point:
        fill = -math.inf if is_max else math.inf
    elif d.name == "bool":
        fill = not is_max
    else:
        info = np.iinfo(d.np)
        fill = int(info.min if is_max else info.max)
    shape = tuple(1 if i in dims else s for i, s in enumerate(x.type.shape) if keep or
                  i not in dims)
    return b.emit("full", [], size=shape, fill_value=fill, dtype=d)


def cast(b: Builder) -> list:
    d = from_onnx(b.attr("to"), b.where)
    return [b.emit("to_dtype", [b.value(0)], dtype=d)]


def cast_like(b: Builder) -> list:
    return [b.emit("to_dtype", [b.value(0)], dtype=b.value(1).type.dtype)]


def gemm(b: Builder) -> list:
    a, w = b.value(0), b.value(1)
    if b.attr("transA", 0):
        a = b.emit("transpose", [a], dim0=0, dim1=1)
    if b.attr("transB", 0):
        w = b.emit("transpose", [w], dim0=0, dim1=1)
    alpha, beta = b.attr("alpha", 1.0), b.attr("beta", 1.0)
    if b.has(2):
        return [b.emit("addmm", [b.value(2), a, w], alpha=alpha, beta=beta)]
    y = b.emit("matmul", [a, w])
    return [y if alpha == 1 else b.emit("mul", [y, alpha])]


def _pads(b: Builder, x: Any, kernel: list, strides: list, dilations: list) -> list:
    auto = b.attr("auto_pad", "NOTSET")
    n = len(kernel)
    if auto in ("NOTSET", "VALID"):
        pads = list(b.attr("pads", [0] * 2 * n)) if auto == "NOTSET" else [0] * 2 * n
    else:
        pads = []
        for i in range(n):
            size = x.type.shape[2 + i]
            if isinstance(size, str):
                b.fail("auto_pad SAME over a symbolic size", unsupported=True)
            out = -(-size // strides[i])
            total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads.append((lo, total - lo))
        pads = [p[0] for p in pads] + [p[1] for p in pads]
    if pads[:n] != pads[n:]:
        b.fail(f"pads {pads} are not symmetric (dualgraph pads both sides alike)",
               unsupported=True)
    return pads[:n]


def conv(b: Builder) -> list:
    x, w = b.value(0), b.value(1)
    n = _rank(x) - 2
    if n not in (1, 2):
        b.fail(f"Conv over {n} spatial dims (1 and 2 are mapped)", unsupported=True)
    kernel = list(w.type.shape[2:])
    strides = list(b.attr("strides", [1] * n))
    dilations = list(b.attr("dilations", [1] * n))
    pads = _pads(b, x, kernel, strides, dilations)
    if n == 1:
        x = b.emit("unsqueeze", [x], dim=2)
        w = b.emit("unsqueeze", [w], dim=2)
        strides, dilations, pads = [1] + strides, [1] + dilations, [0] + pads
    y = b.emit("conv2d", [x, w], stride=tuple(strides), padding=tuple(pads),
               dilation=tuple(dilations), groups=b.attr("group", 1))
    if n == 1:
        y = b.emit("squeeze", [y], dim=2)
    if b.has(2):
        y = b.emit("add", [y, b.emit("view", [b.value(2)], shape=(-1,) + (1,) * n)])
    return [y]


def global_pool(op: str):
    def entry(b: Builder) -> list:
        x = b.value(0)
        return [b.emit(op, [x], dim=tuple(range(2, _rank(x))), keepdim=True)]
    return entry


def batch_norm(b: Builder) -> list:
    x, scale, bias, mean, var = (b.value(i) for i in range(5))
    shape = (-1,) + (1,) * (_rank(x) - 2)
    v = lambda t: b.emit("view", [t], shape=shape)
    training = bool(b.attr("training_mode", 0))
    if training:  # the batch's statistics normalize; the running ones move towards them
        dims = (0,) + tuple(range(2, _rank(x)))
        momentum = b.attr("momentum", 0.9)
        cur_mean = b.emit("mean", [x], dim=dims)
        cur_var = b.emit("var", [x], dim=dims, correction=0)
        blend = lambda old, new: b.emit("add", [b.emit("mul", [old, momentum]),
                                                b.emit("mul", [new, 1.0 - momentum])])
        running = [blend(mean, cur_mean), blend(var, cur_var)]
        mean, var = cur_mean, cur_var
    inv = b.emit("rsqrt", [b.emit("add", [v(var), b.attr("epsilon", 1e-5)])])
    y = b.emit("mul", [b.emit("sub", [x, v(mean)]), b.emit("mul", [inv, v(scale)])])
    y = b.emit("add", [y, v(bias)])
    return [y] + running if training else [y]


def layer_norm(b: Builder) -> list:
    x = b.value(0)
    axis = meta.normalize_dim("LayerNormalization", b.attr("axis", -1), _rank(x))
    shape = x.type.shape
    flat = x if axis == _rank(x) - 1 else b.emit(
        "reshape", [x], shape=tuple(shape[:axis]) + (meta.numel(shape[axis:]),))
    y = b.emit("layer_norm", [flat], eps=b.attr("epsilon", 1e-5))
    if flat is not x:
        y = b.emit("reshape", [y], shape=tuple(shape))
    y = b.emit("mul", [y, b.value(1)])
    y = b.emit("add", [y, b.value(2)]) if b.has(2) else y
    if not any(b.onnx_node.output[1:]):
        return [y]
    dims = tuple(range(axis, _rank(x)))  # Mean and InvStdDev: kept dims, biased variance
    mean = b.emit("mean", [x], dim=dims, keepdim=True)
    var = b.emit("var", [x], dim=dims, correction=0, keepdim=True)
    return [y, mean, b.emit("rsqrt", [b.emit("add", [var, b.attr("epsilon", 1e-5)])])]


def softmax(op: str):
    def entry(b: Builder) -> list:
        if b.opset < 13:
            b.fail(f"{b.onnx_node.op_type} before opset 13 (it flattened the input)",
                   unsupported=True)
        return [b.emit(op, [b.value(0)], dim=b.attr("axis", -1))]
    return entry


def clip(b: Builder) -> list:
    x = b.value(0)
    lo, hi = b.attr("min"), b.attr("max")
    out = x
    for i, bound, op in ((1, lo, "clamp_min"), (2, hi, "clamp_max")):
        if b.has(i):
            known = b.static_array(b.onnx_node.input[i])
            bound = b.value(i) if not isinstance(known, np.ndarray) else known.item()
        if bound is None:
            continue
        out = b.emit(op, [out, bound])
    return [out if out is not x else b.emit("clone", [x])]


def identity(b: Builder) -> list:
    return [b.emit("clone", [b.value(0)])]


def dropout(b: Builder) -> list:
    if b.has(2):
        mode = b.static(2, "training_mode")
        if isinstance(mode, np.ndarray) and bool(mode):
            b.fail("Dropout with training_mode=True", unsupported=True)
    x = b.value(0)
    if len(b.onnx_node.output) > 1 and b.onnx_node.output[1]:  # inference keeps everything
        from ..ir.types import bool_
        return [b.emit("clone", [x]), b.emit("full", [], size=x.type.shape, fill_value=True,
                                             dtype=bool_)]
    return [b.emit("clone", [x])]


def cumsum(b: Builder) -> list:
    x = b.value(0)
    axis = int(b.static_ints(1, "axis")[0])
    y = b.emit("cumsum", [x], dim=axis, reverse=bool(b.attr("reverse", 0)))
    return [b.emit("sub", [y, x]) if b.attr("exclusive", 0) else y]


def trilu(b: Builder) -> list:
    k = int(b.static_ints(1, "k")[0]) if b.has(1) else 0
    return [b.emit("triu" if b.attr("upper", 1) else "tril", [b.value(0)], diagonal=k)]


def arg(op: str):
    def entry(b: Builder) -> list:
        x = b.value(0)
        axis = meta.normalize_dim(b.onnx_node.op_type, b.attr("axis", 0), max(_rank(x), 1))
        keep = bool(b.attr("keepdims", 1))
        if not b.attr("select_last_index", 0):
            return [b.emit(op, [x], dim=axis, keepdim=keep)]
        # the last of equal values: the first in the flipped tensor, counted from the end
        size = x.type.shape[axis]
        last = b.size_value(size) if isinstance(size, str) else size
        r = b.emit(op, [b.emit("flip", [x], dims=(axis,))], dim=axis, keepdim=keep)
        return [b.emit("sub", [b.emit("sub", [last, r]), 1])]
    return entry


def topk(b: Builder) -> list:
    k = int(b.static_ints(1, "K")[0])
    vals, idx = b.emit("topk", [b.value(0)], k=k, dim=b.attr("axis", -1),
                       largest=bool(b.attr("largest", 1)), sorted=bool(b.attr("sorted", 1)))
    return [vals, idx]


def nonzero(b: Builder) -> list:
    return [b.emit("transpose", [b.emit("nonzero", [b.value(0)])], dim0=0, dim1=1)]


def mod(b: Builder) -> list:
    return [b.emit("fmod" if b.attr("fmod", 0) else "remainder", [b.value(0), b.value(1)])]


def is_inf(b: Builder) -> list:
    x = b.value(0)
    pos, neg = b.attr("detect_positive", 1), b.attr("detect_negative", 1)
    op = "isinf" if pos and neg else "isposinf" if pos else "isneginf" if neg else None
    if op is None:  # detects neither: all false
        return [b.emit("logical_and", [b.emit("isinf", [x]), b.emit("isnan", [x])])]
    return [b.emit(op, [x])]


def prelu(b: Builder) -> list:
    x, slope = b.value(0), b.value(1)
    return [b.emit("where", [b.emit("lt", [x, 0]), b.emit("mul", [x, slope]), x])]


def hard_sigmoid(b: Builder, alpha: float | None = None, beta: float | None = None) -> Any:
    x = b.value(0)
    alpha = b.attr("alpha", 0.2) if alpha is None else alpha
    beta = b.attr("beta", 0.5) if beta is None else beta
    y = b.emit("add", [b.emit("mul", [x, alpha]), beta])
    return b.emit("clamp", [y], min=0.0, max=1.0)


def gelu(b: Builder) -> list:
    return [b.emit("gelu", [b.value(0)], approximate=b.attr("approximate", "none"))]


def selu(b: Builder) -> list:
    alpha = b.attr("alpha", 1.67326319217681884765625)
    gamma = b.attr("gamma", 1.05070102214813232421875)
    return [b.emit("mul", [b.emit("elu", [b.value(0)], alpha=alpha), gamma])]


def celu(b: Builder) -> list:
    alpha = b.attr("alpha", 1.0)
    x = b.emit("div", [b.value(0), alpha])
    return [b.emit("mul", [b.emit("elu", [x], alpha=1.0), alpha])]


def softsign(b: Builder) -> list:
    x = b.value(0)
    return [b.emit("div", [x, b.emit("add", [b.emit("abs", [x]), 1.0])])]


def thresholded_relu(b: Builder) -> list:
    x = b.value(0)
    return [b.emit("where", [b.emit("gt", [x, b.attr("alpha", 1.0)]), x, 0.0])]


def mish(b: Builder) -> list:
    x = b.value(0)
    return [b.emit("mul", [x, b.emit("tanh", [b.emit("softplus", [x], beta=1.0,
                                                                 threshold=math.inf)])])]


IMPORT = {
    # ------------------------------------------------------------- elementwise math
    "Add": bin_("add"), "Sub": bin_("sub"), "Mul": bin_("mul"), "Div": bin_("div"),
    "Pow": bin_("pow"), "Mod": mod,
    "Max": variadic("maximum"), "Min": variadic("minimum"), "Sum": variadic("add"),
    "Mean": mean_,
    "Neg": un("neg"), "Abs": un("abs"), "Reciprocal": un("reciprocal"), "Sign": un("sign"),
    "Exp": un("exp"), "Log": un("log"), "Sqrt": un("sqrt"), "Erf": un("erf"),
    "Sin": un("sin"), "Cos": un("cos"), "Tan": un("tan"), "Asin": un("asin"),
    "Acos": un("acos"), "Atan": un("atan"), "Sinh": un("sinh"), "Cosh": un("cosh"),
    "Tanh": un("tanh"), "Asinh": un("asinh"), "Acosh": un("acosh"), "Atanh": un("atanh"),
    "Ceil": un("ceil"), "Floor": un("floor"), "Round": un("round"),
    "Clip": clip,
    # ------------------------------------------------------------------ activations
    "Relu": un("relu"), "Sigmoid": un("sigmoid"),
    "LeakyRelu": lambda b: [b.emit("leaky_relu", [b.value(0)],
                                   negative_slope=b.attr("alpha", 0.01))],
    "Elu": lambda b: [b.emit("elu", [b.value(0)], alpha=b.attr("alpha", 1.0))],
    "Selu": selu, "Celu": celu, "PRelu": prelu,
    "Softplus": lambda b: [b.emit("softplus", [b.value(0)], beta=1.0, threshold=math.inf)],
    "Softsign": softsign, "ThresholdedRelu": thresholded_relu, "Mish": mish,
    "HardSigmoid": lambda b: [hard_sigmoid(b)],
    "HardSwish": lambda b: [b.emit("mul", [b.value(0), hard_sigmoid(b, 1 / 6, 0.5)])],
    "Gelu": gelu,
    "Softmax": softmax("softmax"), "LogSoftmax": softmax("log_softmax"),
    # -------------------------------------------------------------- comparison, logic
    "Equal": bin_("eq"), "Less": bin_("lt"), "LessOrEqual": bin_("le"),
    "Greater": bin_("gt"), "GreaterOrEqual": bin_("ge"),
    "And": bin_("logical_and"), "Or": bin_("logical_or"), "Xor": bin_("logical_xor"),
    "Not": un("logical_not"),
    "BitwiseAnd": bin_("bitwise_and"), "BitwiseOr": bin_("bitwise_or"),
    "BitwiseXor": bin_("bitwise_xor"), "BitwiseNot": un("bitwise_not"),
    "IsNaN": un("isnan"), "IsInf": is_inf,
    "Where": lambda b: [b.emit("where", [b.value(0), b.value(1), b.value(2)])],
    # ------------------------------------------------------------------- reductions
    "ReduceSum": reduce_("sum"), "ReduceMean": reduce_("mean"), "ReduceProd": reduce_("prod"),
    "ReduceMax": reduce_("amax"), "ReduceMin": reduce_("amin"),
    "ReduceL1": reduce_("linalg_vector_norm", ord=1),
    "ReduceL2": reduce_("linalg_vector_norm", ord=2),
    "ReduceLogSumExp": reduce_("logsumexp"),
    "ReduceSumSquare": reduce_("sum", pre="square"),
    "ReduceLogSum": reduce_("sum", post="log"),
    "ArgMax": arg("argmax"), "ArgMin": arg("argmin"),
    "CumSum": cumsum, "TopK": topk,
    # ------------------------------------------------------------ linear algebra, layers
    "MatMul": bin_("matmul"), "Gemm": gemm, "Det": un("linalg_det"),
    "Einsum": lambda b: [b.emit("einsum", b.values(),
                                equation=b.attr("equation").replace(" ", ""))],
    "Trilu": trilu,
    "Conv": conv, "MaxPool": nn.max_pool,
    "GlobalAveragePool": global_pool("mean"), "GlobalMaxPool": global_pool("amax"),
    "BatchNormalization": batch_norm, "LayerNormalization": layer_norm,
    "Dropout": dropout,
    # ---------------------------------------------------------------- shapes, indexing
    "Reshape": sh.reshape, "Flatten": sh.flatten, "Transpose": sh.transpose,
    "Squeeze": sh.squeeze, "Unsqueeze": sh.unsqueeze, "Concat": sh.concat, "Split": sh.split,
    "Slice": sh.slice_, "Expand": sh.expand, "Tile": sh.tile,
    "Gather": sh.gather, "GatherElements": sh.gather_elements,
    "ScatterElements": sh.scatter_elements,
    "NonZero": nonzero,
    "Identity": identity, "Cast": cast, "CastLike": cast_like,
    "Shape": sh.shape, "Size": sh.size,
    "Constant": sh.constant, "ConstantOfShape": sh.constant_of_shape, "Range": sh.range_,
    # --------------------------------------------------------- compositions (import_nn.py)
    "Pad": nn.pad, "AveragePool": nn.average_pool, "ConvTranspose": nn.conv_transpose,
    "NegativeLogLikelihoodLoss": nn.nll_loss,
    "SoftmaxCrossEntropyLoss": nn.softmax_cross_entropy,
    "GroupNormalization": nn.group_norm, "InstanceNormalization": nn.instance_norm,
    "LpNormalization": nn.lp_norm, "RMSNormalization": nn.rms_norm,
    "Hardmax": nn.hardmax, "OneHot": nn.one_hot, "CumProd": nn.cumprod, "Swish": nn.swish,
    "Shrink": nn.shrink, "EyeLike": nn.eye_like, "DepthToSpace": nn.depth_to_space,
    "SpaceToDepth": nn.space_to_depth, "Compress": nn.compress,
    "RNN": rnn.recurrent, "GRU": rnn.recurrent, "LSTM": rnn.recurrent,
    "Resize": rs.resize,
    # -------------------------------------------------------------------- control flow
    "If": ctl.if_, "Loop": ctl.loop,
}
