"""In-place forms the other families lack.

- Shape methods that make a tensor its own view: `unsqueeze_`, `squeeze_`, `t_`, `transpose_`
  (and `swapdims_`, `swapaxes_`). Each is `bind_inplace` of the view op, the funnel every
  in-place op goes through: the eager runtime and the tracer treat an in-place *view* op as
  "this tensor becomes the view" (same storage, new shape, version bumped, history rewired),
  so no op needs code of its own here.
- PyTorch's in-place functions on its namespace (`torch.sin_(x)` is `x.sin_()`): `namespace`
  makes each of `TORCH_INPLACE` that dualgraph lacks from the Tensor method of that name.
"""

from __future__ import annotations

from typing import Any, Callable

from ..dispatch import bind_inplace
from ..ir import get

UNSQUEEZE, SQUEEZE, TRANSPOSE = get("unsqueeze"), get("squeeze"), get("transpose")

# dir(torch) of PyTorch 2.13: its public in-place functions (a name ending in one underscore).
TORCH_INPLACE = (
    "abs_", "acos_", "acosh_", "addmv_", "alpha_dropout_", "arccos_", "arccosh_", "arcsin_",
    "arcsinh_", "arctan_", "arctanh_", "as_strided_", "asin_", "asinh_", "atan_", "atanh_",
    "ceil_", "celu_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "conj_physical_", "cos_",
    "cosh_", "deg2rad_", "detach_", "dropout_", "embedding_renorm_", "erf_", "erfc_", "exp2_",
    "exp_", "expm1_", "feature_alpha_dropout_", "feature_dropout_", "fill_", "fix_", "floor_",
    "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_",
    "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_",
    "resize_as_", "resize_as_sparse_", "round_", "rrelu_", "rsqrt_", "selu_", "sigmoid_", "sin_",
    "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "threshold_", "trunc_", "xlogy_",
    "zero_")


class Methods:
    __slots__ = ()

    def unsqueeze_(self, dim: int) -> Any:
        """Insert a size-1 dim into this tensor itself."""
        return bind_inplace(UNSQUEEZE, (self,), {"dim": dim})

    def squeeze_(self, dim: Any = None) -> Any:
        """Remove size-1 dims (all, one, or a tuple of them) from this tensor itself."""
        if dim is None:
            return bind_inplace(SQUEEZE, (self,), {})
        return bind_inplace(SQUEEZE, (self,), {"dim": tuple(dim) if isinstance(dim, list)
                                               else dim})

    def transpose_(self, dim0: int, dim1: int) -> Any:
        """Swap two dims of this tensor itself."""
        return bind_inplace(TRANSPOSE, (self,), {"dim0": dim0, "dim1": dim1})

    swapdims_ = swapaxes_ = transpose_

    def t_(self) -> Any:
        """Transpose this (at most 2-d) tensor itself."""
        n = self.dim()
        if n > 2:
            raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {n}D")
        return bind_inplace(TRANSPOSE, (self,), {"dim0": 0, "dim1": 1}) if n == 2 else self

    def negative_(self) -> Any:
        """PyTorch's other name of `neg_`."""
        return self.neg_()


def _from_method(name: str) -> Callable:
    def fn(input: Any = None, *args: Any, **kwargs: Any) -> Any:
        if input is None:
            raise TypeError(f"{name}() missing required argument 'input' (pos 1)")
        if not (hasattr(input, "_data") and hasattr(input, "_dtype")):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"`dg.{name}(x, ...)` is `x.{name}(...)`: in place, as PyTorch's torch.{name}."
    return fn


def namespace(tensor_type: type, existing: dict) -> dict:
    """{name: function} for each of PyTorch's namespace in-place functions that `existing` (the
    namespace so far) lacks and `tensor_type` has as a method."""
    return {name: _from_method(name) for name in TORCH_INPLACE
            if name not in existing and hasattr(tensor_type, name)}


def missing(namespace_dict: dict) -> list:
    """PyTorch's namespace in-place functions dualgraph still has no op for."""
    return [name for name in TORCH_INPLACE if name not in namespace_dict]
