"""`F.normalize`, `F.cosine_similarity` and `F.scaled_dot_product_attention`, composed of
registry ops with PyTorch's documented formulas (so every mode and its gradients work)."""

from __future__ import annotations

import math
from typing import Any

from .. import creation
from ..ir.meta import broadcast_shapes
from ..ir.ops.math import _C_NAME
from ..ir.types import bool_, float32, float64
from ..methods.math import where
from ..tensor import Tensor

__all__ = ["normalize", "cosine_similarity", "scaled_dot_product_attention"]


def _floating(name: str, x: Tensor) -> None:
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_type(x)}")


def _type(x: Tensor) -> str:
    from ..ir.ops.math import _TYPE_NAME
    return _TYPE_NAME.get(x.dtype.name, x.dtype.name)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p along dim, eps): unit vectors along `dim` (zero stays zero)."""
    _floating("linalg.vector_norm", input)
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    result = input / denom
    if out is not None:
        return out.copy_(result)
    return result


def _clamped(norm: Tensor, eps: float) -> Tensor:
    """max(norm, eps) in value, with the gradient of `norm` itself: PyTorch clamps the norms
    in place under no_grad, so autograd sees the unclamped norm."""
    return norm + (norm.clamp_min(eps) - norm).detach()


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1/max(||x1||, eps) * x2/max(||x2||, eps)) along `dim`, after broadcasting."""
    shape = broadcast_shapes("cosine_similarity", tuple(x1.shape), tuple(x2.shape))
    a, b = x1.expand(*shape), x2.expand(*shape)
    if not a.dtype.is_floating_point:
        a = a.float()
    if not b.dtype.is_floating_point:
        b = b.float()
    n1 = _clamped(a.norm(2, dim, keepdim=True), eps)
    n2 = _clamped(b.norm(2, dim, keepdim=True), eps)
    return ((a / n1) * (b / n2)).sum(dim)


def _check_sdpa(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any, dropout_p: float,
                is_causal: bool) -> None:
    if min(query.dim(), key.dim(), value.dim()) < 2:
        raise RuntimeError("Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {query.dim()} key.dim: {key.dim()} and "
                           f"value.dim: {value.dim()} instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {_C_NAME[query.dtype.name]} key.dtype: "
                           f"{_C_NAME[key.dtype.name]} and value.dtype: "
                           f"{_C_NAME[value.dtype.name]} instead.")
    if not query.dtype.is_floating_point:
        raise RuntimeError(f"expected scalar type Float but found {_type(query)}")
    if attn_mask is not None and attn_mask.dtype not in (bool_, float32, query.dtype):
        raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: {_C_NAME[attn_mask.dtype.name]} "
                           f"and  query.dtype: {_C_NAME[query.dtype.name]} instead.")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")


def _gqa(query: Tensor, kv: Tensor, what: str) -> Tensor:
    """Repeat each key / value head query_heads // kv_heads times (repeat_interleave on -3)."""
    hq, hk = query.shape[-3], kv.shape[-3]
    if hq % hk:
        raise RuntimeError(f"Number of heads in {what} must divide the number of heads in query")
    r = hq // hk
    if r == 1:
        return kv
    shape = tuple(kv.shape)
    wide = kv.unsqueeze(-3).expand(*shape[:-2], r, *shape[-2:])
    return wide.reshape(*shape[:-3], hq, *shape[-2:])


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + bias) V with PyTorch's reference semantics: a bool mask is True
    where attention is allowed, a float mask is added, is_causal keeps the lower triangle, and
    dropout (probability dropout_p) always applies; a query row that may attend to nothing
    gives zeros, as PyTorch's CPU kernel does."""
    _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal)
    L, S = query.shape[-2], key.shape[-2]
    if scale is not None:
        scale_factor = float(scale)
    elif isinstance(query.shape[-1], int):
        scale_factor = 1.0 / math.sqrt(query.shape[-1])
    else:  # a symbolic head size: 1/sqrt(E) computed by the graph (in float64, as PyTorch)
        scale_factor = (query.shape[-1] * 1.0).to(float64).rsqrt().to(query.dtype)
    if enable_gqa and query.dim() >= 3:
        key, value = _gqa(query, key, "key and value"), _gqa(query, value, "key and value")
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    allowed = None  # bool, broadcastable to scores: where a query may attend
    if is_causal:
        allowed = creation.ones(L, S, dtype=bool_, device=query.device).tril(0)
    elif attn_mask is not None and attn_mask.dtype == bool_:
        allowed = attn_mask
    elif attn_mask is not None:
        scores = scores + attn_mask
        allowed = attn_mask != float("-inf")
    if allowed is not None:
        if attn_mask is None or attn_mask.dtype == bool_:
            scores = scores.masked_fill(allowed.logical_not(), float("-inf"))
        dead = allowed.logical_not().all(-1, keepdim=True)  # rows that attend to nothing
        scores = where(dead, 0.0, scores)
        weights = scores.softmax(-1)
        weights = where(dead, 0.0, weights)
    else:
        weights = scores.softmax(-1)
    if dropout_p > 0.0:
        from .functional import dropout
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)
