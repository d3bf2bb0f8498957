"""Convolution and max pooling: `conv2d` and its two adjoints, `max_pool2d_with_indices`.

`conv2d(x, w)` is bilinear; its adjoints are ops of their own so that gradients of any order
stay in the registry: `conv2d_input_grad(g, w)` (a transposed convolution) and
`conv2d_weight_grad(x, g)` (a correlation of the input with the output gradient). The three
ops' VJPs are written with one another. The bias is added after the op by `nn.functional`.
Spatial sizes must be known integers; the batch dim may be symbolic (traced with a dynamic batch).
"""

from __future__ import annotations

import numpy as np

from ..registry import OpDef, OpError, Sample, register
from ..types import int64

_CONV_ATTRS = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1}


def out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    """Output length of a sliding window (PyTorch's floor formula)."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _float_same(op: str):
    def rule(operands, attrs):
        a, b = operands[0].dtype, operands[1].dtype
        if a is not b:
            raise OpError(f"{op}(): Input type ({a.name}) and weight type ({b.name}) should be "
                          "the same")
        if not a.is_floating_point:
            raise NotImplementedError(f'"{op}" not implemented for \'{a.name}\'')
        return a, a
    return rule


def _check_attrs(op: str, attrs: dict) -> None:
    if min(attrs["stride"]) < 1 or min(attrs["dilation"]) < 1 or attrs["groups"] < 1:
        raise OpError(f"{op}(): non-positive stride, dilation or groups is not supported")
    if min(attrs["padding"]) < 0:
        raise OpError(f"{op}(): negative padding is not supported")


def _out_hw(op: str, hw, khw, attrs) -> tuple:
    out = tuple(out_size(hw[i], khw[i], attrs["stride"][i], attrs["padding"][i],
                         attrs["dilation"][i]) for i in range(2))
    if min(out) < 1:
        raise OpError(f"{op}(): Calculated output size is too small for input of spatial size "
                      f"{tuple(hw)} and kernel {tuple(khw)}")
    return out


def _conv_shape(operands, attrs):
    x, w = tuple(operands[0].shape), tuple(operands[1].shape)
    _check_attrs("conv2d", attrs)
    if len(x) != 4 or len(w) != 4:
        raise OpError(f"conv2d(): Expected 4-dimensional input and weight, but got input of size "
                      f"{_fmt(x)} and weight of size {_fmt(w)}")
    g = attrs["groups"]
    if w[0] % g:
        raise OpError("conv2d(): Given groups=%d, expected weight to be divisible by %d at "
                      "dimension 0, but got weight of size %s instead" % (g, g, _fmt(w)))
    if x[1] != w[1] * g:
        raise OpError(f"conv2d(): Given groups={g}, weight of size {_fmt(w)}, expected "
                      f"input{_fmt(x)} to have {w[1] * g} channels, but got {x[1]} channels "
                      "instead")
    return (x[0], w[0]) + _out_hw("conv2d", x[2:], w[2:], attrs)


def _conv_vjp(ctx, g):
    x, w = ctx.inputs
    a = ctx.attrs
    dx = dw = None
    if ctx.needs_input_grad[0]:
        dx = ctx.bind("conv2d_input_grad", (g, w), {**a, "input_hw": tuple(ctx.shapes[0][2:])})
    if ctx.needs_input_grad[1]:
        dw = ctx.bind("conv2d_weight_grad", (x, g), {**a, "kernel_hw": tuple(ctx.shapes[1][2:])})
    return dx, dw


def conv_ref(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Direct convolution (cross-correlation) by explicit loops."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh, ow = out_size(h, kh, sh, ph, dh), out_size(wd, kw, sw, pw, dw)
    og = o // groups
    out = np.zeros((n, o, oh, ow), dtype=x.dtype)
    for b in range(n):
        for oc in range(o):
            c0 = (oc // og) * cg
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for ci in range(cg):
                        for u in range(kh):
                            for v in range(kw):
                                acc += (xp[b, c0 + ci, i * sh + u * dh, j * sw + v * dw]
                                        * w[oc, ci, u, v])
                    out[b, oc, i, j] = acc
    return out


def _conv_samples(rng):
    return [
        Sample((rng.normal(size=(2, 2, 4, 4)), rng.normal(size=(3, 2, 2, 2)))),
        Sample((rng.normal(size=(1, 2, 5, 4)), rng.normal(size=(2, 2, 3, 2))),
               {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}, note="strided"),
        Sample((rng.normal(size=(1, 4, 3, 3)), rng.normal(size=(2, 2, 2, 2))),
               {"groups": 2, "padding": (1, 1)}, note="groups"),
    ]


CONV2D = register(OpDef(
    name="conv2d", inputs=("input", "weight"), attrs=dict(_CONV_ATTRS),
    dtype_rule=_float_same("conv2d"), shape_rule=_conv_shape, vjp=_conv_vjp,
    save_inputs=(0, 1), grad_name="ConvolutionBackward0", samples=_conv_samples, ref=conv_ref,
    doc="2-D cross-correlation of (N, C, H, W) with (O, C/groups, kh, kw), no bias."))


# ------------------------------------------------------------------ conv2d's adjoints (VJPs)

def _input_grad_shape(operands, attrs):
    g, w = tuple(operands[0].shape), tuple(operands[1].shape)
    _check_attrs("conv2d_input_grad", attrs)
    expect = _out_hw("conv2d_input_grad", attrs["input_hw"], w[2:], attrs)
    if len(g) != 4 or len(w) != 4 or g[1] != w[0] or tuple(g[2:]) != expect:
        raise OpError(f"conv2d_input_grad(): grad of size {_fmt(g)} does not match weight of "
                      f"size {_fmt(w)} and input size {tuple(attrs['input_hw'])}")
    return (g[0], w[1] * attrs["groups"]) + tuple(attrs["input_hw"])


def _conv_attrs(attrs: dict) -> dict:
    return {k: attrs[k] for k in _CONV_ATTRS}


def _input_grad_vjp(ctx, gg):
    """input_grad(g, w) is linear in each: <gg, T(g, w)> = <conv(gg, w), g> = <W(gg, g), w>."""
    g, w = ctx.inputs
    a = _conv_attrs(ctx.attrs)
    dg = dw = None
    if ctx.needs_input_grad[0]:
        dg = ctx.bind("conv2d", (gg, w), a)
    if ctx.needs_input_grad[1]:
        dw = ctx.bind("conv2d_weight_grad", (gg, g), {**a, "kernel_hw": tuple(ctx.shapes[1][2:])})
    return dg, dw


def input_grad_ref(g, w, input_hw, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Scatter each output gradient back onto the input positions it read (explicit loops)."""
    n, o, oh, ow = g.shape
    _, cg, kh, kw = w.shape
    h, wd = input_hw
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    og = o // groups
    dx = np.zeros((n, cg * groups, h + 2 * ph, wd + 2 * pw), dtype=g.dtype)
    for b in range(n):
        for oc in range(o):
            c0 = (oc // og) * cg
            for i in range(oh):
                for j in range(ow):
                    for ci in range(cg):
                        for u in range(kh):
                            for v in range(kw):
                                dx[b, c0 + ci, i * sh + u * dh, j * sw + v * dw] += (
                                    g[b, oc, i, j] * w[oc, ci, u, v])
    return dx[:, :, ph:ph + h, pw:pw + wd]


def _adjoint_samples(rng):
    out = []
    for s in _conv_samples(rng):
        x, w = s.inputs
        a = {**_CONV_ATTRS, **s.attrs}
        oh, ow = _out_hw("conv2d", x.shape[2:], w.shape[2:], a)
        g = rng.normal(size=(x.shape[0], w.shape[0], oh, ow))
        out.append((x, w, g, s.attrs))
    return out


register(OpDef(
    name="conv2d_input_grad", inputs=("grad_output", "weight"),
    attrs={**_CONV_ATTRS, "input_hw": (1, 1)}, dtype_rule=_float_same("conv2d_input_grad"),
    shape_rule=_input_grad_shape, vjp=_input_grad_vjp, save_inputs=(0, 1),
    grad_name="ConvolutionBackwardBackward0",
    samples=lambda rng: [Sample((g, w), {**a, "input_hw": x.shape[2:]})
                         for x, w, g, a in _adjoint_samples(rng)],
    ref=input_grad_ref,
    doc="The gradient of conv2d with respect to its input: a transposed convolution."))


def _weight_grad_shape(operands, attrs):
    x, g = tuple(operands[0].shape), tuple(operands[1].shape)
    _check_attrs("conv2d_weight_grad", attrs)
    groups, khw = attrs["groups"], tuple(attrs["kernel_hw"])
    if len(x) != 4 or len(g) != 4 or x[1] % groups or g[1] % groups \
            or tuple(g[2:]) != _out_hw("conv2d_weight_grad", x[2:], khw, attrs):
        raise OpError(f"conv2d_weight_grad(): input of size {_fmt(x)} does not match grad of "
                      f"size {_fmt(g)} and kernel size {khw}")
    return (g[1], x[1] // groups) + khw


def _weight_grad_vjp(ctx, gw):
    """W(x, g) is linear in each: <gw, W(x, g)> = <conv(x, gw), g> = <x, T(g, gw)>."""
    x, g = ctx.inputs
    a = _conv_attrs(ctx.attrs)
    dx = dg = None
    if ctx.needs_input_grad[0]:
        dx = ctx.bind("conv2d_input_grad", (g, gw), {**a, "input_hw": tuple(ctx.shapes[0][2:])})
    if ctx.needs_input_grad[1]:
        dg = ctx.bind("conv2d", (x, gw), a)
    return dx, dg


def weight_grad_ref(x, g, kernel_hw, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                    groups=1):
    """Correlate the padded input with the output gradient (explicit loops)."""
    n, c, h, wd = x.shape
    _, o, oh, ow = g.shape
    kh, kw = kernel_hw
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    cg, og = c // groups, o // groups
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    dw_ = np.zeros((o, cg, kh, kw), dtype=x.dtype)
    for oc in range(o):
        c0 = (oc // og) * cg
        for ci in range(cg):
            for u in range(kh):
                for v in range(kw):
                    acc = 0.0
                    for b in range(n):
                        for i in range(oh):
                            for j in range(ow):
                                acc += g[b, oc, i, j] * xp[b, c0 + ci, i * sh + u * dh,
                                                           j * sw + v * dw]
                    dw_[oc, ci, u, v] = acc
    return dw_


register(OpDef(
    name="conv2d_weight_grad", inputs=("input", "grad_output"),
    attrs={**_CONV_ATTRS, "kernel_hw": (1, 1)}, dtype_rule=_float_same("conv2d_weight_grad"),
    shape_rule=_weight_grad_shape, vjp=_weight_grad_vjp, save_inputs=(0, 1),
    grad_name="ConvolutionBackwardBackward0",
    samples=lambda rng: [Sample((x, g), {**a, "kernel_hw": w.shape[2:]})
                         for x, w, g, a in _adjoint_samples(rng)],
    ref=weight_grad_ref,
    doc="The gradient of conv2d with respect to its weight: input correlated with the grad."))


# ------------------------------------------------------------------------------- max pooling

_POOL_ATTRS = {"kernel_size": (1, 1), "stride": (1, 1), "padding": (0, 0), "dilation": (1, 1)}


def _pool_dtype(operands, attrs):
    d = operands[0].dtype
    if not d.is_floating_point:
        raise NotImplementedError(f'"max_pool2d" not implemented for \'{d.name}\'')
    return (d, int64), d


def _pool_shape(operands, attrs):
    x = tuple(operands[0].shape)
    if len(x) != 4:
        raise OpError(f"max_pool2d(): Expected 4D input (batch mode), but got input of size "
                      f"{_fmt(x)}")
    k, p = attrs["kernel_size"], attrs["padding"]
    if min(k) < 1 or min(attrs["stride"]) < 1 or min(attrs["dilation"]) < 1:
        raise OpError("max_pool2d(): kernel_size, stride and dilation must be greater than zero")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise OpError(f"max_pool2d(): pad should be at most half of effective kernel size, but "
                      f"got pad={p[0] if p[0] == p[1] else p}, kernel_size="
                      f"{k[0] if k[0] == k[1] else k} and dilation="
                      f"{attrs['dilation'][0]}")
    out = x[:2] + _out_hw("max_pool2d", x[2:], k, attrs)
    return out, out


def _pool_vjp(ctx, grads):
    """Each output's gradient goes to the input element it selected (flat index in H*W)."""
    g, idx = grads[0], ctx.output[1]
    n, c, h, w = ctx.shapes[0]
    zeros = g.new_zeros(ctx.shapes[0]).flatten(2)
    dx = ctx.bind("scatter_add", (zeros, idx.flatten(2), g.flatten(2)), {"dim": 2})
    return (dx.view(ctx.shapes[0]),)


def pool_ref(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1)):
    """Max over each window, the first maximum's flat index in H*W (explicit loops)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw)
    vals = np.full((n, c, oh, ow), -np.inf, dtype=x.dtype)
    idx = np.zeros((n, c, oh, ow), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    for u in range(kh):
                        for v in range(kw):
                            r, q = i * sh - ph + u * dh, j * sw - pw + v * dw
                            if 0 <= r < h and 0 <= q < w and x[b, ch, r, q] > vals[b, ch, i, j]:
                                vals[b, ch, i, j], idx[b, ch, i, j] = x[b, ch, r, q], r * w + q
    return vals, idx


def _pool_samples(rng):
    x = rng.permutation(50).reshape(1, 2, 5, 5) / 7.0  # distinct values: no ties
    return [Sample((x,), {"kernel_size": (2, 2), "stride": (2, 2)}),
            Sample((x - 5.0,), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1)},
                   note="padded, all negative"),
            Sample((x,), {"kernel_size": (2, 2), "stride": (1, 1), "dilation": (2, 2)},
                   note="dilated")]


register(OpDef(
    name="max_pool2d_with_indices", inputs=("input",), attrs=dict(_POOL_ATTRS), num_outputs=2,
    dtype_rule=_pool_dtype, shape_rule=_pool_shape, vjp=_pool_vjp, save_output=(1,),
    grad_name="MaxPool2DWithIndicesBackward0", samples=_pool_samples, ref=pool_ref,
    doc="2-D max pooling of (N, C, H, W): (values, flat indices into each H*W plane)."))
