"""Value types of the IR: dtypes (with PyTorch's promotion rules), devices and tensor types.

Everything here is plain data: no arrays are touched, so meta functions, the verifier and the
eager runtime can all share it.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Iterable, Union

import numpy as np

BOOL, INT, FLOAT = 0, 1, 2  # promotion categories, ordered


class DType:
    """A tensor element type; printed as PyTorch prints it (`torch.float32`)."""

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed",
                 "compute")

    def __init__(self, name: str, np_dtype: Any, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == FLOAT
        self.is_signed = self.np.kind in "if"
        self.compute = self  # the dtype kernels compute in (see StorageDType)

    @property
    def is_complex(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return (dtype_from_name, (self.name,))  # unpickles to the same singleton

    def to_real(self) -> "DType":
        return self


class StorageDType(DType):
    """A dtype NumPy stores but does not compute with (bfloat16, from the `ml_dtypes` package):
    kernels compute in `compute` (float32) and round the result back, as PyTorch's CPU kernels
    do. `ml_dtypes` is imported on first use (it costs about a second at import), and its
    absence is reported then, naming the extra that installs it."""

    __slots__ = ("_np", "_module", "_attr", "_extra")

    def __init__(self, name: str, module: str, attr: str, itemsize: int, compute: DType,
                 extra: str) -> None:
        self.name = name
        self._np = None
        self._module, self._attr, self._extra = module, attr, extra
        self.category = FLOAT
        self.itemsize = itemsize
        self.is_floating_point = True
        self.is_signed = True
        self.compute = compute

    @property
    def np(self) -> np.dtype:  # type: ignore[override]
        if self._np is None:
            try:
                module = importlib.import_module(self._module)
            except ImportError:
                raise ImportError(
                    f"torch.{self.name} tensors need the {self._module} package, which NumPy "
                    f"uses to store {self.name}: pip install 'dualgraph[{self._extra}]'"
                ) from None
            self._np = np.dtype(getattr(module, self._attr))
            _BY_NP[self._np] = self
        return self._np


float16 = DType("float16", np.float16, FLOAT)
float32 = DType("float32", np.float32, FLOAT)
bfloat16 = StorageDType("bfloat16", "ml_dtypes", "bfloat16", 2, float32, "bfloat16")
float64 = DType("float64", np.float64, FLOAT)
int8 = DType("int8", np.int8, INT)
int16 = DType("int16", np.int16, INT)
int32 = DType("int32", np.int32, INT)
int64 = DType("int64", np.int64, INT)
uint8 = DType("uint8", np.uint8, INT)
bool_ = DType("bool", np.bool_, BOOL)

ALL_DTYPES = (float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, bool_)
FLOAT_DTYPES = (float16, bfloat16, float32, float64)
_BY_NP = {d.np: d for d in ALL_DTYPES if not isinstance(d, StorageDType)}  # the rest on first use
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)


def dtype_from_numpy(np_dtype: Any) -> DType:
    """The DType for a NumPy dtype; a TypeError names unsupported ones (complex, strings ...)."""
    try:
        key = np.dtype(np_dtype)
    except TypeError:
        key = None
    d = _BY_NP.get(key)
    if d is None:
        # an ml_dtypes array: its module is loaded already, so the storage dtype resolves
        d = _BY_NAME.get(getattr(key, "name", None))
        if not isinstance(d, StorageDType) or d.np != key:
            raise TypeError(f"dualgraph has no dtype for NumPy dtype {np_dtype!r}; supported: "
                            + ", ".join(x.name for x in ALL_DTYPES))
    return d


def dtype_from_name(name: str) -> DType:
    """`'float32'` or `'torch.float32'` -> float32 (used by the text IR and file formats)."""
    key = name[6:] if name.startswith("torch.") else name
    if key not in _BY_NAME:
        raise ValueError(f"unknown dtype name {name!r}")
    return _BY_NAME[key]


class _DefaultDType:
    value: DType = float32


_default = _DefaultDType()


def get_default_dtype() -> DType:
    """The dtype of Python floats and of float tensors made without a dtype (float32 at start)."""
    return _default.value


def set_default_dtype(d: DType) -> None:
    """Set the default floating dtype; like PyTorch, only float dtypes are accepted."""
    if not isinstance(d, DType) or not d.is_floating_point:
        raise TypeError(f"set_default_dtype(): only floating-point dtypes are supported, got {d!r}")
    _default.value = d


# ----------------------------------------------------------------------------------- promotion

def promote_types(a: DType, b: DType) -> DType:
    """PyTorch's `torch.promote_types`: a float beats any integer; within a category, the wider."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == FLOAT:
        if a.itemsize == b.itemsize:  # float16 and bfloat16: neither holds the other
            return float32
        return a if a.itemsize > b.itemsize else b
    if a.category == BOOL:
        return a
    return _BY_NP[np.promote_types(a.np, b.np)]


def _scalar_category(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if isinstance(value, (int, np.integer)):
        return INT
    return FLOAT




def scalar_dtype(value: Any) -> DType:
    """The dtype a Python scalar takes when it stands alone (`dg.tensor(2.5)`)."""
    return (bool_, int64, get_default_dtype())[_scalar_category(value)]


def _combine(higher: DType | None, lower: DType | None) -> DType | None:
    # PyTorch's combine_categories: a lower-priority operand only matters if its category is higher.
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type(operands: Iterable[Any]) -> DType:
    """The dtype of an op over `operands`, by PyTorch's three-tier rule.

    Each operand is a TensorType (or anything with `.dtype` and `.shape`), or a Python scalar
    (weak: `float32 + 2.0` stays float32). Dimensioned tensors outrank zero-dim tensors, which
    outrank scalars, unless a lower tier brings a higher category (int tensor + 2.5 -> float).
    """
    dim = zero = wrapped = None
    for x in operands:
        if hasattr(x, "dtype"):
            if len(x.shape):
                dim = x.dtype if dim is None else promote_types(dim, x.dtype)
            else:
                zero = x.dtype if zero is None else promote_types(zero, x.dtype)
        else:
            d = scalar_dtype(x)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    out = _combine(dim, _combine(zero, wrapped))
    if out is None:
        raise TypeError("result_type() needs at least one operand")
    return out


# --------------------------------------------------------------------------------------- device

class Device:
    """Where a tensor lives: `cpu` or `cuda[:index]`. Interned, so `a.device is b.device` works."""

    __slots__ = ("type", "index")
    _interned: dict = {}

    def __new__(cls, spec: Any = "cpu", index: int | None = None) -> "Device":
        if isinstance(spec, Device):
            return spec
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device(): expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if idx:
            if index is not None:
                raise RuntimeError(f"device(): index given twice in {spec!r} and index={index}")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{spec}'")
            index = int(idx)
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {spec}")
        if kind == "cpu":
            index = None
        key = (kind, index)
        dev = cls._interned.get(key)
        if dev is None:
            dev = object.__new__(cls)
            object.__setattr__(dev, "type", kind)
            object.__setattr__(dev, "index", index)
            cls._interned[key] = dev
        return dev

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("device objects are immutable")

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except (RuntimeError, TypeError):
                return False
        return self is other

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (Device, (str(self),))

    def __enter__(self) -> "Device":
        """`with dg.device("cuda"):` makes this the default device of factory functions on this
        thread until the block ends (PyTorch's device context)."""
        _device_defaults.stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _device_defaults.stack.pop()

    def placement(self) -> "Device":
        """Where a tensor asked to live here lands: plain `cuda` means the current GPU (cuda:0);
        the device object itself keeps no index, as `torch.device('cuda')` does."""
        return Device("cuda", 0) if self.type == "cuda" and self.index is None else self


CPU = Device("cpu")


class _DeviceDefaults(threading.local):
    """Per thread, as PyTorch keeps them: the device `set_default_device` chose, and the devices
    of the `with device(...)` blocks open now (the innermost wins)."""

    def __init__(self) -> None:
        self.device = CPU
        self.stack: list = []


_device_defaults = _DeviceDefaults()


def default_device() -> Device:
    """Where factory functions put a tensor when no device is given."""
    stack = _device_defaults.stack
    return (stack[-1] if stack else _device_defaults.device).placement()


def set_default_device_value(device: Device) -> None:
    """Record the default device (checked by `dualgraph.set_default_device`)."""
    _device_defaults.device = device


# ---------------------------------------------------------------------------------- value types

Dim = Union[int, str]  # a size, or a symbol such as "B" bound when the graph runs


class _Fresh:
    """What a shape rule returns for a size known only when the op runs (`nonzero`'s count):
    a graph replaces it with a new symbol, bound from the node's output when the node runs."""

    def __repr__(self) -> str:
        return "FRESH"


FRESH = _Fresh()


class TensorType:
    """The static type of a tensor value: dtype, shape (ints or symbols) and device."""

    __slots__ = ("dtype", "shape", "device")

    def __init__(self, dtype: DType, shape: Iterable[Dim], device: Device = CPU) -> None:
        self.dtype = dtype
        self.shape = tuple(shape)
        self.device = device

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TensorType) and self.dtype is other.dtype
                and self.shape == other.shape and self.device is other.device)

    def __hash__(self) -> int:
        return hash((self.dtype.name, self.shape, self.device))

    def __repr__(self) -> str:
        dtype = getattr(self.dtype, "name", repr(self.dtype))  # never fail while reporting
        return f"TensorType({dtype}, {list(self.shape)}, {self.device})"


class TupleType:
    """A fixed-length tuple of values of the given types (script's `Tuple[Tensor, int]`)."""

    __slots__ = ("elements",)

    def __init__(self, elements: Iterable[Any]) -> None:
        self.elements = tuple(elements)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TupleType) and self.elements == other.elements

    def __hash__(self) -> int:
        return hash(("tuple",) + self.elements)

    def __repr__(self) -> str:
        return f"TupleType({', '.join(map(repr, self.elements))})"


class ListType:
    """A list of any length whose elements share one type (script's `List[Tensor]`)."""

    __slots__ = ("element",)

    def __init__(self, element: Any) -> None:
        self.element = element

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListType) and self.element == other.element

    def __hash__(self) -> int:
        return hash(("list", self.element))

    def __repr__(self) -> str:
        return f"ListType({self.element!r})"


def type_of(x: Any) -> Any:
    """The IR type of a runtime value: a TensorType for tensors, the value itself for scalars."""
    if hasattr(x, "_dtype") and hasattr(x, "shape"):
        return TensorType(x._dtype, tuple(x.shape), x._device)
    return x
