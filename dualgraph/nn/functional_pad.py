"""`F.pad` and `F.interpolate`, as compositions of registry ops (so eager, trace and script and
their gradients need nothing of their own).

Constant padding crops negative pads with slices and concatenates blocks of the fill value;
reflect / replicate / circular padding is one `index_select` per padded dim with a constant
index vector; `interpolate` is `index_select` for nearest modes and, per spatial dim, a matmul
with a constant (out, in) weight matrix for linear, cubic and area modes (separable, as
PyTorch's kernels are). Index and weight arithmetic follows PyTorch's CPU kernels
(`area_pixel_compute_source_index`, A = -0.75 for bicubic), computed in the input's float type.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import creation
from ..methods.indexing import cat
from ..ir.ops.math import _TYPE_NAME
from ..ir.types import float32
from ..tensor import Tensor

__all__ = ["pad", "interpolate"]

_NON_CONSTANT = ("reflect", "replicate", "circular")
_PAD_COMBOS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


# ------------------------------------------------------------------------------------- pad

def _pad_ints(pad: Any) -> tuple:
    if isinstance(pad, Tensor) or not isinstance(pad, Sequence):
        raise TypeError(f"pad(): argument 'pad' must be tuple of ints, but got "
                        f"{type(pad).__name__}")
    for i, p in enumerate(pad):
        if type(p).__name__ == "SymDim":
            raise RuntimeError(f"pad(): the pad sizes must be concrete ints, but element {i} is "
                               f"the symbolic size {p}; trace or script with fixed sizes there")
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"pad(): argument 'pad' must be tuple of ints, but found element "
                            f"of type {type(p).__name__} at pos {i}")
    return tuple(int(p) for p in pad)


def _is_zero(d: Any) -> bool:
    """A dim known to be 0 (a symbolic size is taken to be nonzero)."""
    return isinstance(d, (int, np.integer)) and d == 0


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad the last len(pad)//2 dims: pad = (left_last, right_last, left_2nd_last, ...);
    negative pads crop. Modes: constant (fill `value`, default 0), reflect, replicate, circular."""
    pads = _pad_ints(pad)
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    ndim = input.dim()
    if len(pads) // 2 > ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pads)} and input of "
                           f"dimension {ndim}")
    if mode == "constant":
        return _pad_constant(input, pads, 0.0 if value is None else value)
    if mode not in _NON_CONSTANT:
        # PyTorch raises NotImplementedError (a RuntimeError subclass) for these two cases
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if ndim not in _PAD_COMBOS.get(len(pads), ()):
        raise NotImplementedError(
            f"Padding size {len(pads)} is not supported for {ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    shape = list(input.shape)
    spatial = len(pads) // 2
    sizes = shape[ndim - spatial:]
    if any(_is_zero(d) for d in sizes) or (ndim == spatial + 2 and _is_zero(shape[1])):
        raise RuntimeError(f"Expected {spatial + 1}D or {spatial + 2}D (batch mode) tensor with "
                           "possibly 0 batch size and other non-zero dimensions for input, but "
                           f"got: {shape}")
    if all(isinstance(d, (int, np.integer)) for d in sizes):
        _check_non_constant(mode, shape, [int(d) for d in sizes], pads)
    # else: symbolic sizes (a generic script graph) are taken to be long enough, as slices are
    x = input
    for i in range(spatial):
        left, right = pads[2 * i], pads[2 * i + 1]
        if left or right:
            n = sizes[-1 - i]
            if isinstance(n, (int, np.integer)):
                idx = creation.tensor(_pad_index(mode, int(n), left, right), device=input.device)
            else:
                idx = _symbolic_pad_index(mode, n, left, right, input.device)
            x = x.index_select(ndim - 1 - i, idx)
    return x


def _check_non_constant(mode: str, shape: list, sizes: list, pads: tuple) -> None:
    """PyTorch's checks for reflect / replicate / circular, in PyTorch's order."""
    ndim, spatial = len(shape), len(sizes)
    if mode == "circular":
        for i in reversed(range(spatial)):  # PyTorch checks the outermost padded dim first
            _check_circular(sizes[-1 - i], pads[2 * i], pads[2 * i + 1])
        outs = [n + pads[2 * (spatial - 1 - j)] + pads[2 * (spatial - 1 - j) + 1]
                for j, n in enumerate(sizes)]
        if all(outs) and not any(_is_zero(d) for d in shape[:ndim - spatial]):  # non-empty
            for i in range(spatial):
                _check_circular_crop(sizes[-1 - i], pads[2 * i], pads[2 * i + 1])
        return
    for i in range(spatial):
        _check_reflect(mode, sizes[-1 - i], pads[2 * i], pads[2 * i + 1], i, ndim, shape)
    _check_output(mode, shape, sizes, pads)


def _symbolic_pad_index(mode: str, n: Any, left: int, right: int, device: Any) -> Tensor:
    """The index vector of `_pad_index` for a symbolic size n, as tensor arithmetic that the
    graph computes when it runs (SymDim on the left of each operator, as SymDim requires)."""
    if mode == "circular":  # crop, then wrap once each way
        lo = max(-left, 0)
        m = n - lo - max(-right, 0)
        # arange from 0: its length is then the size expression itself (m + pads), not fresh
        j = creation.arange(m + max(left, 0) + max(right, 0), device=device) - max(left, 0)
        j = j + m * (j < 0).long()
        j = j - m * (((m - 1) - j) < 0).long()
        return j + lo
    j = creation.arange(n + left + right, device=device) - left
    if mode == "reflect":
        return (n - 1) - ((n - 1) - j.abs()).abs()
    return (n - 1) - ((n - 1) - j.clamp(min=0)).clamp(min=0)  # replicate


def _check_reflect(mode: str, n: int, left: int, right: int, i: int, ndim: int,
                   shape: list) -> None:
    """PyTorch's reflection check: each pad smaller than the dim it reflects."""
    if mode == "reflect" and (left >= n or right >= n):
        raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the "
                           "corresponding input dimension, but got: padding "
                           f"({left}, {right}) at dimension {ndim - 1 - i} of input {shape}")


def _check_circular(n: int, left: int, right: int) -> None:
    """PyTorch's circular checks: wrap at most once, no negative size."""
    if left > n or right > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    if n + left + right < 0:
        raise RuntimeError("Negative padding value is resulting in an empty dimension")


def _check_circular_crop(n: int, left: int, right: int) -> None:
    """Ours: a positive pad may not exceed what a negative pad on the other side leaves, where
    PyTorch would read memory it has not written yet (an undefined result, or an error)."""
    left_over = n - max(-left, 0) - max(-right, 0)
    if max(left, 0) > left_over or max(right, 0) > left_over:
        raise RuntimeError(f"pad(mode='circular'): padding ({left}, {right}) wraps around more "
                           f"than the {max(left_over, 0)} of {n} entries its negative side "
                           "leaves")


def _check_output(mode: str, shape: list, sizes: list, pads: tuple) -> None:
    """Reflect / replicate: PyTorch refuses when every padded output size is below 1, and
    cannot make a negative size otherwise (empty dims are fine)."""
    k = len(sizes)
    outs = [n + pads[2 * (k - 1 - j)] + pads[2 * (k - 1 - j) + 1] for j, n in enumerate(sizes)]
    if all(o < 1 for o in outs):
        two = "H: {1}, W: {2} " if mode == "replicate" else "H: {1}, W: {2}"
        ins = {1: "W: {2}", 2: two, 3: "D: {0} H: {1}, W: {2}"}[k]
        raise RuntimeError("input (" + ins.format(*([None] * (3 - k) + sizes)) + ") is too "
                           "small. Calculated output " + " ".join(
                               f"{c}: {o}" for c, o in zip("DHW"[3 - k:], outs)))
    for o in outs:  # the other dims are sizes already (maybe symbolic), never negative
        if o < 0:
            full = shape[:len(shape) - k] + outs
            raise RuntimeError(f"Trying to create tensor with negative dimension {o}: {full}")


def _pad_index(mode: str, n: int, left: int, right: int) -> np.ndarray:
    """The input positions the padded dim reads, from -left to n + right - 1 of the input."""
    if mode == "reflect":
        j = np.abs(np.arange(-left, n + right))
        return (n - 1) - np.abs((n - 1) - j)
    if mode == "replicate":
        return np.clip(np.arange(-left, n + right), 0, n - 1)
    # circular, as PyTorch does it: the cropped input in the middle, then the left pad copied
    # from the end of what is there so far, then the right pad from its start (copies that may
    # overlap, read before they write)
    size = n + left + right
    out = np.zeros(size, dtype=np.int64)
    if n - max(-left, 0) - max(-right, 0) <= 0:
        return out  # only in an empty result (checked above): any in-range index will do
    lo, hi = max(left, 0), size - max(right, 0)
    out[lo:hi] = np.arange(max(-left, 0), n - max(-right, 0))
    if left > 0:
        out[:left] = out[size - left - max(right, 0):size - max(right, 0)].copy()
    if right > 0:
        out[size - right:] = out[lo:lo + right].copy()
    return out


def _pad_constant(input: Tensor, pads: tuple, value: float) -> Tensor:
    x = input
    for i in range(len(pads) // 2):
        d = input.dim() - 1 - i
        left, right = pads[2 * i], pads[2 * i + 1]
        if left < 0 or right < 0:
            n = x.shape[d]
            start, stop = max(-left, 0), n - max(-right, 0)
            if isinstance(stop - start, (int, np.integer)) and stop - start < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
            x = x.narrow(d, start, stop - start)
        parts = []
        for amount in (left, right):
            if amount > 0:
                shape = list(x.shape)
                shape[d] = amount
                parts.append(x.new_full(shape, value))
            else:
                parts.append(None)
        if parts[0] is not None or parts[1] is not None:
            x = cat([p for p in (parts[0], x, parts[1]) if p is not None], d)
    return x


# ----------------------------------------------------------------------------- interpolate

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_NEEDS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_COPY_SAME_SIZE = ("linear", "bilinear", "trilinear", "area")


def _sizes(input: Tensor, size: Any, scale_factor: Any, dim: int) -> tuple:
    """(output sizes or None, scale factors or None), checked as PyTorch checks them."""
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError("Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of {spatial}"
                                 f" and output size of {size}. Please provide input tensor in (N,"
                                 " C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK)"
                                 " format.")
            sizes = list(size)
        else:
            sizes = [size] * dim
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
            raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                            "Tuple[int, int, int], but got size with types "
                            f"{[type(s) for s in sizes]}")
        return [int(s) for s in sizes], None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != dim:
            raise ValueError("Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {spatial} and"
                             f" scale_factor of shape {scale_factor}. Please provide input tensor"
                             " in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ..."
                             ",sK) format.")
        return None, [float(s) for s in scale_factor]
    return None, [float(scale_factor)] * dim


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resample the spatial dims of an (N, C, d1[, d2[, d3]]) input to `size` or by
    `scale_factor`; modes nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes:"
                             " linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    sizes, scales = _sizes(input, size, scale_factor, dim)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and sizes is None:
        recompute_scale_factor = True
    in_sizes = list(input.shape[2:]) if dim > 0 else []
    if recompute_scale_factor and scales is not None:
        sizes = [_scaled_size(n, s) for n, s in zip(in_sizes, scales)]
        scales = None
    if antialias:
        if not (mode in ("bilinear", "bicubic") and input.dim() == 4):
            raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and "
                             "requires a 4-D tensor as input")
        raise ValueError("interpolate(): antialias=True is not supported by dualgraph; use "
                         "antialias=False")
    if mode not in _MODES or input.dim() not in (3, 4, 5):
        raise NotImplementedError(  # PyTorch's error kind and text (a RuntimeError subclass)
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for "
            "the modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
            f"(got {mode})")
    if mode in _NEEDS and input.dim() != _NEEDS[mode]:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                  f"{_NEEDS[mode]}D input")
    if sizes is None:
        sizes = [_scaled_size(n, s) for n, s in zip(in_sizes, scales)]
    symbolic = not all(isinstance(n, (int, np.integer)) for n in in_sizes + sizes)
    if not symbolic and (any(s <= 0 for s in sizes) or any(n <= 0 for n in in_sizes)):
        names = "DHW"[3 - dim:]
        raise RuntimeError("Input and output sizes should be greater than 0, but got input ("
                           + ", ".join(f"{c}: {n}" for c, n in zip(names, in_sizes))
                           + ") output (" + ", ".join(f"{c}: {n}" for c, n in zip(names, sizes))
                           + ")")
    if mode not in ("nearest", "nearest-exact") and not input.dtype.is_floating_point:
        raise NotImplementedError(f'"upsample_{mode}" not implemented for '
                                  f"'{_TYPE_NAME.get(input.dtype.name, input.dtype.name)}'")
    x = input
    for i in range(dim):
        d = 2 + i
        n_in, n_out = in_sizes[i], sizes[i]
        scale = None if scales is None else scales[i]
        if not isinstance(n_in, (int, np.integer)) or not isinstance(n_out, (int, np.integer)):
            x = _symbolic_resample(x, d, n_in, n_out, scale, mode, bool(align_corners))
            continue
        if n_in == n_out and mode in _COPY_SAME_SIZE:
            continue  # PyTorch 2.13's CPU kernels copy such a dim, whatever scale_factor says
        if mode in ("nearest", "nearest-exact"):
            if mode == "nearest" and dim == 2 and n_out % n_in == 0:
                scale = None  # 2-D nearest at an integer ratio: PyTorch's CPU fast path, in/out
            idx = _nearest_index(n_in, n_out, scale, mode == "nearest-exact")
            x = x.index_select(d, creation.tensor(idx, device=x.device))
            continue
        if mode == "area":
            from .functional_layers import _averaging_matrix
            w = _averaging_matrix(n_in, n_out)
        else:
            w = _weights(n_in, n_out, scale, bool(align_corners), mode == "bicubic",
                         np.float64 if input.dtype.name == "float64" else np.float32)
        x = _apply_matrix(x, d, creation.tensor(w.T.copy(), dtype=x.dtype, device=x.device))
    return x


def _scaled_size(n: Any, scale: float) -> Any:
    """floor(n * scale); for a symbolic n only an integer scale gives a size (k * n)."""
    if isinstance(n, (int, np.integer)):
        return math.floor(float(n) * scale)
    if float(scale).is_integer():
        return n * int(scale)
    raise RuntimeError(f"interpolate(): the output size floor({n} * {scale}) of a symbolic "
                       "size is not a size expression; use an integer scale_factor, an "
                       "explicit size, or capture with example inputs of fixed size")


def _symbolic_resample(x: Tensor, d: int, n: Any, out: Any, scale: float | None, mode: str,
                       align_corners: bool) -> Tensor:
    """One dim of a symbolic size, resampled with the index / weight formulas of the concrete
    path computed as tensors when the graph runs (nearest, nearest-exact and the linear modes;
    PyTorch's arithmetic, in the input's float type)."""
    if mode in ("bicubic", "area"):
        raise RuntimeError(f"interpolate(mode='{mode}') needs concrete spatial sizes, but got "
                           f"the symbolic size {n}; capture with example inputs of fixed size")
    ft = x.dtype if x.dtype.name == "float64" else float32
    dst = creation.arange(out, device=x.device).to(ft)
    if mode in ("nearest", "nearest-exact"):
        s = _float(1.0 / scale, ft) if scale is not None and scale > 0 else _ratio(n, out, ft)
        pos = (dst + 0.5) * s if mode == "nearest-exact" else dst * s
        return x.index_select(d, _at_most(pos.floor().long(), n - 1))
    if align_corners:
        s = 0.0 if isinstance(out, int) and out == 1 else _ratio(n - 1, out - 1, ft)
        src = dst * s
    else:
        s = _float(1.0 / scale, ft) if scale is not None and scale > 0 else _ratio(n, out, ft)
        src = (s * (dst + 0.5) - 0.5).clamp(min=0.0)
    i0 = _at_most(src.floor().long(), n - 1)
    i1 = i0 + (((n - 2) - i0) >= 0).long()
    lam1 = (src - i0.to(ft)).clamp(0.0, 1.0)
    view = [-1] + [1] * (x.dim() - 1 - d)
    lam1 = lam1.reshape(*view).to(x.dtype)
    return x.index_select(d, i0) * (1.0 - lam1) + x.index_select(d, i1) * lam1


def _float(v: float, ft: Any) -> float:
    """A Python float rounded to the float type (PyTorch's scales for float32 are float)."""
    return v if ft.name == "float64" else float(np.float32(v))


def _ratio(a: Any, b: Any, ft: Any) -> Any:
    """a / b as PyTorch computes in/out, in the float type: a 0-d tensor computed when the
    graph runs if a or b is symbolic."""
    q = a / b
    return q.to(ft) if isinstance(q, Tensor) else _float(q, ft)


def _at_most(idx: Tensor, top: Any) -> Tensor:
    """min(idx, top) for a symbolic top (SymDim on the left of each operator)."""
    return top - (top - idx).clamp(min=0)


def _apply_matrix(x: Tensor, d: int, wt: Tensor) -> Tensor:
    """Contract dim d of x with the (in, out) matrix wt: x's dim d becomes size out."""
    if d == x.dim() - 1:
        return x.matmul(wt)
    return x.transpose(d, -1).matmul(wt).transpose(d, -1)


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> np.ndarray:
    """PyTorch's nearest_idx: floor(dst * s) (or floor((dst + 0.5) * s)), s = 1/scale_factor
    if given, else in/out, in float32; at most n_in - 1."""
    f32 = np.float32
    s = f32(1.0 / scale) if scale is not None and scale > 0 else f32(n_in) / f32(n_out)
    dst = np.arange(n_out, dtype=f32)
    if exact:
        dst = dst + f32(0.5)
    return np.minimum(np.floor(dst * s).astype(np.int64), n_in - 1)


def _cubic(t: np.ndarray, ftype: Any) -> list:
    """PyTorch's cubic convolution coefficients (A = -0.75) for offsets -1, 0, 1, 2."""
    a = ftype(-0.75)
    one = ftype(1.0)

    def near(x: Any) -> Any:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Any) -> Any:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + one), near(t), near(one - t), far(ftype(2.0) - t)]


def _weights(n_in: int, n_out: int, scale: float | None, align_corners: bool, cubic: bool,
             ftype: Any) -> np.ndarray:
    """The (out, in) interpolation matrix of one spatial dim (linear or cubic)."""
    if align_corners:
        s = ftype(n_in - 1) / ftype(n_out - 1) if n_out > 1 else ftype(0.0)
    elif scale is not None and scale > 0:
        s = ftype(1.0 / scale)  # 1/scale in double, then rounded, as PyTorch's kernels
    else:
        s = ftype(n_in) / ftype(n_out)
    dst = np.arange(n_out, dtype=ftype)
    src = s * dst if align_corners else s * (dst + ftype(0.5)) - ftype(0.5)
    w = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    if cubic:
        i0 = np.floor(src).astype(np.int64)
        t = (src - i0.astype(ftype)).astype(ftype)
        for k, c in zip((-1, 0, 1, 2), _cubic(t, ftype)):
            np.add.at(w, (rows, np.clip(i0 + k, 0, n_in - 1)), c.astype(np.float64))
        return w
    src = np.maximum(src, ftype(0.0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = i0 + (i0 < n_in - 1)
    lam1 = np.clip(src - i0.astype(ftype), 0, 1).astype(ftype)
    lam0 = (ftype(1.0) - lam1).astype(ftype)
    np.add.at(w, (rows, i0), lam0.astype(np.float64))
    np.add.at(w, (rows, i1), lam1.astype(np.float64))
    return w
