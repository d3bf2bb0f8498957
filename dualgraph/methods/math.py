"""Tensor methods and `dualgraph.*` functions of the math family (ops in `ir/ops/math.py`):
unary math (`rsqrt`, `log1p`, `asin`, ... and PyTorch's `arcsin`-style aliases), rounding,
`fmod`/`remainder` (`%`), `floor_divide` (`//`), `clamp`/`clip`, `maximum`/`fmax`, `where`,
logical and bitwise ops (`&`, `|`, `^`, `~`), NaN tests, `nan_to_num`, `lerp`, `addmm`,
`addcmul`, `addcdiv`, `hypot`, `copysign`.

Each function is one `bind` (`bind_inplace` for the `_` forms). Argument checks that PyTorch
makes in its Python binding (a Tensor where it wants one, clamp's bounds) are made here.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from ..dispatch import bind, bind_inplace
from ..ir import get

DIV, CLAMP, CLAMP_TENSOR = get("div"), get("clamp"), get("clamp_tensor")
CLAMP_MIN, CLAMP_MAX, WHERE = get("clamp_min"), get("clamp_max"), get("where")
ROUND, NAN_TO_NUM, LERP, ADDMM = get("round"), get("nan_to_num"), get("lerp"), get("addmm")
ADDCMUL, ADDCDIV = get("addcmul"), get("addcdiv")
BITWISE_AND, BITWISE_OR = get("bitwise_and"), get("bitwise_or")
BITWISE_XOR, BITWISE_NOT = get("bitwise_xor"), get("bitwise_not")
REMAINDER = get("remainder")
_FLOOR = {"rounding_mode": "floor"}

# Unary ops with an in-place form, and PyTorch's other names for them.
_UNARY = ("square", "rsqrt", "log1p", "expm1", "log2", "log10", "exp2", "tan", "asin", "acos",
          "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "ceil", "floor", "trunc", "frac",
          "logical_not", "bitwise_not")
_ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
            "arccosh": "acosh", "arctanh": "atanh", "fix": "trunc"}
_TESTS = ("isnan", "isinf", "isfinite", "isposinf", "isneginf")  # no in-place forms
# Binary ops: (other may be a Python number, has an in-place form).
_BINARY = {"fmod": (True, True), "remainder": (True, True), "copysign": (True, True),
           "atan2": (False, True), "hypot": (False, True), "logical_and": (False, True),
           "logical_or": (False, True), "logical_xor": (False, True),
           "bitwise_and": (True, True), "bitwise_or": (True, True), "bitwise_xor": (True, True),
           "maximum": (False, False), "minimum": (False, False), "fmax": (False, False),
           "fmin": (False, False)}


def _is_tensor(x: Any) -> bool:
    return hasattr(x, "_dtype") and hasattr(x, "_data")


def _out(name: str, result: Any, out: Any, inputs: tuple) -> Any:
    if out is None:
        return result
    from ..ops import _out as write_into
    return write_into(name, result, out, inputs)


def _type_name(x: Any) -> str:
    return "Tensor" if _is_tensor(x) else type(x).__name__


def _need_tensor(name: str, x: Any, position: int, arg: str) -> None:
    """PyTorch's binding error for a number (or anything else) where a Tensor is required."""
    if not _is_tensor(x):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                        f"{_type_name(x)}")


def _number(name: str, x: Any) -> Any:
    """A Python number from a number-like argument (NumPy scalars included)."""
    if isinstance(x, np.generic):
        x = x.item()
    if not isinstance(x, (bool, int, float)):
        raise TypeError(f"{name}(): expected a number, got {type(x).__name__}")
    return x


# ------------------------------------------------------------------------------------- makers

def _unary_fns(name: str, op_name: str) -> tuple:
    op = get(op_name)

    def fn(input: Any, *, out: Any = None) -> Any:
        return _out(name, bind(op, (input,)), out, (input,))

    def fn_(input: Any) -> Any:
        return bind_inplace(op, (input,))

    def method(self: Any) -> Any:
        return bind(op, (self,))

    def method_(self: Any) -> Any:
        return bind_inplace(op, (self,))

    doc = f"Elementwise `{op_name}` (PyTorch's `torch.{name}`)."
    return tuple(_named(f, n, doc) for f, n in ((fn, name), (fn_, name + "_"), (method, name),
                                                 (method_, name + "_")))


def _binary_fns(name: str, op_name: str, scalar_ok: bool) -> tuple:
    op = get(op_name)

    def check(other: Any) -> None:
        if not scalar_ok:
            _need_tensor(name, other, 2, "other")

    def fn(input: Any, other: Any, *, out: Any = None) -> Any:
        if not (op is REMAINDER or op_name.startswith("bitwise")):  # these take a number first
            _need_tensor(name, input, 1, "input")
        check(other)
        return _out(name, bind(op, (input, other)), out, (input, other))

    def method(self: Any, other: Any) -> Any:
        check(other)
        return bind(op, (self, other))

    def method_(self: Any, other: Any) -> Any:
        check(other)
        return bind_inplace(op, (self, other))

    doc = f"Elementwise `{op_name}` with broadcasting (PyTorch's `torch.{name}`)."
    return tuple(_named(f, n, doc) for f, n in ((fn, name), (method, name),
                                                 (method_, name + "_")))


def _named(fn: Callable, name: str, doc: str) -> Callable:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


# ------------------------------------------------------------------------------------- clamp

def _clamp_call(name: str, min: Any, max: Any) -> tuple:
    """(op, extra inputs, attrs) for clamp: numbers become attributes; tensors become inputs
    (clamp_min / clamp_max when one bound is given). Mixing the two is PyTorch's TypeError."""
    if min is None and max is None:
        raise RuntimeError(f"{name}(): At least one of 'min' or 'max' must not be None")
    tensors = [b for b in (min, max) if _is_tensor(b)]
    if tensors:
        given = [b for b in (min, max) if b is not None]
        if len(tensors) != len(given):
            raise TypeError(f"{name}(): min and max must both be Tensors or both be numbers, "
                            f"got min={_type_name(min)} and max={_type_name(max)}")
        if min is None:
            return CLAMP_MAX, (max,), {}
        if max is None:
            return CLAMP_MIN, (min,), {}
        return CLAMP_TENSOR, (min, max), {}
    attrs = {k: _number(name, v) for k, v in (("min", min), ("max", max)) if v is not None}
    return CLAMP, (), attrs


def clamp(input: Any, min: Any = None, max: Any = None, *, out: Any = None) -> Any:
    """Limit every element to [min, max]; bounds are numbers or tensors (broadcast)."""
    op, extra, attrs = _clamp_call("clamp", min, max)
    return _out("clamp", bind(op, (input,) + extra, attrs), out, (input,) + extra)


def clamp_(input: Any, min: Any = None, max: Any = None) -> Any:
    op, extra, attrs = _clamp_call("clamp", min, max)
    return bind_inplace(op, (input,) + extra, attrs)


def clamp_min(input: Any, min: Any, *, out: Any = None) -> Any:
    """max(input, min) elementwise (`min` a number or a tensor)."""
    return _out("clamp_min", bind(CLAMP_MIN, (input, min)), out, (input, min))


def clamp_max(input: Any, max: Any, *, out: Any = None) -> Any:
    """min(input, max) elementwise (`max` a number or a tensor)."""
    return _out("clamp_max", bind(CLAMP_MAX, (input, max)), out, (input, max))


def clamp_min_(input: Any, min: Any) -> Any:
    return bind_inplace(CLAMP_MIN, (input, min))


def clamp_max_(input: Any, max: Any) -> Any:
    return bind_inplace(CLAMP_MAX, (input, max))


clip, clip_ = clamp, clamp_

# ------------------------------------------------------------------------------ other functions

_MISSING = object()


def where(condition: Any, input: Any = _MISSING, other: Any = _MISSING, *,
          out: Any = None) -> Any:
    """Elementwise `input if condition else other` (either may be a number); with only a
    condition, the indices of its true elements, as `condition.nonzero(as_tuple=True)`."""
    if input is _MISSING and other is _MISSING:
        return condition.nonzero(as_tuple=True)
    if input is _MISSING or other is _MISSING:
        raise TypeError("where() missing required argument 'input' or 'other'")
    _need_tensor("where", condition, 1, "condition")
    if condition.dtype.name == "uint8":
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and "
                      "will be removed in a future version of PyTorch. Use a boolean condition "
                      "instead.", UserWarning, stacklevel=2)
    inputs = (condition, input, other)
    return _out("where", bind(WHERE, inputs), out, inputs)


def floor_divide(input: Any, other: Any, *, out: Any = None) -> Any:
    """The quotient rounded down (`//`): `div(input, other, rounding_mode='floor')`."""
    return _out("floor_divide", bind(DIV, (input, other), _FLOOR), out, (input, other))


def round(input: Any, *, decimals: int = 0, out: Any = None) -> Any:
    """Round half to even, to `decimals` places (negative: to tens, hundreds ...)."""
    attrs = {"decimals": int(decimals)} if decimals else {}
    return _out("round", bind(ROUND, (input,), attrs), out, (input,))


def round_(input: Any, *, decimals: int = 0) -> Any:
    return bind_inplace(ROUND, (input,), {"decimals": int(decimals)} if decimals else {})


def _nan_attrs(nan: Any, posinf: Any, neginf: Any) -> dict:
    attrs = {}
    if nan != 0.0:
        attrs["nan"] = float(nan)
    for k, v in (("posinf", posinf), ("neginf", neginf)):
        if v is not None:
            attrs[k] = float(v)
    return attrs


def nan_to_num(input: Any, nan: float = 0.0, posinf: Any = None, neginf: Any = None, *,
               out: Any = None) -> Any:
    """Replace NaN, +inf and -inf (by default with 0 and the dtype's largest/smallest value)."""
    return _out("nan_to_num", bind(NAN_TO_NUM, (input,), _nan_attrs(nan, posinf, neginf)), out,
                (input,))


def nan_to_num_(input: Any, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    return bind_inplace(NAN_TO_NUM, (input,), _nan_attrs(nan, posinf, neginf))


def lerp(input: Any, end: Any, weight: Any, *, out: Any = None) -> Any:
    """input + weight * (end - input); `weight` a number or a tensor."""
    _need_tensor("lerp", input, 1, "input")
    _need_tensor("lerp", end, 2, "end")
    return _out("lerp", bind(LERP, (input, end, weight)), out, (input, end, weight))


def _scaled(beta: Any, alpha: Any) -> dict:
    return {k: v for k, v in (("beta", beta), ("alpha", alpha)) if v != 1}


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1,
          out: Any = None) -> Any:
    """beta * input + alpha * (mat1 @ mat2), `input` broadcast to the product's shape."""
    for i, (arg, x) in enumerate((("input", input), ("mat1", mat1), ("mat2", mat2))):
        _need_tensor("addmm", x, i + 1, arg)
    inputs = (input, mat1, mat2)
    return _out("addmm", bind(ADDMM, inputs, _scaled(beta, alpha)), out, inputs)


def _addc(name: str, op: Any):
    def fn(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1, out: Any = None) -> Any:
        for i, (arg, x) in enumerate((("input", input), ("tensor1", tensor1),
                                      ("tensor2", tensor2))):
            _need_tensor(name, x, i + 1, arg)
        inputs = (input, tensor1, tensor2)
        attrs = {} if value == 1 else {"value": _number(name, value)}
        return _out(name, bind(op, inputs, attrs), out, inputs)
    return _named(fn, name, f"input + value * tensor1 {'*' if name == 'addcmul' else '/'} "
                            "tensor2, with broadcasting.")


addcmul, addcdiv = _addc("addcmul", ADDCMUL), _addc("addcdiv", ADDCDIV)


# ----------------------------------------------------------------------------- tensor methods

class Methods:
    """Tensor methods and operators of the math family (generated ones are added below)."""

    __slots__ = ()

    def clamp(self, min=None, max=None): return clamp(self, min, max)
    def clamp_(self, min=None, max=None): return clamp_(self, min, max)
    def clamp_min(self, min): return bind(CLAMP_MIN, (self, min))
    def clamp_max(self, max): return bind(CLAMP_MAX, (self, max))
    def clamp_min_(self, min): return bind_inplace(CLAMP_MIN, (self, min))
    def clamp_max_(self, max): return bind_inplace(CLAMP_MAX, (self, max))
    clip, clip_ = clamp, clamp_

    def where(self, condition, y): return where(condition, self, y)
    def round(self, *, decimals=0): return round(self, decimals=decimals)
    def round_(self, *, decimals=0): return round_(self, decimals=decimals)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return bind(NAN_TO_NUM, (self,), _nan_attrs(nan, posinf, neginf))

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return bind_inplace(NAN_TO_NUM, (self,), _nan_attrs(nan, posinf, neginf))

    def lerp(self, end, weight):
        _need_tensor("lerp", end, 1, "end")
        return bind(LERP, (self, end, weight))

    def lerp_(self, end, weight):
        _need_tensor("lerp_", end, 1, "end")
        return bind_inplace(LERP, (self, end, weight))

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        return bind_inplace(ADDMM, (self, mat1, mat2), _scaled(beta, alpha))

    def addcmul(self, tensor1, tensor2, *, value=1):
        return addcmul(self, tensor1, tensor2, value=value)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return bind_inplace(ADDCMUL, (self, tensor1, tensor2), {} if value == 1 else
                            {"value": _number("addcmul_", value)})

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return addcdiv(self, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return bind_inplace(ADDCDIV, (self, tensor1, tensor2), {} if value == 1 else
                            {"value": _number("addcdiv_", value)})

    def floor_divide(self, other): return bind(DIV, (self, other), _FLOOR)
    def floor_divide_(self, other): return bind_inplace(DIV, (self, other), _FLOOR)

    # operators --------------------------------------------------------------------------------
    def __floordiv__(self, other): return bind(DIV, (self, other), _FLOOR)
    def __rfloordiv__(self, other): return bind(DIV, (other, self), _FLOOR)
    def __ifloordiv__(self, other): return bind_inplace(DIV, (self, other), _FLOOR)
    def __mod__(self, other): return bind(REMAINDER, (self, other))
    def __rmod__(self, other): return bind(REMAINDER, (other, self))
    def __imod__(self, other): return bind_inplace(REMAINDER, (self, other))
    def __and__(self, other): return bind(BITWISE_AND, (self, other))
    def __rand__(self, other): return bind(BITWISE_AND, (self, other))
    def __iand__(self, other): return bind_inplace(BITWISE_AND, (self, other))
    def __or__(self, other): return bind(BITWISE_OR, (self, other))
    def __ror__(self, other): return bind(BITWISE_OR, (self, other))
    def __ior__(self, other): return bind_inplace(BITWISE_OR, (self, other))
    def __xor__(self, other): return bind(BITWISE_XOR, (self, other))
    def __rxor__(self, other): return bind(BITWISE_XOR, (self, other))
    def __ixor__(self, other): return bind_inplace(BITWISE_XOR, (self, other))

    def __invert__(self):
        if self._dtype.is_floating_point:
            raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                            "tensors")
        return bind(BITWISE_NOT, (self,))


# ------------------------------------------------------------------ generated functions/methods

__all__ = ["clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_max", "clamp_min_",
           "clamp_max_", "where", "floor_divide", "round", "round_", "nan_to_num", "nan_to_num_",
           "lerp", "addmm", "addcmul", "addcdiv"]


def _install() -> None:
    """Define the uniform unary and binary functions and methods, and their aliases."""
    names = globals()
    for name in _UNARY + tuple(_ALIASES):
        fn, fn_, method, method_ = _unary_fns(name, _ALIASES.get(name, name))
        names[name], names[name + "_"] = fn, fn_
        setattr(Methods, name, method)
        setattr(Methods, name + "_", method_)
        __all__.extend((name, name + "_"))
    for name in _TESTS:
        fn, _, method, _ = _unary_fns(name, name)
        names[name] = fn
        setattr(Methods, name, method)
        __all__.append(name)
    for name, (scalar_ok, inplace) in tuple(_BINARY.items()) + (("arctan2", (False, True)),):
        fn, method, method_ = _binary_fns(name, "atan2" if name == "arctan2" else name,
                                          scalar_ok)
        names[name] = fn
        setattr(Methods, name, method)
        if inplace:
            setattr(Methods, name + "_", method_)
        __all__.append(name)


_install()
