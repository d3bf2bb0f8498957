"""Making tensors: `tensor`, `zeros`, `ones`, `empty`, `full`, `rand`, `randn`, `arange`, the
`*_like` and `new_*` forms, `from_numpy`, and the argument parsing of `Tensor.to` / `Tensor.type`.

Dtype inference follows PyTorch: Python floats give the default dtype, Python ints int64, bools
bool, while a NumPy array keeps its own dtype (`dg.tensor(float64 array)` stays float64).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backends import backend_for
from .ir.types import CPU, Device, DType, bool_, dtype_from_numpy, get_default_dtype, int64
from .tensor import Tensor, _wrap


# ------------------------------------------------------------------------------------- random

class Generator:
    """dualgraph's random stream (PCG64). Its numbers differ from PyTorch's; seeding makes them
    reproducible (`dg.manual_seed(0)`)."""

    def __init__(self, seed: int = 67280421310721) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it, as PyTorch does."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Re-seed the default generator from the operating system's entropy; returns the seed."""
    s = int(np.random.SeedSequence().entropy % (2 ** 63))
    default_generator.manual_seed(s)
    return s


def initial_seed() -> int:
    return default_generator.initial_seed()


# ------------------------------------------------------------------------------------ helpers

def _device(device: Any) -> Device:
    return CPU if device is None else Device(device).placement()


def _shape(size: tuple) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for d in size:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"size must be a tuple of ints, but got an element of type "
                            f"{type(d).__name__}")
        if d < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {d}: "
                               f"{list(size)}")
    return tuple(int(d) for d in size)


def _place(array: np.ndarray, dtype: DType, device: Device, requires_grad: bool) -> Tensor:
    if device is not CPU:
        array = backend_for(device).asarray(array)
    t = _wrap(array, dtype, device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(data: Any, array: np.ndarray) -> DType:
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return dtype_from_numpy(array.dtype)
    kind = array.dtype.kind
    if kind == "b":
        return bool_
    if kind in "iu":
        return int64
    if kind == "f":
        return get_default_dtype()
    raise TypeError(f"tensor(): could not infer a dtype from data of type {type(data).__name__} "
                    f"(NumPy made {array.dtype})")


def _to_array(data: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        return data._host()
    if isinstance(data, (list, tuple)):
        data = [_to_array(x) if isinstance(x, (Tensor, list, tuple)) else x for x in data]
    try:
        return np.array(data)
    except ValueError as exc:
        raise ValueError(f"tensor(): the data is not a regular nested sequence of numbers "
                         f"({exc})") from None


# ----------------------------------------------------------------------------------- creation

def tensor(data: Any, *, dtype: DType | None = None, device: Any = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, a NumPy array, a scalar)."""
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.clone().detach() or sourceTensor.clone().detach()."
                      "requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    array = _to_array(data)
    d = dtype or (data._dtype if isinstance(data, Tensor) else _infer_dtype(data, array))
    return _place(np.array(array, dtype=d.np, copy=True), d, _device(device), requires_grad)


def as_tensor(data: Any, dtype: DType | None = None, device: Any = None) -> Tensor:
    """Like `tensor`, but shares memory with a CPU NumPy array of a matching dtype."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray) and dtype in (None, dtype_from_numpy(data.dtype)) and \
            _device(device) is CPU:
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`: writes through either are seen by both."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return _wrap(array, dtype_from_numpy(array.dtype), CPU)


def _filled(fill: Any, size: tuple, dtype: DType | None, device: Any, requires_grad: bool,
            default: DType | None = None) -> Tensor:
    d = dtype or default or get_default_dtype()
    shape = _shape(size)
    array = np.empty(shape, d.np) if fill is None else np.full(shape, fill, d.np)
    return _place(array, d, _device(device), requires_grad)


def zeros(*size: Any, dtype: DType | None = None, device: Any = None,
          requires_grad: bool = False, out: Tensor | None = None) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size: Any, dtype: DType | None = None, device: Any = None,
         requires_grad: bool = False, out: Tensor | None = None) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(1, size, dtype, device, requires_grad)


def empty(*size: Any, dtype: DType | None = None, device: Any = None,
          requires_grad: bool = False, out: Tensor | None = None) -> Tensor:
    """An uninitialized tensor (its values are whatever the memory held)."""
    return _filled(None, size, dtype, device, requires_grad)


def full(size: Any, fill_value: Any, *, dtype: DType | None = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with `fill_value`; the dtype follows the value when none is given."""
    default = dtype or (bool_ if isinstance(fill_value, bool) else int64
                        if isinstance(fill_value, int) else get_default_dtype())
    return _filled(fill_value, tuple(size) if isinstance(size, (tuple, list)) else (size,),
                   dtype, device, requires_grad, default)


def _random(draw: str, size: tuple, dtype: DType | None, device: Any, requires_grad: bool,
            generator: Generator | None) -> Tensor:
    d = dtype or get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f"{draw}(): expected a floating point dtype, got {d}")
    rng = (generator or default_generator).rng
    shape = _shape(size)
    array = (rng.random(shape) if draw == "rand" else rng.standard_normal(shape)).astype(d.np)
    return _place(array, d, _device(device), requires_grad)


def rand(*size: Any, generator: Generator | None = None, dtype: DType | None = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1)."""
    return _random("rand", size, dtype, device, requires_grad, generator)


def randn(*size: Any, generator: Generator | None = None, dtype: DType | None = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    return _random("randn", size, dtype, device, requires_grad, generator)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: DType | None = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from `start` to `end` (exclusive) by `step`; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    values = [float(v) if isinstance(v, Tensor) else v for v in (start, end, step)]
    if values[2] == 0:
        raise RuntimeError("arange(): step must be nonzero")
    is_float = any(isinstance(v, float) for v in values)
    d = dtype or (get_default_dtype() if is_float else int64)
    array = np.arange(*values, dtype=np.float64 if is_float else np.int64).astype(d.np)
    return _place(array, d, _device(device), requires_grad)


def _like(t: Tensor, dtype: DType | None, device: Any) -> tuple:
    return dtype or t._dtype, t._device if device is None else device


def zeros_like(input: Tensor, *, dtype: DType | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    d, dev = _like(input, dtype, device)
    return zeros(input._data.shape, dtype=d, device=dev, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype: DType | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    d, dev = _like(input, dtype, device)
    return ones(input._data.shape, dtype=d, device=dev, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype: DType | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    d, dev = _like(input, dtype, device)
    return empty(input._data.shape, dtype=d, device=dev, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: DType | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    d, dev = _like(input, dtype, device)
    return full(input._data.shape, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def rand_like(input: Tensor, *, dtype: DType | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    d, dev = _like(input, dtype, device)
    return rand(input._data.shape, dtype=d, device=dev, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: DType | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    d, dev = _like(input, dtype, device)
    return randn(input._data.shape, dtype=d, device=dev, requires_grad=requires_grad)


# ------------------------------------------------------------------- Tensor(...) and new_*

def legacy_tensor_new(cls: type, args: tuple, kwargs: dict) -> Tensor:
    """`Tensor(data)` copies data in the default dtype; `Tensor(2, 3)` makes an uninitialized one."""
    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"Tensor(): unexpected keyword arguments {sorted(kwargs)}")
    if not args:
        return empty(0, device=device)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        return empty(*args, device=device)
    if len(args) == 1:
        return tensor(args[0], dtype=get_default_dtype(), device=device)
    raise TypeError(f"Tensor(): expected data or sizes, got {args!r}")


def _new(self: Tensor, dtype: DType | None, device: Any) -> tuple:
    return dtype or self._dtype, self._device if device is None else device


def new_ones(self: Tensor, *size: Any, dtype: DType | None = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    d, dev = _new(self, dtype, device)
    return ones(*size, dtype=d, device=dev, requires_grad=requires_grad)


def new_zeros(self: Tensor, *size: Any, dtype: DType | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    d, dev = _new(self, dtype, device)
    return zeros(*size, dtype=d, device=dev, requires_grad=requires_grad)


def new_empty(self: Tensor, *size: Any, dtype: DType | None = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    d, dev = _new(self, dtype, device)
    return empty(*size, dtype=d, device=dev, requires_grad=requires_grad)


def new_full(self: Tensor, size: Any, fill_value: Any, *, dtype: DType | None = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    d, dev = _new(self, dtype, device)
    return full(size, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def new_tensor(self: Tensor, data: Any, *, dtype: DType | None = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    d, dev = _new(self, dtype, device)
    return tensor(data, dtype=d, device=dev, requires_grad=requires_grad)


for _fn in (new_ones, new_zeros, new_empty, new_full, new_tensor):
    setattr(Tensor, _fn.__name__, _fn)


# ------------------------------------------------------------------------------ .to / .type

def parse_to_args(self: Tensor, args: tuple, kwargs: dict) -> tuple:
    """(device, dtype, copy) from the forms `Tensor.to` accepts."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, DType):
            dtype = a
        elif isinstance(a, Tensor):
            device, dtype = a._device, a._dtype
        elif isinstance(a, (str, Device, int)) and not isinstance(a, bool):
            device = Device(a)
        elif isinstance(a, bool):
            copy = a
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return (None if device is None else Device(device).placement()), dtype, copy


_LEGACY_NAMES = {"HalfTensor": "float16", "FloatTensor": "float32", "DoubleTensor": "float64",
                 "CharTensor": "int8", "ShortTensor": "int16", "IntTensor": "int32",
                 "LongTensor": "int64", "ByteTensor": "uint8", "BoolTensor": "bool"}


def legacy_type_name(t: Tensor) -> str:
    name = next(k for k, v in _LEGACY_NAMES.items() if v == t._dtype.name)
    return f"torch.{'cuda.' if t._device.type == 'cuda' else ''}{name}"


def parse_legacy_type(spec: Any) -> tuple:
    """`'torch.cuda.FloatTensor'` -> (float32, cuda); a DType -> (dtype, None)."""
    if isinstance(spec, DType):
        return spec, None
    from .ir.types import dtype_from_name
    if isinstance(spec, str):
        parts = spec.split(".")
        if parts[-1] in _LEGACY_NAMES:
            device = Device("cuda") if "cuda" in parts else CPU
            return dtype_from_name(_LEGACY_NAMES[parts[-1]]), device
        return dtype_from_name(spec), None
    raise TypeError(f"type(): expected a dtype or a type name string, got {spec!r}")

