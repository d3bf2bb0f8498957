"""Import entries for ONNX ops that dualgraph has as compositions of registry ops — padding,
pooling, transposed convolution, losses, normalizations, one-hot forms — recorded by running
dualgraph's own functional code on the IR values (`Builder.call`), so they mean exactly what
`F.pad`, `F.nll_loss` ... mean in dualgraph. The table in import_table.py names them."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import meta
from .import_builder import Builder


def _rank(v: Any) -> int:
    return len(v.type.shape)


def _F() -> Any:
    import dualgraph.nn.functional as F
    return F


def _scalar_input(b: Builder, i: int, what: str, default: Any) -> Any:
    if not b.has(i):
        return default
    known = b.static_array(b.onnx_node.input[i])
    if not isinstance(known, np.ndarray):
        b.fail(f"input {i} ({what}) must be a constant", unsupported=True)
    return known.reshape(-1)[0].item() if known.size else default


def pad(b: Builder) -> list:
    x = b.value(0)
    n = _rank(x)
    pads = [int(p) for p in b.static_ints(1, "pads")]
    axes = b.static_ints(3, "axes") if b.has(3) else list(range(n))
    axes = [meta.normalize_dim("Pad", int(a), n) for a in axes]
    begin, end = dict(zip(axes, pads[:len(axes)])), dict(zip(axes, pads[len(axes):]))
    first = min((a for a in axes if begin[a] or end[a]), default=n)
    torch_pads: list = []
    for d in range(n - 1, first - 1, -1):  # PyTorch's order: the last dim first
        torch_pads += [begin.get(d, 0), end.get(d, 0)]
    mode = b.attr("mode", "constant")
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
             "wrap": "circular"}
    if mode not in modes:
        b.fail(f"Pad mode {mode!r}", unsupported=True)
    if not torch_pads:
        return [b.emit("clone", [x])]
    value = _scalar_input(b, 2, "constant_value", 0) if mode == "constant" else None
    return [b.call(_F().pad, x, tuple(torch_pads), modes[mode], value)]


def _spatial(b: Builder, x: Any, op: str) -> int:
    n = _rank(x) - 2
    if n not in (1, 2):
        b.fail(f"{op} over {n} spatial dims (1 and 2 are mapped)", unsupported=True)
    return n


def _two_d(b: Builder, x: Any, n: int, run: Any) -> Any:
    """Run a 2-D layer on a 1-D input by adding a unit height."""
    if n == 2:
        return run(x)
    return b.emit("squeeze", [run(b.emit("unsqueeze", [x], dim=2))], dim=2)


def _geometry(b: Builder, x: Any, n: int, kernel: list, strides: list, dil: list) -> tuple:
    """(pads before, pads after, of which ceil_mode's extra) of each spatial dim."""
    auto = b.attr("auto_pad", "NOTSET")
    sizes = x.type.shape[2:]
    if any(isinstance(d, str) for d in sizes):
        b.fail(f"{b.onnx_node.op_type} over symbolic spatial sizes", unsupported=True)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        lo, hi = [], []
        for size, e, s in zip(sizes, eff, strides):
            total = max((-(-size // s) - 1) * s + e - size, 0)
            small = total // 2
            lo.append(small if auto == "SAME_UPPER" else total - small)
            hi.append(total - lo[-1])
    else:
        pads = list(b.attr("pads", [0] * 2 * n)) if auto == "NOTSET" else [0] * 2 * n
        lo, hi = pads[:n], pads[n:]
    extra = [0] * n
    if b.attr("ceil_mode", 0):
        for i, (size, e, s) in enumerate(zip(sizes, eff, strides)):
            span = size + lo[i] + hi[i] - e
            out = -(-span // s) + 1
            if (out - 1) * s >= size + lo[i]:  # the last window must start inside
                out -= 1
            extra[i] = max((out - 1) * s + e - (size + lo[i] + hi[i]), 0)
    return lo, [h + x_ for h, x_ in zip(hi, extra)], extra


def _torch_pads(lo: list, hi: list) -> tuple:
    out: list = []
    for a, z in zip(reversed(lo), reversed(hi)):
        out += [a, z]
    return tuple(out)


def max_pool(b: Builder) -> list:
    x = b.value(0)
    n = _spatial(b, x, "MaxPool")
    if b.attr("storage_order", 0):
        b.fail("MaxPool with storage_order=1", unsupported=True)
    kernel = list(b.attr("kernel_shape"))
    strides = list(b.attr("strides", [1] * n))
    dil = list(b.attr("dilations", [1] * n))
    lo, hi, _ = _geometry(b, x, n, kernel, strides, dil)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    native = lo == hi and all(p <= e // 2 for p, e in zip(lo, eff))
    want_indices = len(b.onnx_node.output) > 1 and bool(b.onnx_node.output[1])
    if not native:
        if want_indices:
            b.fail("MaxPool's Indices with padding beyond what max_pool2d pads",
                   unsupported=True)
        d = x.type.dtype
        low = -np.inf if d.is_floating_point else np.iinfo(d.np).min
        x = b.call(_F().pad, x, _torch_pads(lo, hi), "constant", float(low))
        lo = [0] * n
    if n == 1:
        kernel, strides, dil, lo = [1] + kernel, [1] + strides, [1] + dil, [0] + lo
    pooled: list = []

    def run(v: Any) -> Any:
        y, idx = b.emit("max_pool2d_with_indices", [v], kernel_size=tuple(kernel),
                        stride=tuple(strides), padding=tuple(lo), dilation=tuple(dil))
        pooled.append(idx)
        return y
    y = _two_d(b, x, n, run)
    if not want_indices:
        return [y]
    if n != 2 or any(isinstance(d, str) for d in x.type.shape):
        b.fail("MaxPool's Indices of a 1-D or symbolic-size input", unsupported=True)
    # max_pool2d counts within each (H, W) plane; ONNX over the whole (N, C, H, W) tensor
    nb, c, h, w = x.type.shape
    offset = b.constant((np.arange(nb * c, dtype=np.int64) * h * w).reshape(nb, c, 1, 1))
    return [y, b.emit("add", [pooled[0], offset])]


def average_pool(b: Builder) -> list:
    x = b.value(0)
    n = _spatial(b, x, "AveragePool")
    kernel = list(b.attr("kernel_shape"))
    strides = list(b.attr("strides", [1] * n))
    dil = list(b.attr("dilations", [1] * n))
    if any(d != 1 for d in dil):
        b.fail("AveragePool with dilations", unsupported=True)
    lo, hi, extra = _geometry(b, x, n, kernel, strides, dil)
    include = bool(b.attr("count_include_pad", 0))
    k2, s2 = ([1] + kernel, [1] + strides) if n == 1 else (kernel, strides)
    pool = lambda v: _two_d(b, v, n, lambda u: b.call(_F().avg_pool2d, u, tuple(k2),
                                                      tuple(s2), 0, False, True))
    if lo == hi and not any(extra) and all(p <= k // 2 for p, k in zip(lo, kernel)):
        p2 = ([0] + lo) if n == 1 else lo
        return [_two_d(b, x, n, lambda u: b.call(_F().avg_pool2d, u, tuple(k2), tuple(s2),
                                                 tuple(p2), False, include))]
    # explicit padding: the mean of the window's counted elements, by a pooled mask of them
    xp = b.call(_F().pad, x, _torch_pads(lo, hi), "constant", 0.0)
    ones = b.emit("full", [], size=(1, 1) + tuple(x.type.shape[2:]), fill_value=1.0,
                  dtype=x.type.dtype)
    pad_hi = [h - e for h, e in zip(hi, extra)]
    mask = b.call(_F().pad, ones, _torch_pads(lo, pad_hi), "constant", 1.0 if include else 0.0)
    mask = b.call(_F().pad, mask, _torch_pads([0] * n, extra), "constant", 0.0)
    return [b.emit("div", [pool(xp), pool(mask)])]


def conv_transpose(b: Builder) -> list:
    x, w = b.value(0), b.value(1)
    n = _spatial(b, x, "ConvTranspose")
    if b.attr("output_shape") is not None or b.attr("auto_pad", "NOTSET") != "NOTSET":
        b.fail("ConvTranspose with output_shape or auto_pad", unsupported=True)
    strides = list(b.attr("strides", [1] * n))
    dil = list(b.attr("dilations", [1] * n))
    pads = list(b.attr("pads", [0] * 2 * n))
    if pads[:n] != pads[n:]:
        b.fail(f"pads {pads} are not symmetric", unsupported=True)
    out_pad = list(b.attr("output_padding", [0] * n))
    bias = b.value(2) if b.has(2) else None
    if n == 1:
        w = b.emit("unsqueeze", [w], dim=2)
        strides, dil, pads, out_pad = [1] + strides, [1] + dil, [0] + pads, [0] + out_pad
    return [_two_d(b, x, n, lambda v: b.call(
        _F().conv_transpose2d, v, w, bias, tuple(strides), tuple(pads[:2]), tuple(out_pad),
        b.attr("group", 1), tuple(dil)))]


def nll_loss(b: Builder) -> list:
    x, target = b.value(0), b.value(1)
    weight = b.value(2) if b.has(2) else None
    return [b.call(_F().nll_loss, x, target, weight, None, b.attr("ignore_index", -100), None,
                   b.attr("reduction", "mean"))]


def softmax_cross_entropy(b: Builder) -> list:
    x, target = b.value(0), b.value(1)
    weight = b.value(2) if b.has(2) else None
    logp = b.emit("log_softmax", [x], dim=1)
    loss = b.call(_F().nll_loss, logp, target, weight, None, b.attr("ignore_index", -100), None,
                  b.attr("reduction", "mean"))
    return [loss, logp]


def group_norm(b: Builder) -> list:
    x, scale, bias = b.value(0), b.value(1), b.value(2)
    groups = b.attr("num_groups")
    channels = x.type.shape[1]
    if scale.type.shape != (channels,):  # opset 18: one scale and bias per group
        per = np.arange(channels, dtype=np.int64) // (channels // groups)
        idx = b.constant(per)
        scale, bias = (b.emit("index_select", [t, idx], dim=0) for t in (scale, bias))
    return [b.call(_F().group_norm, x, groups, scale, bias, b.attr("epsilon", 1e-5))]


def instance_norm(b: Builder) -> list:
    x, scale, bias = b.value(0), b.value(1), b.value(2)
    return [b.call(_F().group_norm, x, x.type.shape[1], scale, bias, b.attr("epsilon", 1e-5))]


def lp_norm(b: Builder) -> list:
    return [b.call(_F().normalize, b.value(0), float(b.attr("p", 2)), b.attr("axis", -1))]


def rms_norm(b: Builder) -> list:
    x = b.value(0)
    axis = meta.normalize_dim("RMSNormalization", b.attr("axis", -1), _rank(x))
    y = b.call(_F().rms_norm, x, tuple(x.type.shape[axis:]), None, b.attr("epsilon", 1e-5))
    return [b.emit("mul", [y, b.value(1)])]


def _along(b: Builder, n: Any, axis: int, rank: int) -> Any:
    """arange(n) shaped to lie along `axis` of a tensor of `rank` dims."""
    from ..ir.types import int64
    r = b.emit("arange", [], start=0, end=n, step=1, dtype=int64)
    shape = [1] * rank
    shape[axis] = n
    return b.emit("reshape", [r], shape=tuple(shape))


def hardmax(b: Builder) -> list:
    x = b.value(0)
    axis = meta.normalize_dim("Hardmax", b.attr("axis", -1), _rank(x))
    idx = b.emit("argmax", [x], dim=axis, keepdim=True)
    hit = b.emit("eq", [_along(b, x.type.shape[axis], axis, _rank(x)), idx])
    return [b.emit("to_dtype", [hit], dtype=x.type.dtype)]


def one_hot(b: Builder) -> list:
    indices, values = b.value(0), b.value(2)
    depth = int(_scalar_input(b, 1, "depth", None))
    rank = _rank(indices) + 1
    axis = meta.normalize_dim("OneHot", b.attr("axis", -1), rank)
    from ..ir.types import int64
    idx = b.emit("to_dtype", [indices], dtype=int64)
    idx = b.emit("where", [b.emit("lt", [idx, 0]), b.emit("add", [idx, depth]), idx])
    hit = b.emit("eq", [b.emit("unsqueeze", [idx], dim=axis), _along(b, depth, axis, rank)])
    off = b.emit("getitem", [values], index=(0,))
    on = b.emit("getitem", [values], index=(1,))
    return [b.emit("where", [hit, on, off])]


def cumprod(b: Builder) -> list:
    x = b.value(0)
    axis = meta.normalize_dim("CumProd", int(b.static_ints(1, "axis")[0]), _rank(x))
    reverse = bool(b.attr("reverse", 0))
    if reverse:
        x = b.emit("flip", [x], dims=(axis,))
    if b.attr("exclusive", 0):  # shift by one: a product of nothing (1) first
        index = [slice(None)] * _rank(x)
        index[axis] = slice(0, -1)
        ones = list(x.type.shape)
        ones[axis] = 1
        x = b.emit("cat", [b.emit("full", [], size=tuple(ones), fill_value=1,
                                  dtype=x.type.dtype), b.emit("getitem", [x],
                                                              index=tuple(index))], dim=axis)
    y = b.emit("cumprod", [x], dim=axis)
    return [b.emit("flip", [y], dims=(axis,)) if reverse else y]


def swish(b: Builder) -> list:
    x = b.value(0)
    return [b.emit("mul", [x, b.emit("sigmoid", [b.emit("mul", [x, b.attr("alpha", 1.0)])])])]


def shrink(b: Builder) -> list:
    x = b.value(0)
    lambd, bias = b.attr("lambd", 0.5), b.attr("bias", 0.0)
    zero = b.emit("mul", [x, 0])
    hi = b.emit("where", [b.emit("gt", [x, lambd]), b.emit("sub", [x, bias]), zero])
    return [b.emit("where", [b.emit("lt", [x, -lambd]), b.emit("add", [x, bias]), hi])]


def eye_like(b: Builder) -> list:
    from .dtypes import from_onnx
    x = b.value(0)
    shape = x.type.shape
    if len(shape) != 2 or any(isinstance(d, str) for d in shape):
        b.fail("EyeLike of a symbolic or non-2-D shape", unsupported=True)
    code = b.attr("dtype")
    d = from_onnx(code, b.where) if code is not None else x.type.dtype
    return [b.constant(np.eye(shape[0], shape[1], b.attr("k", 0), dtype=d.np))]


def depth_to_space(b: Builder) -> list:
    x = b.value(0)
    n, c, h, w = x.type.shape
    k = b.attr("blocksize")
    if b.attr("mode", "DCR") == "DCR":
        y = b.emit("reshape", [x], shape=(n, k, k, c // (k * k), h, w))
        y = b.emit("permute", [y], dims=(0, 3, 4, 1, 5, 2))
    else:
        y = b.emit("reshape", [x], shape=(n, c // (k * k), k, k, h, w))
        y = b.emit("permute", [y], dims=(0, 1, 4, 2, 5, 3))
    return [b.emit("reshape", [y], shape=(n, c // (k * k), h * k, w * k))]


def space_to_depth(b: Builder) -> list:
    x = b.value(0)
    n, c, h, w = x.type.shape
    k = b.attr("blocksize")
    y = b.emit("reshape", [x], shape=(n, c, h // k, k, w // k, k))
    perm = (0, 1, 3, 5, 2, 4) if b.attr("mode", "DCR") == "CRD" else (0, 3, 5, 1, 2, 4)
    y = b.emit("permute", [y], dims=perm)
    return [b.emit("reshape", [y], shape=(n, c * k * k, h // k, w // k))]


def compress(b: Builder) -> list:
    x, cond = b.value(0), b.value(1)
    axis = b.attr("axis")
    if axis is None:
        x = b.emit("reshape", [x], shape=(meta.numel(x.type.shape),))
        axis = 0
    axis = meta.normalize_dim("Compress", axis, _rank(x))
    where = b.emit("reshape", [b.emit("nonzero", [cond])], shape=(-1,))
    return [b.emit("index_select", [x, where], dim=axis)]
