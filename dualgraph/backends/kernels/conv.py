"""Kernels of `conv2d`, its adjoints and `max_pool2d_with_indices`: windows are strided views of
the padded input (im2col without copying), contracted with einsum; the transposed convolution
scatters one kernel tap at a time (kh*kw strided slice additions)."""

from __future__ import annotations

from typing import Any, Callable


# Convolutions of inf/NaN or overflowing values: see kernels/__init__.
QUIET = frozenset({'conv2d', 'conv2d_input_grad', 'conv2d_weight_grad'})


def kernels(xp: Any) -> dict[str, Callable]:
    def pad(x, padding, value=0.0):
        ph, pw = padding
        if not (ph or pw):
            return x
        return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)

    def windows(xp_, khw, stride, dilation, out_hw):
        """(N, C, OH, OW, kh, kw) view: element [.., i, j, u, v] = x[.., i*s + u*d, j*s + v*d]."""
        (kh, kw), (sh, sw), (dh, dw) = khw, stride, dilation
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        v = xp.lib.stride_tricks.sliding_window_view(xp_, span, axis=(2, 3))
        v = v[:, :, ::sh, ::sw, ::dh, ::dw]
        return v[:, :, :out_hw[0], :out_hw[1]]

    def grouped(a, groups):
        """(N, C, ...) -> (N, G, C/G, ...)."""
        return a.reshape((a.shape[0], groups, a.shape[1] // groups) + a.shape[2:])

    def conv2d(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        o, cg, kh, kw = w.shape
        n = x.shape[0]
        g = xp.zeros((n, o) + _out(x.shape[2:], (kh, kw), stride, padding, dilation), x.dtype)
        cols = windows(pad(x, padding), (kh, kw), stride, dilation, g.shape[2:])
        wg = w.reshape((groups, o // groups, cg, kh, kw))
        out = xp.einsum("ngchwij,gocij->ngohw", grouped(cols, groups), wg, optimize=True)
        return xp.ascontiguousarray(out.reshape(g.shape))

    def conv2d_input_grad(g, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                          input_hw=(1, 1)):
        n, o, oh, ow = g.shape
        _, cg, kh, kw = w.shape
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        wg = w.reshape((groups, o // groups, cg, kh, kw))
        taps = xp.einsum("ngohw,gocij->ngchwij", grouped(g, groups), wg, optimize=True)
        taps = taps.reshape((n, groups * cg, oh, ow, kh, kw))
        h, wd = input_hw
        dx = xp.zeros((n, groups * cg, h + 2 * ph, wd + 2 * pw), g.dtype)
        for u in range(kh):
            for v in range(kw):
                r, c = u * dh, v * dw
                dx[:, :, r:r + sh * (oh - 1) + 1:sh, c:c + sw * (ow - 1) + 1:sw] += taps[..., u, v]
        return xp.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + wd])

    def conv2d_weight_grad(x, g, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                           kernel_hw=(1, 1)):
        o, (kh, kw) = g.shape[1], kernel_hw
        cols = windows(pad(x, padding), (kh, kw), stride, dilation, g.shape[2:])
        dw = xp.einsum("ngchwij,ngohw->gocij", grouped(cols, groups), grouped(g, groups),
                       optimize=True)
        return xp.ascontiguousarray(dw.reshape((o, x.shape[1] // groups, kh, kw)))

    def max_pool2d_with_indices(x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0),
                                dilation=(1, 1)):
        n, c, h, w = x.shape
        out_hw = _out(x.shape[2:], kernel_size, stride, padding, dilation)
        cols = windows(pad(x, padding, -xp.inf), kernel_size, stride, dilation, out_hw)
        flat = cols.reshape(cols.shape[:4] + (-1,))
        pick = xp.argmax(flat, axis=-1)  # the first maximum, as PyTorch's CPU kernel
        values = xp.take_along_axis(flat, pick[..., None], axis=-1)[..., 0]
        # Window tap (u, v) of output (i, j) reads padded row i*s + u*d: unpad, flatten.
        kw = kernel_size[1]
        u, v = pick // kw, pick % kw
        rows = xp.arange(out_hw[0]).reshape(-1, 1) * stride[0] + u * dilation[0] - padding[0]
        cols_ = xp.arange(out_hw[1]) * stride[1] + v * dilation[1] - padding[1]
        return xp.ascontiguousarray(values), (rows * w + cols_).astype(xp.int64)

    return {"conv2d": conv2d, "conv2d_input_grad": conv2d_input_grad,
            "conv2d_weight_grad": conv2d_weight_grad,
            "max_pool2d_with_indices": max_pool2d_with_indices}


def _out(hw, khw, stride, padding, dilation) -> tuple:
    return tuple((hw[i] + 2 * padding[i] - dilation[i] * (khw[i] - 1) - 1) // stride[i] + 1
                 for i in range(2))
