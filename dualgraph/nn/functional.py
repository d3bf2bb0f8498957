"""`dg.nn.functional`: activations, dropout, linear and the losses, as functions.

Activations beyond relu/sigmoid/tanh are ops of `ir/ops/activations.py`; everything else is a
composition of registry ops (log_softmax, gather, where, ...), so autograd and tracing need
nothing special. Loss formulas are PyTorch's documented ones.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .. import creation, ops
from ..dispatch import bind
from ..ir import get
from ..methods.math import addmm, where
from ..tensor import Tensor

__all__ = ["relu", "relu_", "gelu", "silu", "softplus", "leaky_relu", "elu", "logsigmoid",
           "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "linear", "flatten",
           "mse_loss", "l1_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "one_hot",
           "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
           "layer_norm", "rms_norm", "group_norm", "embedding", "conv_transpose2d", "bilinear", "pad",
           "interpolate", "normalize", "cosine_similarity", "scaled_dot_product_attention"]

_GELU, _SILU, _SOFTPLUS = get("gelu"), get("silu"), get("softplus")
_LEAKY, _ELU, _LOGSIG = get("leaky_relu"), get("elu"), get("log_sigmoid")
_BCE, _BCE_WITH_LOGITS = get("binary_cross_entropy"), get("binary_cross_entropy_with_logits")
_NLL_LOSS = get("nll_loss")
_MSE_LOSS = get("mse_loss")
_UNSAFE_VIEW = get("unsafe_view")
_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------------- activations

def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return input.relu_() if inplace else input.relu()


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (exact, with erf) or its tanh approximation."""
    return bind(_GELU, (input,), {"approximate": approximate})


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(bind(_SILU, (input,), {}), input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    return bind(_SOFTPLUS, (input,), {"beta": float(beta), "threshold": float(threshold)})


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    out = bind(_LEAKY, (input,), {"negative_slope": float(negative_slope)})
    return _maybe_inplace(out, input, inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(bind(_ELU, (input,), {"alpha": float(alpha)}), input, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    return bind(_LOGSIG, (input,), {})


def _maybe_inplace(out: Tensor, input: Tensor, inplace: bool) -> Tensor:
    """In-place activation forms: the result is copied back into `input` (tracked by autograd)."""
    return input.copy_(out) if inplace else out


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def _softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmax", input.dim())
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim())
    return input.log_softmax(dim, dtype=dtype)


# ------------------------------------------------------------------------- dropout, linear, ...

def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        keep = creation.full_like(input, 1.0 - p).bernoulli()
        out = input * keep * (1.0 / (1.0 - p))
    return input.copy_(out) if inplace else out


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias, recorded as PyTorch's aten::linear records it for a contiguous
    input (so `grad_fn` chains match): one addmm for a matrix; with a bias and another rank, the
    leading dims flattened into rows, one addmm and a view back; without a bias, mm (a matrix)
    or, from 3-D, mm of the flattened rows and `_unsafe_view` back (PyTorch's matmul folding)."""
    if input.dim() == 0 or weight.dim() == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.dim()}D and {weight.dim()}D")
    w_t = weight.t()
    if bias is not None and weight.dim() == 2:
        if input.dim() == 2:
            return addmm(bias, input, w_t)
        if input.dim() == 3 or bias.dim() == 1:
            lead = tuple(input.shape[:-1])
            rows = input.reshape(math.prod(lead), input.shape[-1])
            out = addmm(bias, rows, w_t)
            return out.view(*lead, out.shape[1])
    if bias is None and input.dim() >= 3 and weight.dim() == 2:
        lead = tuple(input.shape[:-1])
        out = ops.matmul(input.reshape(math.prod(lead), input.shape[-1]), w_t)
        return bind(_UNSAFE_VIEW, (out,), {"shape": lead + (out.shape[1],)})
    out = ops.matmul(input, w_t)
    return out if bias is None else out + bias


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return input.flatten(start_dim, end_dim)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor with a trailing dim of size num_classes, 1 at each index."""
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1 if tensor.numel() else 0
    if tensor.numel() and (int(tensor.min().item()) < 0 or
                           int(tensor.max().item()) >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes." if
                           int(tensor.min().item()) >= 0 else "Class values must be non-negative.")
    classes = creation.arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


# ----------------------------------------------------------------------------------- reductions

def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _same_size(name: str, input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)


def mse_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """(x - y)^2, reduced."""
    _same_size("mse_loss", input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is None:  # one op: PyTorch's MseLossBackward0
        return bind(_MSE_LOSS, (input, target), {"reduction": reduction})
    return _reduce((input - target) ** 2 * weight, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """|x - y|, reduced."""
    _same_size("l1_loss", input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, _legacy_reduction(size_average, reduce, reduction))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (plain L1 when beta is 0)."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _same_size("smooth_l1_loss", input, target)
    d = (input - target).abs()
    if beta == 0.0:
        loss = d
    else:
        loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, _legacy_reduction(size_average, reduce, reduction))


# ------------------------------------------------------------------------ classification losses

def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _class_weight_view(weight: Tensor, ndim: int) -> Tensor:
    """weight (C,) shaped to broadcast along dim 1 of an (N, C, d1, ...) tensor."""
    return weight.reshape([1, -1] + [1] * (ndim - 2)) if ndim >= 2 else weight


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
             reduction: str = "mean") -> Tensor:
    """-w[y_i] * input[i, y_i]; 'mean' divides by the total weight of the non-ignored targets."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    if target.dim() != input.dim() - 1 or target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.dim() else 0}).")
    if weight is None:
        weight = creation.ones(input.shape[1], dtype=input.dtype, device=input.device)
    # one op (its kernel checks the class indices at call time, so the loss traces and scripts)
    loss = bind(_NLL_LOSS, (input, target, weight),
                {"reduction": reduction, "ignore_index": ignore_index})
    return loss.squeeze(0) if unbatched and reduction == "none" else loss


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim (1, or 0 unbatched), then NLL against class indices or
    cross-entropy against class probabilities; label smoothing mixes in a uniform target."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    logp = input.log_softmax(class_dim)
    n_classes = input.shape[class_dim]
    if target.is_floating_point():
        return _soft_cross_entropy(logp, target, weight, reduction, label_smoothing, class_dim)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return nll
    ignored = target == ignore_index
    wlogp = logp if weight is None else logp * _class_weight_view(weight, logp.dim())
    smooth = -wlogp.sum(class_dim)
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "mean":
        if weight is None:
            denom = (~ignored).sum()
        else:
            denom = weight.index_select(0, target.masked_select(~ignored).flatten()).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _soft_cross_entropy(logp: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                        label_smoothing: float, class_dim: int) -> Tensor:
    if tuple(target.shape) != tuple(logp.shape):
        raise RuntimeError("cross_entropy(): expected target of the input's shape "
                           f"{list(logp.shape)} for class probabilities, got "
                           f"{list(target.shape)}")
    n_classes = logp.shape[class_dim]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
    terms = logp * target
    if weight is not None:
        terms = terms * _class_weight_view(weight, logp.dim())
    loss = -terms.sum(class_dim)
    if reduction == "mean":
        return loss.sum() / max(loss.numel(), 1) if loss.dim() else loss
    return _reduce(loss, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-w (y log x + (1 - y) log(1 - x)), each log clamped at -100 as PyTorch does: one op
    (BinaryCrossEntropyBackward0) whose kernel refuses probabilities outside [0, 1] at call
    time, so the loss traces and scripts."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    return bind(_BCE, (input, target, 1.0 if weight is None else weight),
                {"reduction": reduction})


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(x), as PyTorch computes it: (1 - y) x - (1 + (p - 1) y) log_sigmoid(x), so
    that no exp overflows, no log sees 0, and the gradient at x = 0 is sigmoid(0) - y; one op
    (BinaryCrossEntropyWithLogitsBackward0)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    return bind(_BCE_WITH_LOGITS, (input, target, 1.0 if weight is None else weight,
                                   1.0 if pos_weight is None else pos_weight),
                {"reduction": reduction})


def kl_div(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target (log target - input), 0 where target is 0; input holds log-probabilities."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        safe = where(target > 0, target, 1.0)
        loss = target * (safe.log() - input)  # 0 where the target is 0 (x log x -> 0)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.dim() else 1)
    return _reduce(loss, reduction)


# Convolutions, pooling, normalization and embedding live in their own module.
from .functional_layers import (adaptive_avg_pool2d, avg_pool2d, batch_norm,  # noqa: E402
                                bilinear, conv1d, conv2d, conv_transpose2d, embedding,
                                group_norm, layer_norm, max_pool2d, rms_norm)
from .functional_pad import interpolate, pad  # noqa: E402
from .functional_attention import (cosine_similarity, normalize,  # noqa: E402
                                   scaled_dot_product_attention)
