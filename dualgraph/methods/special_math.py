"""Tensor methods and `dualgraph.*` functions of the special-function family (ops in
`ir/ops/special_math.py`): `erf`, `erfc`, `deg2rad`, `rad2deg`, `sinc`, `logit`, `xlogy`,
`ldexp`, `gcd`, `lcm`, each with its `_` in-place method (the namespace's in-place forms come from those
methods: `methods/inplace.py`)."""

from __future__ import annotations

from typing import Any

from ..dispatch import bind, bind_inplace
from ..ir import get
from .math import _binary_fns, _is_tensor, _need_tensor, _out, _unary_fns

LOGIT, XLOGY, LDEXP = get("logit"), get("xlogy"), get("ldexp")
_BINARY = ("gcd", "lcm")  # both arguments tensors, as PyTorch's binding requires
_UNARY = ("erf", "erfc", "deg2rad", "rad2deg", "sinc")


def _eps(eps: Any) -> dict:
    if eps is None:
        return {}
    if not isinstance(eps, (int, float)) or isinstance(eps, bool):
        raise TypeError(f"logit(): argument 'eps' must be float, not {type(eps).__name__}")
    return {"eps": float(eps)}


def logit(input: Any, eps: float | None = None, *, out: Any = None) -> Any:
    """log(p / (1 - p)); with `eps`, p is first clamped to [eps, 1 - eps]."""
    _need_tensor("logit", input, 1, "input")
    return _out("logit", bind(LOGIT, (input,), _eps(eps)), out, (input,))


def xlogy(input: Any, other: Any, *, out: Any = None) -> Any:
    """input * log(other), 0 where input is 0; either may be a Python number."""
    if not (_is_tensor(input) or _is_tensor(other)):
        raise TypeError("xlogy(): expected at least one Tensor argument")
    return _out("xlogy", bind(XLOGY, (input, other)), out, (input, other))


def ldexp(input: Any, other: Any, *, out: Any = None) -> Any:
    """input * 2 ** other."""
    _need_tensor("ldexp", input, 1, "input")
    _need_tensor("ldexp", other, 2, "other")
    return _out("ldexp", bind(LDEXP, (input, other)), out, (input, other))


class Methods:
    """Methods of the special-function family (the unary ones are added below)."""

    __slots__ = ()

    def logit(self, eps: float | None = None) -> Any:
        return bind(LOGIT, (self,), _eps(eps))

    def logit_(self, eps: float | None = None) -> Any:
        return bind_inplace(LOGIT, (self,), _eps(eps))

    def xlogy(self, other: Any) -> Any:
        return bind(XLOGY, (self, other))

    def xlogy_(self, other: Any) -> Any:
        return bind_inplace(XLOGY, (self, other))

    def ldexp(self, other: Any) -> Any:
        _need_tensor("ldexp", other, 1, "other")
        return bind(LDEXP, (self, other))

    def ldexp_(self, other: Any) -> Any:
        _need_tensor("ldexp_", other, 1, "other")
        return bind_inplace(LDEXP, (self, other))


__all__ = ["logit", "xlogy", "ldexp"]
for _name in _UNARY + _BINARY:
    if _name in _UNARY:
        _fn, _, _method, _method_ = _unary_fns(_name, _name)
    else:  # both arguments tensors, as PyTorch's binding requires
        _fn, _method, _method_ = _binary_fns(_name, _name, scalar_ok=False)
    globals()[_name] = _fn
    setattr(Methods, _name, _method)
    setattr(Methods, _name + "_", _method_)
    __all__.append(_name)
