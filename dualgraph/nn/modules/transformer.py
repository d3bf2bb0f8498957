"""`nn.MultiheadAttention` and `nn.TransformerEncoderLayer`, as compositions of registry ops.

Attention follows PyTorch's documented math: packed in-projection, scaled dot products per head,
boolean masks meaning "may not attend" (-inf) and float masks added, softmax, dropout on the
weights (training only), out-projection. Parameter names and initialization are PyTorch's.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ... import creation
from ...ir.types import bool_
from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter
from .dropout import Dropout
from .linear import Linear, NonDynamicallyQuantizableLinear
from .normalization import LayerNorm

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "NonDynamicallyQuantizableLinear"]


def _additive(mask: Any, dtype: Any) -> Any:
    """A boolean mask (True = may not attend) as 0 / -inf; a float mask as given."""
    if mask is None or mask.dtype != bool_:
        return mask if mask is None else mask.to(dtype)
    return creation.zeros(tuple(mask.shape), dtype=dtype, device=mask.device).masked_fill(
        mask, float("-inf"))


class MultiheadAttention(Module):
    """Attention over `num_heads` heads of size embed_dim // num_heads (same-size q, k, v)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: Any = None,
                 vdim: Any = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if add_bias_kv or add_zero_attn:
            raise ValueError("add_bias_kv and add_zero_attn are not supported by dualgraph's "
                             "MultiheadAttention; leave them False")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        kw = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:  # separate projections when keys / values have their own sizes
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                               "the Transformer module method `generate_square_subsequent_mask`"
                               " to create this mask.")
        batched = query.dim() == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        out, weights = self._attend(query, key, value, key_padding_mask, attn_mask)
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        if not need_weights:
            weights = None
        elif average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out = out.squeeze(1)
            weights = None if weights is None else weights.squeeze(0)
        return out, weights

    def _project(self, query: Any, key: Any, value: Any) -> tuple:
        w, b = self.in_proj_weight, self.in_proj_bias
        # slices, not chunk(): chunk's outputs cannot be viewed again yet (eager.py ViewInfo)
        e = self.embed_dim
        if not self._qkv_same_embed_dim:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        elif query is key and key is value:
            qkv = F.linear(query, w, b)
            return tuple(qkv[..., i * e:(i + 1) * e] for i in range(3))
        else:
            ws = tuple(w[i * e:(i + 1) * e] for i in range(3))
        bs = (None,) * 3 if b is None else tuple(b[i * e:(i + 1) * e] for i in range(3))
        return tuple(F.linear(x, wi, bi) for x, wi, bi in zip((query, key, value), ws, bs))

    def _heads(self, x: Any, batch: Any) -> Any:
        """(T, N, E) -> (N, heads, T, head_dim); heads stay a separate dim so that a symbolic
        batch size never has to be multiplied (traced graphs with a dynamic batch)."""
        return x.reshape(x.shape[0], batch, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def _attend(self, query: Any, key: Any, value: Any, key_padding_mask: Any,
                attn_mask: Any) -> tuple:
        """Inputs (L|S, N, E): returns (L, N, E) and the weights (N, heads, L, S)."""
        tgt_len, batch, embed = query.shape
        src_len = key.shape[0]
        q, k, v = self._project(query, key, value)
        q, k, v = self._heads(q, batch), self._heads(k, batch), self._heads(v, batch)
        scores = (q * (1.0 / math.sqrt(self.head_dim))).matmul(k.transpose(-2, -1))
        mask = self._merged_mask(attn_mask, key_padding_mask, batch, tgt_len, src_len, q.dtype)
        if mask is not None:
            scores = scores + mask
        attn = scores.softmax(-1)
        if self.training and self.dropout > 0.0:
            attn = F.dropout(attn, self.dropout, True)
        out = attn.matmul(v).permute(2, 0, 1, 3).reshape(tgt_len, batch, embed)
        return self.out_proj(out), attn

    def _merged_mask(self, attn_mask: Any, key_padding_mask: Any, batch: Any, tgt_len: Any,
                     src_len: Any, dtype: Any) -> Any:
        """attn_mask (L, S) or (N*heads, L, S) plus key_padding_mask (N, S), additive and
        broadcastable to the scores' (N, heads, L, S)."""
        mask = _additive(attn_mask, dtype)
        if mask is not None and mask.dim() == 3:
            mask = mask.reshape(batch, self.num_heads, tgt_len, src_len)
        pad = _additive(key_padding_mask, dtype)
        if pad is not None:
            pad = pad.reshape(batch, 1, 1, src_len)
            mask = pad if mask is None else mask + pad
        return mask


def _activation(activation: Any) -> Callable:
    """PyTorch's legacy names "relu" / "gelu", or any callable as given."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _relu_or_gelu(activation: Callable) -> int:
    """PyTorch's `activation_relu_or_gelu` flag: 1 for relu, 2 for gelu, 0 otherwise."""
    from .activation import GELU, ReLU
    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    if activation is F.gelu or isinstance(activation, GELU):
        return 2
    return 0


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, residual and LayerNorm
    (post-norm by default, pre-norm with norm_first=True)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Any = F.relu, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(self.activation)

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Any:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Any, mask: Any, key_padding_mask: Any, is_causal: bool) -> Any:
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=key_padding_mask,
                             need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(out)

    def _ff_block(self, x: Any) -> Any:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))
