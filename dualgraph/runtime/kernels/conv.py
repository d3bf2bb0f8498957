"""Kernels of `conv2d`, its adjoints and `max_pool2d_with_indices`: windows are strided views of
the padded input; without groups they are copied once into an im2col matrix and contracted by a
BLAS GEMM (einsum over the strided views, for groups, is several times slower); the transposed
convolution scatters one kernel tap at a time (kh*kw strided slice additions)."""

from __future__ import annotations

from typing import Any, Callable


# Window sizes (C*kh*kw) from which the forward convolution copies its windows into an im2col
# matrix for one GEMM: measured at batch 64, 3x3, it halves a 14x14 8->16 layer (72) and is
# 1.8x slower than einsum over the views for a 28x28 1->8 one (9). The weight gradient always
# takes the GEMM (3-4x faster than einsum in both); the input gradient keeps einsum (faster).
GEMM_DEPTH = 32

# Convolutions of inf/NaN or overflowing values: see kernels/__init__.
QUIET = frozenset({'conv2d', 'conv2d_input_grad', 'conv2d_weight_grad'})


def kernels(xp: Any) -> dict[str, Callable]:
    fast_pool = None
    if getattr(xp, "__name__", "") == "numpy":
        try:  # one Numba loop on the CPU (runtime/pool_kernels.py); NumPy's views without it
            from ..pool_kernels import max_pool2d_with_indices as fast_pool
        except ImportError:  # no Numba: the NumPy formulation below
            fast_pool = None

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

    def columns(x, khw, stride, padding, dilation, out_hw):
        """im2col: the (N*OH*OW, C*kh*kw) matrix of every output position's window (one copy of
        the windows, in the order a GEMM reads)."""
        cols = windows(pad(x, padding), khw, stride, dilation, out_hw)  # (N, C, OH, OW, kh, kw)
        n, c = x.shape[:2]
        return xp.ascontiguousarray(cols.transpose(0, 2, 3, 1, 4, 5)).reshape(
            n * out_hw[0] * out_hw[1], c * khw[0] * khw[1])

    def conv2d(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        o, cg, kh, kw = w.shape
        n = x.shape[0]
        out_hw = _out(x.shape[2:], (kh, kw), stride, padding, dilation)
        if groups == 1 and cg * kh * kw >= GEMM_DEPTH:  # one GEMM over im2col, then NCHW
            out = columns(x, (kh, kw), stride, padding, dilation, out_hw) @ w.reshape(o, -1).T
            return xp.ascontiguousarray(out.reshape(n, out_hw[0], out_hw[1], o)
                                        .transpose(0, 3, 1, 2))
        g = xp.zeros((n, o) + out_hw, x.dtype)
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
        if groups == 1:  # g^T (O, N*OH*OW) @ im2col (N*OH*OW, C*kh*kw)
            n, _, oh, ow = g.shape
            cols = columns(x, (kh, kw), stride, padding, dilation, (oh, ow))
            dw = g.transpose(1, 0, 2, 3).reshape(o, n * oh * ow) @ cols
            return xp.ascontiguousarray(dw.reshape(o, x.shape[1], kh, kw))
        cols = windows(pad(x, padding), (kh, kw), stride, dilation, g.shape[2:])
        dw = xp.einsum("ngchwij,ngohw->gocij", grouped(cols, groups), grouped(g, groups),
                       optimize=True)
        return xp.ascontiguousarray(dw.reshape((o, x.shape[1] // groups, kh, kw)))

    def max_pool2d_with_indices(x, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0),
                                dilation=(1, 1)):
        n, c, h, w = x.shape
        out_hw = _out(x.shape[2:], kernel_size, stride, padding, dilation)
        if fast_pool is not None and x.dtype.kind == "f" and x.dtype.itemsize >= 4 and x.size:
            return fast_pool(x, kernel_size, stride, padding, dilation, out_hw)
        cols = windows(pad(x, padding, -xp.inf), kernel_size, stride, dilation, out_hw)
        # The first maximum of each window (a NaN counts as the maximum, as in PyTorch's CPU
        # kernel), tap by tap over strided views: a few elementwise passes instead of a copy
        # of every window and an argmax along an axis of kh*kw (several times slower).
        taps = kernel_size[0] * kernel_size[1]
        values, pick = cols[..., 0, 0], xp.zeros(cols.shape[:4], xp.int64)
        for k in range(1, taps):
            tap = cols[..., k // kernel_size[1], k % kernel_size[1]]
            better = (tap > values) | (xp.isnan(tap) & ~xp.isnan(values))
            values = xp.where(better, tap, values)
            pick = xp.where(better, k, pick)
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
