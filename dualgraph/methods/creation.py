"""Creation, randomness and type conversion: the in-place fillers (`x.uniform_()`, `x.fill_()`,
`x.zero_()` ...), `x.new_*`, the conversions (`x.short()`, `x.type_as(y)`), and the `dualgraph.*`
functions of the family: every creation function of `dualgraph/creation.py`, the legacy tensor
types (`dg.FloatTensor`), `dg.set_default_tensor_type`, and the dtype queries (`result_type`,
`promote_types`, `can_cast`, `is_floating_point`, `finfo`, `iinfo`).

Fillers are `bind_inplace` of a random op whose input is the tensor itself, so autograd sees an
in-place write (PyTorch's `UniformBackward0`, ...) and a trace records a random node.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..creation import (LEGACY_NAMES, Generator, arange, as_tensor, bernoulli, default_generator,
                        empty, empty_like, eye, from_numpy, full, full_like, generator_attrs,
                        get_rng_state, initial_seed, legacy_name, linspace, logspace, manual_seed,
                        multinomial, normal, ones, ones_like, parse_legacy_type, rand, rand_like,
                        randint, randint_like, randn, randn_like, randperm, seed, set_rng_state,
                        tensor, zeros, zeros_like)
from ..dispatch import bind_inplace
from ..ir import get
from ..ir.types import (DType, bool_, dtype_from_name, get_default_dtype, int8, int16,
                        promote_types as _promote_types, result_type as _result_type,
                        set_default_dtype, uint8)

FILL, ZERO, UNIFORM, NORMAL = get("fill"), get("zero"), get("uniform"), get("normal")
RANDOM, BERNOULLI, EXPONENTIAL = get("random"), get("bernoulli"), get("exponential")

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "tensor", "as_tensor", "from_numpy", "zeros", "ones",
           "empty", "full", "eye", "arange", "linspace", "logspace", "rand", "randn", "randint",
           "randperm", "normal", "bernoulli", "multinomial", "zeros_like", "ones_like",
           "empty_like", "full_like", "rand_like", "randn_like", "randint_like",
           "set_default_tensor_type", "result_type", "promote_types", "can_cast",
           "is_floating_point", "finfo", "iinfo", *LEGACY_NAMES]


# ----------------------------------------------------------------------- legacy tensor types

class LegacyTensorType(type):
    """The metaclass of `dg.FloatTensor` and friends: calling one makes a tensor of its dtype,
    and `isinstance(x, dg.FloatTensor)` asks whether x has that dtype and device type."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return legacy_new(cls.dtype, cls.is_cuda, args, kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return hasattr(obj, "_dtype") and obj._dtype is cls.dtype and \
            (obj._device.type == "cuda") == cls.is_cuda


def _legacy_class(name: str, cuda: bool) -> type:
    cls = LegacyTensorType(name, (), {"dtype": dtype_from_name(LEGACY_NAMES[name]),
                                      "is_cuda": cuda, "is_sparse": False,
                                      "__doc__": f"Legacy constructor of "
                                                 f"{LEGACY_NAMES[name]} tensors."})
    cls.__module__ = "torch.cuda" if cuda else "torch"  # prints <class 'torch.FloatTensor'>
    return cls


LEGACY_TYPES = {name: _legacy_class(name, False) for name in LEGACY_NAMES}
CUDA_LEGACY_TYPES = {name: _legacy_class(name, True) for name in LEGACY_NAMES}


def legacy_new(dtype: DType | None, cuda: bool, args: tuple, kwargs: dict) -> Any:
    """`Tensor()`, `Tensor(2, 3)` (uninitialized), `Tensor(torch.Size)`, `Tensor(data)` (a copy
    in the class's dtype), `Tensor(tensor)` (that tensor itself)."""
    from ..size import Size
    from ..tensor import Tensor
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"new() received an invalid combination of arguments - got unexpected "
                        f"keyword arguments {sorted(kwargs)}")
    d = dtype or get_default_dtype()
    if cuda:
        from ..cuda import is_available
        if not is_available():
            raise TypeError(f"type {legacy_name(d, True)} not available: CUDA is not available "
                            "(dualgraph needs CuPy and a GPU)")
        device = "cuda" if device is None else device
    if len(args) == 1 and (isinstance(args[0], (Tensor, list, tuple, range, np.ndarray))
                           or not hasattr(args[0], "__index__")):
        data = args[0]
        if isinstance(data, Tensor):
            if dtype is not None and data._dtype is not dtype:
                raise TypeError(f"expected {legacy_name(dtype, cuda)} (got "
                                f"{legacy_name(data._dtype, data._device.type == 'cuda')})")
            return data
        if isinstance(data, Size):
            return empty(data, dtype=d, device=device)
        if not isinstance(data, (list, tuple, range, np.ndarray)):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        return tensor(data, dtype=d, device=device)
    if all(hasattr(a, "__index__") and not isinstance(a, bool) for a in args):
        return empty(*(args or (0,)), dtype=d, device=device)
    raise TypeError(f"new() received an invalid combination of arguments - got "
                    f"({', '.join(type(a).__name__ for a in args)})")


def set_default_tensor_type(t: Any) -> None:
    """Make `t` ('torch.DoubleTensor', `dg.DoubleTensor`, or a float dtype) the type of
    `dg.Tensor(...)`; it sets the default dtype, as PyTorch does (deprecated there since 2.1)."""
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                  UserWarning, stacklevel=2)
    if isinstance(t, str) and t.split(".")[-1] not in LEGACY_NAMES:
        raise AttributeError(f"set_default_tensor_type(): module 'torch' has no attribute "
                             f"'{t.split('.')[-1]}'")
    try:
        d, device = parse_legacy_type(t)
    except (TypeError, ValueError):
        raise TypeError(f"set_default_tensor_type(): invalid type object: {t!r}") from None
    if not d.is_floating_point:
        raise TypeError("set_default_tensor_type(): only floating-point types are supported as "
                        "the default type")
    if device is not None and device.type == "cuda":
        raise TypeError(f"set_default_tensor_type(): type {legacy_name(d, True)} is not "
                        "supported as the default: dualgraph has no default device; move "
                        "tensors with .to('cuda')")
    set_default_dtype(d)


globals().update(LEGACY_TYPES)


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _new_opts(self: Any, dtype: Any, device: Any) -> tuple:
    return dtype or self._dtype, self._device if device is None else device


class Methods:
    """Tensor methods of the creation family."""

    __slots__ = ()

    # new tensors with self's dtype and device --------------------------------------------
    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, layout: Any = None, pin_memory: bool = False) -> Any:
        """Ones of `size`, in self's dtype and device unless given."""
        d, dev = _new_opts(self, dtype, device)
        return ones(*size, dtype=d, device=dev, requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False, layout: Any = None,
                  pin_memory: bool = False) -> Any:
        d, dev = _new_opts(self, dtype, device)
        return zeros(*size, dtype=d, device=dev, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False, layout: Any = None,
                  pin_memory: bool = False) -> Any:
        d, dev = _new_opts(self, dtype, device)
        return empty(*size, dtype=d, device=dev, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, layout: Any = None,
                 pin_memory: bool = False) -> Any:
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"new_full(): argument 'size' (position 1) must be tuple of ints, "
                            f"not {type(size).__name__}")
        d, dev = _new_opts(self, dtype, device)
        return full(size, fill_value, dtype=d, device=dev, requires_grad=requires_grad)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False, layout: Any = None,
                   pin_memory: bool = False) -> Any:
        """A copy of `data` in self's dtype and device (whatever dtype the data has)."""
        if hasattr(data, "_dtype"):
            import warnings
            warnings.warn("To copy construct from a tensor, it is recommended to use "
                          "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
                          "requires_grad_(True), rather than tensor.new_tensor(sourceTensor).",
                          UserWarning, stacklevel=2)
            data = data._host()
        d, dev = _new_opts(self, dtype, device)
        return tensor(data, dtype=d, device=dev, requires_grad=requires_grad)

    def new(self, *args: Any, **kwargs: Any) -> Any:
        """The legacy `x.new(2, 3)` / `x.new(data)`, in self's dtype and device."""
        kwargs.setdefault("device", self._device)
        return legacy_new(self._dtype, False, args, kwargs)

    # in-place fillers ----------------------------------------------------------------------
    def fill_(self, value: Any) -> Any:
        """Write `value` (a number or a 0-d tensor) into every element."""
        return bind_inplace(FILL, (self, _scalar(value)))

    def zero_(self) -> Any:
        return bind_inplace(ZERO, (self,))

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Any:
        """Fill with samples from [a, b) (PyTorch names them `from` and `to`)."""
        attrs = {"low": float(_scalar(a)), "high": float(_scalar(b))}
        return bind_inplace(UNIFORM, (self,), generator_attrs("uniform_", attrs, generator))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Any:
        """Fill with samples of N(mean, std)."""
        attrs = generator_attrs("normal_", {}, generator)
        return bind_inplace(NORMAL, (self, float(_scalar(mean)), float(_scalar(std))), attrs)

    def random_(self, *args: Any, generator: Any = None, **kwargs: Any) -> Any:
        """Fill with integers from [from, to): `random_()` (the dtype's range), `random_(to)`,
        `random_(from, to)`."""
        low, high = kwargs.pop("from", 0), kwargs.pop("to", None)
        if kwargs or len(args) > 2:
            raise TypeError("random_() takes from and to, and a generator")
        if len(args) == 2:
            low, high = args
        elif len(args) == 1:
            high = args[0]
        attrs = {"low": int(_scalar(low)), "high": None if high is None else int(_scalar(high))}
        return bind_inplace(RANDOM, (self,), generator_attrs("random_", attrs, generator))

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Any:
        """Fill with 1 with probability p (a number, or a tensor broadcast to self), else 0."""
        return bind_inplace(BERNOULLI, (self, _scalar(p)),
                            generator_attrs("bernoulli_", {}, generator))

    def bernoulli(self, p: Any = None, *, generator: Any = None) -> Any:
        """1 with probability self (or p), else 0, in self's shape and dtype."""
        return bernoulli(self, p, generator=generator)

    def exponential_(self, lambd: float = 1.0, *, generator: Any = None) -> Any:
        """Fill with samples of the exponential distribution of rate lambd."""
        attrs = {"lambd": float(_scalar(lambd))}
        return bind_inplace(EXPONENTIAL, (self,), generator_attrs("exponential_", attrs,
                                                                  generator))

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Any = None) -> Any:
        return multinomial(self, num_samples, replacement, generator=generator)

    # conversions (float/double/half/long/int/bool live in tensor.py) ----------------------
    def short(self) -> Any:
        return self.to(int16)

    def char(self) -> Any:
        return self.to(int8)

    def byte(self) -> Any:
        return self.to(uint8)

    def type_as(self, other: Any) -> Any:
        """self converted to other's type (dtype and device), as `self.type(other.type())`."""
        return self.type(other.type())


# ---------------------------------------------------------------------------- dtype queries

def result_type(tensor1: Any, tensor2: Any) -> DType:
    """The dtype an arithmetic op on the two operands (tensors or numbers) gives."""
    return _result_type([_scalar(tensor1), _scalar(tensor2)])


def promote_types(type1: DType, type2: DType) -> DType:
    """The smallest dtype both dtypes convert to without losing their category."""
    for t in (type1, type2):
        if not isinstance(t, DType):
            raise TypeError(f"promote_types(): expected a dtype, got {type(t).__name__}")
    return _promote_types(type1, type2)


def can_cast(from_: DType, to: DType) -> bool:
    """Whether PyTorch's casting rules allow `from_` into `to` (no float to int, only bool to
    bool)."""
    from ..eager import can_cast as rule
    return rule(from_, to)


def is_floating_point(input: Any) -> bool:
    if not hasattr(input, "_dtype"):
        raise TypeError(f"is_floating_point(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input._dtype.is_floating_point


class finfo:
    """Machine limits of a floating dtype: bits, eps, max, min, tiny (= smallest_normal),
    resolution; printed as PyTorch prints them."""

    def __init__(self, type: DType | None = None) -> None:
        d = get_default_dtype() if type is None else type
        if not isinstance(d, DType) or not d.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo "
                            "to handle 'torch.finfo'")
        info = np.finfo(d.np)
        self.bits = int(info.bits)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # NumPy rounds it to the dtype
        self.dtype = d.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype: bits, max, min; printed as PyTorch prints them."""

    def __init__(self, type: DType) -> None:
        if type is bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if not isinstance(type, DType) or type.is_floating_point:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(type.np)
        self.bits, self.max, self.min = int(info.bits), int(info.max), int(info.min)
        self.dtype = type.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __repr__(self) -> str:
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"


def cuda_tensor_types() -> dict:
    """{'FloatTensor': dg.cuda.FloatTensor, ...}: for `dualgraph/cuda.py` to export."""
    return dict(CUDA_LEGACY_TYPES)

