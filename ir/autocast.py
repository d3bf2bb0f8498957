"""Autocast's op lists: which registry ops run in the lower-precision dtype inside an autocast
region, which run in float32, and which cast their floating inputs to the widest among them.

Plain data keyed by device type and op name, read by one interpreter (dualgraph/amp/); no op
records a policy of its own. The lists follow PyTorch's "autocast op reference" (CPU: "Ops that
can autocast to bfloat16" / "to float32"; CUDA: "to float16" / "to float32" / "promote to the
widest input type"), mapped onto dualgraph's primitives: PyTorch's `mm`, `bmm`, `linear`
(no bias) and `linalg_vecdot` are `matmul` here, `linear` with a bias and `baddbmm` are
`addmm`, `conv1d`/`conv2d` are `conv2d`, `conv_transpose*` is `conv2d_input_grad`. `einsum` is
listed with the lower-precision ops because PyTorch's einsum runs `bmm`, which autocasts.
Functions that dualgraph composes of several primitives (`cross_entropy`, `prelu`, `cdist`)
take the policy of the primitives they are made of.
"""

from __future__ import annotations

LOWER = "lower_precision"  # floating inputs (not float64) cast to the region's dtype
FP32 = "float32"  # floating inputs of lower precision cast to float32
PROMOTE = "promote"  # floating inputs cast to the widest floating dtype among them

_MATMULS = ("matmul", "addmm", "conv2d", "conv2d_input_grad", "einsum")

POLICIES: dict = {
    "cpu": {
        **{name: LOWER for name in _MATMULS},
        **{name: FP32 for name in ("prod", "trace", "linalg_inv", "linalg_solve",
                                   "linalg_svd", "mse_loss", "nll_loss")},
        **{name: PROMOTE for name in ("stack", "cat", "index_copy")},
    },
    "cuda": {
        **{name: LOWER for name in _MATMULS},
        **{name: FP32 for name in (
            "acos", "asin", "cosh", "exp", "expm1", "log", "log10", "log2", "log1p",
            "reciprocal", "rsqrt", "sinh", "tan", "pow", "softplus", "layer_norm",
            "linalg_vector_norm", "dist", "cumsum", "cumprod", "prod", "sum", "softmax",
            "log_softmax", "logsumexp", "mse_loss", "nll_loss")},
        **{name: PROMOTE for name in ("addcdiv", "addcmul", "atan2", "linalg_cross", "vdot",
                                      "index_put", "scatter_add")},
    },
}

# What `autocast(device_type)` uses when no dtype is given, and the dtypes each accepts.
DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}
SUPPORTED_DTYPES = {"cpu": ("bfloat16", "float16"), "cuda": ("bfloat16", "float16")}
