"""Functional forms of the layers: convolution, pooling, normalization and embedding.

`conv2d` and `max_pool2d` are registry ops (ir/ops/conv.py); conv1d is conv2d on an unsqueezed
dim; conv_transpose2d is conv2d's input-gradient op (its adjoint); bilinear is one einsum;
average pooling is a depthwise conv2d with a constant kernel; adaptive average pooling is two
matmuls with constant averaging matrices; the norms are compositions of mean/var; embedding
is an index gather. So autograd and the tracer need nothing special.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np

from .. import creation
from ..autograd.grad_mode import no_grad
from ..dispatch import bind
from ..ir import get
from ..methods.linalg import einsum
from ..methods.math import where
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "bilinear", "max_pool2d", "avg_pool2d",
           "adaptive_avg_pool2d", "batch_norm", "layer_norm", "rms_norm", "group_norm",
           "embedding"]

_CONV2D, _MAXPOOL = get("conv2d"), get("max_pool2d_with_indices")
_EMBEDDING = get("embedding")
_CONV2D_T = get("conv2d_input_grad")


def pair(v: Any, name: str = "argument") -> tuple:
    """An int or a sequence of two ints, as (a, b)."""
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(x) for x in v)
    if len(t) == 1:
        return t * 2
    if len(t) != 2:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of 2 values "
                           f"to match the convolution dimensions, but got {name}={list(t)}")
    return t


def _batched(input: Tensor, want: int, name: str) -> tuple[Tensor, bool]:
    """Accept the unbatched form (one dim fewer) by adding a batch dim of 1."""
    if input.dim() == want - 1:
        return input.unsqueeze(0), True
    if input.dim() != want:
        raise RuntimeError(f"{name}: Expected {want - 1}D (unbatched) or {want}D (batched) input "
                           f"to {name}, but got input of size: {list(input.shape)}")
    return input, False


# -------------------------------------------------------------------------------- convolution

def _same_padding(weight_hw: Sequence[int], stride: tuple, dilation: tuple) -> tuple:
    if stride != (1, 1):
        raise ValueError("padding='same' is not supported for strided convolutions")
    pads = []
    for k, d in zip(weight_hw, dilation):
        total = d * (k - 1)
        if total % 2:
            raise ValueError("padding='same' with an asymmetric padding is not supported")
        pads.append(total // 2)
    return tuple(pads)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) (or (C, H, W)) with (O, C/groups, kh, kw), + bias."""
    x, unbatched = _batched(input, 4, "conv2d")
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string '{padding}', should be one of "
                             "['valid', 'same']")
        padding = (0, 0) if padding == "valid" else _same_padding(weight.shape[2:], stride,
                                                                  dilation)
    attrs = {"stride": stride, "padding": pair(padding, "padding"), "dilation": dilation,
             "groups": int(groups)}
    out = bind(_CONV2D, (x, weight), attrs)
    if bias is not None:
        out = out + bias.view(-1, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C, L) (or (C, L)): conv2d over a height of 1."""
    x, unbatched = _batched(input, 3, "conv1d")
    one = lambda v: int(v[0]) if isinstance(v, (tuple, list)) else v  # noqa: E731
    pad = one(padding)
    if not isinstance(pad, str):
        pad = (0, pad)
    out = conv2d(x.unsqueeze(2), weight.unsqueeze(2), None, (1, one(stride)), pad,
                 (1, one(dilation)), groups).squeeze(2)
    if bias is not None:
        out = out + bias.view(-1, 1)
    return out.squeeze(0) if unbatched else out


def _check_transposed_args(x: Tensor, weight: Tensor, bias: Tensor | None, attrs: dict,
                           output_padding: tuple) -> None:
    """PyTorch's argument checks (and messages) for a transposed convolution."""
    stride, padding, dilation, groups = (attrs[k] for k in ("stride", "padding", "dilation",
                                                              "groups"))
    if min(stride) < 1:
        raise RuntimeError("conv_transpose2d(): non-positive stride is not supported")
    if min(padding) < 0:
        raise RuntimeError("conv_transpose2d(): negative padding is not supported")
    if min(output_padding) < 0:
        raise RuntimeError("conv_transpose2d(): negative output_padding is not supported")
    if min(dilation) < 1:
        raise RuntimeError("conv_transpose2d(): dilation should be greater than zero, but got "
                           f"dilation_height: {dilation[0]}, dilation_width: {dilation[1]}")
    if groups < 1:
        raise RuntimeError("conv_transpose2d(): non-positive groups is not supported")
    w = list(weight.shape)
    if len(w) != 4:
        raise RuntimeError(f"conv_transpose2d(): expected weight to be 4-dimensional, but got "
                           f"weight of size {w}")
    if w[0] % groups:
        raise RuntimeError(f"conv_transpose2d(): Given groups={groups}, expected weight to be "
                           f"divisible by {groups} at dimension 0, but got weight of size [{w}] "
                           "instead")
    if x.shape[1] != w[0]:
        raise RuntimeError(f"conv_transpose2d(): Given transposed=1, weight of size {w}, expected "
                           f"input{list(x.shape)} to have {w[0]} channels, but got {x.shape[1]} "
                           "channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != w[1] * groups):
        raise RuntimeError(f"conv_transpose2d(): Given transposed=1, weight of size {w}, expected "
                           f"bias to be 1-dimensional with {w[1] * groups} elements, but got "
                           f"bias of size {list(bias.shape)} instead")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(
            "conv_transpose2d(): output padding must be smaller than either stride or dilation, "
            f"but got output_padding_height: {output_padding[0]} output_padding_width: "
            f"{output_padding[1]} stride_height: {stride[0]} stride_width: {stride[1]} "
            f"dilation_height: {dilation[0]} dilation_width: {dilation[1]}")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"conv_transpose2d(): Input type ({x.dtype.name}) and weight type "
                           f"({weight.dtype.name}) should be the same")


def transposed_out_size(size: int, k: int, s: int, p: int, d: int, op: int = 0) -> int:
    """Output length of a transposed convolution: (size - 1)*s - 2p + d(k - 1) + op + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


@functools.lru_cache(maxsize=32)
def _zero_row_matrix(n: int, extra: int, right: bool, dtype: Any, device: Any) -> Tensor:
    """The 0/1 matrix appending `extra` zero rows (or columns, `right`). Cached so that the
    tensor stays alive: the tracer recognizes captured constants by id()."""
    pad = np.eye(n + extra, n)
    return creation.tensor(pad.T.copy() if right else pad, dtype=dtype, device=device)


def _zero_rows(x: Tensor, dim: int, extra: int) -> Tensor:
    """Append `extra` zero rows along spatial `dim` (2 or 3) by a constant 0/1 matmul, which
    needs no batch size (it may be symbolic)."""
    pad = _zero_row_matrix(x.shape[dim], extra, dim == 3, x.dtype, x.device)
    return x.matmul(pad) if dim == 3 else pad.matmul(x)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-D transposed convolution of (N, C_in, H, W) (or (C_in, H, W)) with a weight of shape
    (C_in, C_out/groups, kh, kw), + bias: the adjoint of conv2d with respect to its input."""
    x, unbatched = _batched(input, 4, "conv_transpose2d")
    attrs = {"stride": pair(stride, "stride"), "padding": pair(padding, "padding"),
             "dilation": pair(dilation, "dilation"), "groups": int(groups)}
    out_pad = pair(output_padding, "output_padding")
    _check_transposed_args(x, weight, bias, attrs, out_pad)
    hw, khw = tuple(x.shape[2:]), tuple(weight.shape[2:])
    out_hw = tuple(transposed_out_size(hw[i], khw[i], attrs["stride"][i], attrs["padding"][i],
                                       attrs["dilation"][i], out_pad[i]) for i in range(2))
    if min(out_hw) < 1:
        raise RuntimeError(f"conv_transpose2d(): Given input size per channel: ({hw[0]} x "
                           f"{hw[1]}). Calculated output size per channel: ({out_hw[0]} x "
                           f"{out_hw[1]}). Output size is too small")
    # conv2d of an out_hw-sized input has hw + output_padding // stride outputs: an output
    # padding of at least the stride (allowed when below the dilation) reads extra zero inputs.
    for i in range(2):
        extra = out_pad[i] // attrs["stride"][i]
        if extra:
            x = _zero_rows(x, 2 + i, extra)
    out = bind(_CONV2D_T, (x, weight), {**attrs, "input_hw": out_hw})
    if bias is not None:
        out = out + bias.view(-1, 1, 1)
    return out.squeeze(0) if unbatched else out


# ------------------------------------------------------------------------------------ pooling

def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over each window; with return_indices, also the flat index of each max in H*W."""
    if ceil_mode:
        raise ValueError("max_pool2d(): ceil_mode=True is not supported")
    x, unbatched = _batched(input, 4, "max_pool2d")
    k = pair(kernel_size, "kernel_size")
    attrs = {"kernel_size": k, "stride": pair(stride if stride else k, "stride"),
             "padding": pair(padding, "padding"), "dilation": pair(dilation, "dilation")}
    values, indices = bind(_MAXPOOL, (x,), attrs)
    if unbatched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over each window: a depthwise conv2d with a constant kernel of ones."""
    if ceil_mode:
        raise ValueError("avg_pool2d(): ceil_mode=True is not supported")
    x, unbatched = _batched(input, 4, "avg_pool2d")
    k, p = pair(kernel_size, "kernel_size"), pair(padding, "padding")
    s = pair(stride if stride else k, "stride")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise RuntimeError("pad should be smaller than or equal to half of kernel size, but got "
                           f"padW = {p[1]}, padH = {p[0]}, kW = {k[1]}, kH = {k[0]}")
    c, h, w = x.shape[1:]
    # A depthwise conv (groups=C): no reshape of the batch dim, which may be symbolic.
    sums = conv2d(x, creation.ones((c, 1) + k, dtype=x.dtype, device=x.device), None, s, p,
                  groups=c)
    ones = creation.ones((1, 1) + k, dtype=x.dtype, device=x.device)
    if divisor_override:
        out = sums / float(divisor_override)
    elif count_include_pad or p == (0, 0):
        out = sums / float(k[0] * k[1])
    else:
        counts = conv2d(creation.ones((1, 1, h, w), dtype=x.dtype, device=x.device), ones,
                        None, s, p)
        out = sums / counts
    return out.squeeze(0) if unbatched else out


def _averaging_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Row i averages input positions floor(i*n/m) .. ceil((i+1)*n/m) - 1 (PyTorch's windows)."""
    a = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size: A_h @ x @ A_w^T with constant averaging rows."""
    x, unbatched = _batched(input, 4, "adaptive_avg_pool2d")
    h, w = x.shape[2:]
    sizes = (output_size, output_size) if isinstance(output_size, int) or output_size is None \
        else tuple(output_size)
    oh, ow = (h if sizes[0] is None else sizes[0]), (w if sizes[1] is None else sizes[1])
    ah = creation.tensor(_averaging_matrix(h, oh), dtype=x.dtype, device=x.device)
    aw = creation.tensor(_averaging_matrix(w, ow).T.copy(), dtype=x.dtype, device=x.device)
    out = ah.matmul(x).matmul(aw)
    return out.squeeze(0) if unbatched else out


# ----------------------------------------------------------------------------------- bilinear

def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None
             ) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]: one einsum."""
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and "
                           f"{input2.dim()}")
    if input1.dim() == 0:
        raise IndexError("bilinear(): Dimension specified as -1 but tensor has no dimensions")
    for i in range(input1.dim() - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{input1.shape[i]} and {input2.shape[i]}")
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear(): expected weight to be 3-dimensional, but got weight of "
                           f"size {list(weight.shape)}")
    for name, t, k in (("input1", input1, 1), ("input2", input2, 2)):
        if t.shape[-1] != weight.shape[k]:
            raise RuntimeError(f"bilinear(): {name} size does not match weight size: got "
                               f"{t.shape[-1]} but expected {weight.shape[k]}")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[-1] if bias.dim() else 1} but expected "
                           f"{weight.shape[0]}")
    if not input1.dtype == input2.dtype == weight.dtype:
        raise RuntimeError(f"bilinear(): All tensors must have the same dtype, got input1: "
                           f"{input1.dtype.name}, input2: {input2.dtype.name}, weight: "
                           f"{weight.dtype.name}")
    out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out + bias if bias is not None else out


# ------------------------------------------------------------------------------ normalization

def _normalize(x: Tensor, dims: tuple, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mean) / sqrt(var + eps) over `dims`, with the biased variance; also (mean, var)."""
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, unbiased=False, keepdim=True)
    return (x - mean) / (var + eps).sqrt(), mean, var


def _check_normalized_shape(input: Tensor, normalized_shape: Any, star: str = "*, ") -> tuple:
    """normalized_shape as a tuple, checked against the input's trailing dims with PyTorch's
    messages (rms_norm's writes `[*2, 4]` where layer_norm's writes `[*, 2, 4]`)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    if tuple(input.shape[input.dim() - len(shape):]) != shape or input.dim() < len(shape):
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[{star}{', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    return shape


def _over_trailing(op: str, input: Tensor, shape: tuple, eps: float) -> Tensor:
    """A last-dim row op (layer_norm, rms_norm: one row loop on the CPU) over the trailing dims
    `shape`: several dims are flattened into one row and the result viewed back."""
    if len(shape) == 1:
        return bind(get(op), (input,), {"eps": float(eps)})
    rows = input.flatten(input.dim() - len(shape))
    return bind(get(op), (rows,), {"eps": float(eps)}).reshape(input.shape)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the last len(normalized_shape) dims, then scale and shift elementwise."""
    y = _over_trailing("layer_norm", input, _check_normalized_shape(input, normalized_shape), eps)
    if weight is not None:
        y = y * weight
    return y + bias if bias is not None else y


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x**2) + eps) over the last len(normalized_shape) dims, times weight;
    eps=None is the input dtype's machine epsilon, as in PyTorch."""
    shape = _check_normalized_shape(input, normalized_shape, star="*")
    if eps is None:  # (an integer input is refused by the op, with PyTorch's message)
        eps = float(np.finfo(input.dtype.np).eps) if input.dtype.is_floating_point else 0.0
    y = _over_trailing("rms_norm", input, shape, eps)
    return y * weight if weight is not None else y


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    """A per-channel (C,) tensor shaped to broadcast against (N, C, *)."""
    return t.view((-1,) + (1,) * (ndim - 2))


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Per-channel normalization of (N, C, *): batch statistics while training (updating the
    running ones in place with `momentum`, the variance unbiased), running statistics otherwise."""
    dims = (0,) + tuple(range(2, input.dim()))
    if training:
        count = input.numel() // input.shape[1]
        if count <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size torch.Size({list(input.shape)})")
        y, mean, var = _normalize(input, dims, eps)
        with no_grad():
            if running_mean is not None:
                new = mean.detach().reshape(-1) * momentum + running_mean * (1.0 - momentum)
                running_mean.copy_(new)
            if running_var is not None:
                unbiased = var.detach().reshape(-1) * (count / (count - 1))
                running_var.copy_(unbiased * momentum + running_var * (1.0 - momentum))
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        y = ((input - _channel_view(running_mean, input.dim()))
             / (_channel_view(running_var, input.dim()) + eps).sqrt())
    if weight is not None:
        y = y * _channel_view(weight, input.dim())
    return y + _channel_view(bias, input.dim()) if bias is not None else y


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each sample over groups of C/num_groups channels, then a per-channel affine."""
    c = input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and num_groups="
                           f"{num_groups}")
    rest = math.prod(input.shape[2:]) if input.dim() > 2 else 1
    grouped = input.reshape(input.shape[0], num_groups, (c // num_groups) * rest)
    y, _, _ = _normalize(grouped, (-1,), eps)
    y = y.reshape_as(input)
    if weight is not None:
        y = y * _channel_view(weight, input.dim())
    return y + _channel_view(bias, input.dim()) if bias is not None else y


# ---------------------------------------------------------------------------------- embedding

def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` at the indices `input`; rows at `padding_idx` receive no gradient."""
    if max_norm is not None or sparse:
        raise ValueError("embedding(): max_norm and sparse are not supported")
    if input.dtype.name not in ("int64", "int32"):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the "
                           "following scalar types: Long, Int; but got "
                           f"{input.type()} instead (while checking arguments for embedding)")
    if padding_idx is not None:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    # one op: the padding row's value is read, its gradient cut (as PyTorch does)
    return bind(_EMBEDDING, (weight, input), {"padding_idx": padding_idx,
                                               "scale_grad_by_freq": bool(scale_grad_by_freq)})
