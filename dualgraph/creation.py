"""Making tensors: `tensor`, `zeros`, `ones`, `empty`, `full`, `eye`, `arange`, `linspace`,
`logspace`, the random draws (`rand`, `randn`, `randint`, `randperm`, `normal`, `bernoulli`,
`multinomial`), the `*_like` forms, `from_numpy`, the random `Generator`, legacy type names
(`'torch.FloatTensor'`) and the argument parsing of `Tensor.to` / `Tensor.type`. The legacy
constructors (`dg.Tensor(2, 3)`, `dg.FloatTensor([1, 2])`) live in `methods/creation.py`.

Everything made from sizes goes through `bind` (ops in `ir/ops/random.py`), so it works inside
`dg.jit.trace`: a random draw stays a random node of the graph, and `dg.zeros(x.shape[0], 3)`
keeps a dynamic batch size symbolic. `tensor()` copies data that exists now, so inside a trace
its result is a constant, as in PyTorch.

Dtype inference follows PyTorch: Python floats give the default dtype, ints int64, bools bool;
NumPy arrays and scalars keep their own dtype; a list takes the promoted type of its elements.
This module does not import `dualgraph.tensor` at import time (the Tensor class is built from
the method families, which import this module).
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np

from .dispatch import bind
from .ir import get
from .ir.types import (CPU, Device, DType, default_device, dtype_from_name, dtype_from_numpy,
                       get_default_dtype, int64, promote_types, scalar_dtype,
                       set_default_device_value)
from .size import SymDim

FULL, EYE, ARANGE, LINSPACE, LOGSPACE = (get("full"), get("eye"), get("arange"),
                                          get("linspace"), get("logspace"))
RAND, RANDN, RANDINT, RANDPERM = get("rand"), get("randn"), get("randint"), get("randperm")
NORMAL, BERNOULLI, MULTINOMIAL = get("normal"), get("bernoulli"), get("multinomial")


# ------------------------------------------------------------------------------------- random

class Generator:
    """dualgraph's random stream: NumPy's PCG64. Its numbers differ from PyTorch's; seeding makes
    them reproducible (`dg.manual_seed(0)`), on the CPU and the GPU alike."""

    def __init__(self, device: Any = "cpu", seed: int = 67280421310721) -> None:
        self.device = Device(device)
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> "Generator":
        """Restart the stream from `seed`; returns the generator, as PyTorch does."""
        self._seed = int(seed) % 2 ** 64
        self.rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Re-seed from the operating system's entropy; returns the new seed."""
        s = int(np.random.SeedSequence().entropy % 2 ** 63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """An opaque snapshot of the stream, for `set_state`."""
        return dict(self.rng.bit_generator.state, seed=self._seed)

    def set_state(self, state: dict) -> "Generator":
        state = dict(state)
        self._seed = state.pop("seed", self._seed)
        self.rng.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it, as PyTorch does."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Re-seed the default generator from the operating system's entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def generator_attrs(name: str, attrs: dict, generator: Any) -> dict:
    """Add a `generator=` argument to an op's attributes (the default one is left implicit, so
    graphs draw from whatever the default generator is when they run)."""
    if generator is None or generator is default_generator:
        return attrs
    if not isinstance(generator, Generator):
        raise TypeError(f"{name}(): argument 'generator' must be torch.Generator, not "
                        f"{type(generator).__name__}")
    return dict(attrs, generator=generator)


# ------------------------------------------------------------------------------------ helpers

def set_default_device(device: Any) -> None:
    """Where factory functions (`tensor`, `zeros`, `rand`, `arange`, `eye`, ...) put tensors
    when no `device=` is given, on this thread; `None` restores `cpu`. `*_like`, `new_*` and
    `from_numpy` keep their source's device, as in PyTorch. Only `cpu`, and `cuda` where a GPU is
    present, exist here."""
    if device is None:
        set_default_device_value(CPU)
        return
    if isinstance(device, int) and not isinstance(device, bool):  # PyTorch: an accelerator index
        if not _cuda_usable():
            raise RuntimeError("Cannot access accelerator device when none is available.")
    dev = Device(device)
    if dev.type == "cuda" and not _cuda_usable():
        raise RuntimeError(f"set_default_device(): {dev} is not available here (CuPy with a GPU "
                           "is needed); use 'cpu'")
    set_default_device_value(dev)


def get_default_device() -> Device:
    """The device factory functions use when none is given (`device(type='cpu')` unless
    `set_default_device` or a `with dg.device(...)` block changed it); plain `cuda` is
    reported with its index."""
    return default_device()


def _cuda_usable() -> bool:
    from .runtime.cupy_backend import import_cupy
    try:
        import_cupy()
    except RuntimeError:
        return False
    return True


def _device(device: Any) -> Device:
    if device is None:
        return default_device()
    return Device(device).placement()


def _placed(attrs: dict, device: Any) -> dict:
    dev = _device(device)
    if dev is not CPU:
        attrs["device"] = dev
    return attrs


def sizes(name: str, args: tuple, size: Any = None) -> tuple:
    """The size of `zeros(2, 3)`, `zeros((2, 3))`, `zeros([2, 3])` or `zeros(size=(2, 3))`:
    ints (or anything with `__index__`) and, inside traces, symbolic dims."""
    if size is not None:
        if args:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    if all(d.__class__ is int and d >= 0 for d in args):  # the common case, quickly
        return tuple(args)
    out = []
    for i, d in enumerate(args):
        if isinstance(d, SymDim):
            out.append(d)
            continue
        if isinstance(d, (bool, float, tuple, list)) or not hasattr(d, "__index__"):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found element "
                            f"of type {type(d).__name__} at pos {i}")
        out.append(operator.index(d))
    for d in out:
        if not isinstance(d, SymDim) and d < 0:
            raise RuntimeError(f"{name}(): Trying to create tensor with negative dimension {d}: "
                               f"{list(out)}")
    return tuple(out)


def as_number(x: Any) -> Any:
    """A bound given as a 0-d tensor or NumPy scalar becomes a Python number."""
    if hasattr(x, "_data") or isinstance(x, np.generic):
        return x.item()
    return x


def _finish(name: str, t: Any, requires_grad: bool, out: Any) -> Any:
    if requires_grad:
        t.requires_grad_(True)
    if out is not None:
        from .ops import _out
        return _out(name, t, out, ())
    return t


def _dtype(dtype: Any, out: Any, default: DType | None = None) -> DType:
    """The dtype asked for, else the `out=` tensor's, else `default` (the default float)."""
    if dtype is not None:
        return dtype
    if out is not None:
        return out.dtype
    return default or get_default_dtype()


# ----------------------------------------------------------------------------- tensor(data)

def _infer_dtype(data: Any) -> DType | None:
    """PyTorch's dtype for `tensor(data)`: None for an empty sequence (the default dtype)."""
    from .tensor import Tensor
    if isinstance(data, Tensor):
        return data._dtype
    if isinstance(data, (np.ndarray, np.generic)):
        return dtype_from_numpy(data.dtype)
    if isinstance(data, (bool, int, float)):
        return scalar_dtype(data)
    if isinstance(data, (list, tuple, range)):
        found = None
        for x in data:
            d = _infer_dtype(x)
            if d is not None:
                found = d if found is None else promote_types(found, d)
        return found
    if data is None:
        raise RuntimeError("tensor(): Could not infer dtype of NoneType")
    raise TypeError(f"tensor(): invalid data type '{type(data).__name__}'")


def _plain(data: Any) -> Any:
    """Nested data with tensors replaced by their values (one-element tensors inside lists)."""
    from .tensor import Tensor
    if isinstance(data, Tensor):
        return data._host()
    if isinstance(data, (list, tuple, range)):
        out = []
        for x in data:
            if isinstance(x, Tensor):
                if x.numel() != 1:
                    raise ValueError("tensor(): only one element tensors can be converted to "
                                     "Python scalars")
                out.append(x._host().reshape(()))
            else:
                out.append(_plain(x) if isinstance(x, (list, tuple, range)) else x)
        return out
    return data


def _ragged(data: Any, dim: int = 0) -> tuple:
    """The shape of regular nested data; a ValueError at the first row of the wrong length."""
    if not isinstance(data, (list, tuple)):
        return np.shape(data)
    if not data:
        return (0,)
    inner = [_ragged(x, dim + 1) for x in data]
    for s in inner[1:]:
        if s != inner[0]:
            raise ValueError(f"tensor(): expected sequence of length "
                             f"{inner[0][0] if inner[0] else 0} at dim {dim + 1} (got "
                             f"{s[0] if s else 0})")
    return (len(data),) + tuple(inner[0])


def _array(data: Any, d: DType) -> np.ndarray:
    data = _plain(data)
    try:
        return np.array(data, dtype=d.np)
    except OverflowError:
        if not d.is_floating_point:  # PyTorch wraps out-of-range ints (-1 as uint8 is 255)
            try:
                return np.array(data, dtype=np.int64).astype(d.np)
            except OverflowError:
                pass
        raise ValueError("tensor(): Overflow when unpacking long long") from None
    except ValueError:
        _ragged(data)
        raise


def tensor(data: Any, *, dtype: DType | None = None, device: Any = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Any:
    """A new tensor holding a copy of `data` (nested lists, a NumPy array, a scalar).

        >>> dg.tensor([5.5, 3]).dtype, dg.tensor([1, 2]).dtype
        (torch.float32, torch.int64)
    """
    from .tensor import Tensor, _wrap
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
                      "requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
        if device is None:
            device = data._device
    d = dtype or _infer_dtype(data) or get_default_dtype()
    array = _array(data, d)
    dev = _device(device)
    if dev is not CPU:
        from .runtime import backend_for
        array = backend_for(dev).asarray(array)
    t = _wrap(array, d, dev)
    _mark_inference(t)
    return t.requires_grad_(True) if requires_grad else t


def _mark_inference(t: Any) -> None:
    """A tensor made inside `inference_mode` without an op (`tensor`, `from_numpy`) is an
    inference tensor, as the ones ops make there are."""
    from .tensor import InferenceVersion, inference_state
    if inference_state.enabled:
        t._version = InferenceVersion()


def as_tensor(data: Any, dtype: DType | None = None, device: Any = None) -> Any:
    """Like `tensor`, but shares memory with a tensor or a CPU NumPy array when no conversion is
    needed."""
    from .tensor import Tensor
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray) and dtype in (None, dtype_from_numpy(data.dtype)) and \
            _device(device) is CPU:
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Any:
    """A tensor sharing memory with `array`: writes through either are seen by both."""
    from .tensor import _wrap
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    t = _wrap(array, dtype_from_numpy(array.dtype), CPU)
    _mark_inference(t)
    return t


# ---------------------------------------------------------------------- deterministic sources

def full(size: Any, fill_value: Any, *, out: Any = None, dtype: DType | None = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False,
         pin_memory: bool = False) -> Any:
    """A tensor filled with `fill_value`; without `dtype=` the dtype follows the value."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    fill_value = as_number(fill_value)
    d = _dtype(dtype, out, scalar_dtype(fill_value))
    return filled("full", sizes("full", (size,)), fill_value, d, device, requires_grad, out)


def filled(name: str, shape: tuple, value: Any, d: DType, device: Any, requires_grad: bool,
          out: Any) -> Any:
    attrs = _placed({"size": shape, "fill_value": value, "dtype": d}, device)
    return _finish(name, bind(FULL, (), attrs), requires_grad, out)


def zeros(*size: Any, out: Any = None, dtype: DType | None = None, layout: Any = None,
          device: Any = None, requires_grad: bool = False, pin_memory: bool = False,
          **kw: Any) -> Any:
    """A tensor of zeros: `zeros(2, 3)`, `zeros((2, 3))`, `zeros(x.shape[0], 3)` in a trace."""
    return filled("zeros", sizes("zeros", size, kw.pop("size", None)), 0, _dtype(dtype, out),
                 device, requires_grad, out)


def ones(*size: Any, out: Any = None, dtype: DType | None = None, layout: Any = None,
         device: Any = None, requires_grad: bool = False, pin_memory: bool = False,
         **kw: Any) -> Any:
    """A tensor of ones of the given size."""
    return filled("ones", sizes("ones", size, kw.pop("size", None)), 1, _dtype(dtype, out),
                 device, requires_grad, out)


def empty(*size: Any, out: Any = None, dtype: DType | None = None, layout: Any = None,
          device: Any = None, requires_grad: bool = False, pin_memory: bool = False,
          memory_format: Any = None, **kw: Any) -> Any:
    """An uninitialized tensor (its values are whatever the memory held)."""
    return filled("empty", sizes("empty", size, kw.pop("size", None)), None, _dtype(dtype, out),
                 device, requires_grad, out)


def eye(n: Any, m: Any = None, *, out: Any = None, dtype: DType | None = None,
        layout: Any = None, device: Any = None, requires_grad: bool = False) -> Any:
    """An n x m matrix (m defaults to n) with ones on the diagonal."""
    n = _int_arg("eye", "n", n)
    m = None if m is None else _int_arg("eye", "m", m)
    for v, what in ((n, "n"), (m, "m")):
        if isinstance(v, int) and v < 0:
            raise RuntimeError(f"eye(): {what} must be greater or equal to 0, got {v}")
    attrs = _placed({"n": n, "m": m, "dtype": _dtype(dtype, out)}, device)
    return _finish("eye", bind(EYE, (), attrs), requires_grad, out)


def arange(start: Any, end: Any = None, step: Any = 1, *, out: Any = None,
           dtype: DType | None = None, layout: Any = None, device: Any = None,
           requires_grad: bool = False) -> Any:
    """Values from `start` to `end` (exclusive) by `step`; int64 unless a bound is a float,
    with as many values as PyTorch gives (ceil((end - start) / step))."""
    if end is None:
        start, end = 0, start
    start, end, step = as_number(start), as_number(end), as_number(step)
    is_float = any(isinstance(v, float) for v in (start, end, step))
    d = _dtype(dtype, out, get_default_dtype() if is_float else int64)
    attrs = _placed({"start": start, "end": end, "step": step, "dtype": d}, device)
    return _finish("arange", bind(ARANGE, (), attrs), requires_grad, out)


def _steps(name: str, steps: Any) -> Any:
    if isinstance(steps, SymDim):
        return steps
    if isinstance(steps, (bool, float)) or not hasattr(steps, "__index__"):
        raise TypeError(f"{name}(): argument 'steps' must be int, not {type(steps).__name__}")
    return operator.index(steps)


def linspace(start: Any, end: Any, steps: int, *, out: Any = None, dtype: DType | None = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Any:
    """`steps` evenly spaced values from start to end, both included."""
    attrs = _placed({"start": as_number(start), "end": as_number(end),
                     "steps": _steps("linspace", steps), "dtype": _dtype(dtype, out)}, device)
    return _finish("linspace", bind(LINSPACE, (), attrs), requires_grad, out)


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, out: Any = None,
             dtype: DType | None = None, layout: Any = None, device: Any = None,
             requires_grad: bool = False) -> Any:
    """`steps` values base ** e for e evenly spaced from start to end."""
    attrs = _placed({"start": as_number(start), "end": as_number(end),
                     "steps": _steps("logspace", steps), "base": float(base),
                     "dtype": _dtype(dtype, out)}, device)
    return _finish("logspace", bind(LOGSPACE, (), attrs), requires_grad, out)


# ----------------------------------------------------------------------------- random sources

def _draw(name: str, op: Any, attrs: dict, dtype: Any, device: Any, generator: Any,
          requires_grad: bool, out: Any, default: DType | None = None) -> Any:
    attrs = _placed(dict(attrs, dtype=_dtype(dtype, out, default)), device)
    result = bind(op, (), generator_attrs(name, attrs, generator))
    return _finish(name, result, requires_grad, out)


def rand(*size: Any, generator: Generator | None = None, out: Any = None,
         dtype: DType | None = None, layout: Any = None, device: Any = None,
         requires_grad: bool = False, pin_memory: bool = False, **kw: Any) -> Any:
    """Uniform samples from [0, 1), drawn from the generator when the op runs."""
    return _draw("rand", RAND, {"size": sizes("rand", size, kw.pop("size", None))}, dtype,
                 device, generator, requires_grad, out)


def randn(*size: Any, generator: Generator | None = None, out: Any = None,
          dtype: DType | None = None, layout: Any = None, device: Any = None,
          requires_grad: bool = False, pin_memory: bool = False, **kw: Any) -> Any:
    """Standard normal samples."""
    return _draw("randn", RANDN, {"size": sizes("randn", size, kw.pop("size", None))}, dtype,
                 device, generator, requires_grad, out)


def _int_arg(name: str, what: str, v: Any) -> Any:
    v = as_number(v)
    if isinstance(v, SymDim) or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    raise TypeError(f"{name}(): argument '{what}' must be int, not {type(v).__name__}")


def randint(*args: Any, size: Any = None, low: Any = None, high: Any = None,
            generator: Generator | None = None, out: Any = None, dtype: DType | None = None,
            layout: Any = None, device: Any = None, requires_grad: bool = False) -> Any:
    """Integers drawn uniformly from [low, high): `randint(high, size)` or
    `randint(low, high, size)`; int64 unless `dtype=` says otherwise."""
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if size is None:
        if len(args) >= 2:
            raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                            f"{type(args[-1]).__name__}")
        raise TypeError("randint(): missing required argument 'size'")
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        low, high = (args[0], high) if high is not None else (low, args[0])
    elif len(args) > 2:
        raise TypeError(f"randint(): takes at most 3 positional arguments ({len(args) + 1} "
                        "given)")
    if high is None:
        raise TypeError("randint(): missing required argument 'high'")
    attrs = {"low": _int_arg("randint", "low", 0 if low is None else low),
             "high": _int_arg("randint", "high", high), "size": sizes("randint", (size,))}
    return _draw("randint", RANDINT, attrs, dtype, device, generator, requires_grad, out,
                 int64)


def randperm(n: Any, *, generator: Generator | None = None, out: Any = None,
             dtype: DType | None = None, layout: Any = None, device: Any = None,
             requires_grad: bool = False) -> Any:
    """A random permutation of 0 .. n-1 (int64 unless `dtype=` says otherwise)."""
    n = _int_arg("randperm", "n", n)
    if isinstance(n, int) and n < 0:
        raise RuntimeError(f"randperm(): Trying to create tensor with negative dimension {n}: "
                           f"[{n}]")
    return _draw("randperm", RANDPERM, {"n": n}, dtype, device, generator, requires_grad, out,
                 int64)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *,
           generator: Generator | None = None, out: Any = None, dtype: DType | None = None,
           layout: Any = None, device: Any = None, requires_grad: bool = False) -> Any:
    """Samples of N(mean, std): tensors of means and/or stds (broadcast together), or two
    numbers and a `size`."""
    mean, std = (v.item() if isinstance(v, np.generic) else v for v in (mean, std))
    shaped = [x for x in (mean, std) if hasattr(x, "_dtype")]
    attrs = generator_attrs("normal", {}, generator)
    if shaped:
        result = bind(NORMAL, (shaped[0], mean, std), attrs)
    else:
        if size is None:
            raise TypeError("normal(): with a float mean and a float std, the size is required: "
                            "normal(mean, std, size)")
        like = empty(sizes("normal", (size,)), dtype=_dtype(dtype, out), device=device)
        result = bind(NORMAL, (like, float(mean), float(std)), attrs)
    return _finish("normal", result, requires_grad, out)


def bernoulli(input: Any, p: Any = None, *, generator: Generator | None = None,
              out: Any = None) -> Any:
    """1 with probability `input` (or `p`, in input's shape), else 0; input's dtype."""
    attrs = generator_attrs("bernoulli", {}, generator)
    return _finish("bernoulli", bind(BERNOULLI, (input, input if p is None else as_number(p)),
                                     attrs), False, out)


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None, out: Any = None) -> Any:
    """`num_samples` indices drawn from each row of `input`, taken as (unnormalized) weights."""
    attrs = {"num_samples": _int_arg("multinomial", "num_samples", num_samples),
             "replacement": bool(replacement)}
    attrs = generator_attrs("multinomial", attrs, generator)
    return _finish("multinomial", bind(MULTINOMIAL, (input,), attrs), False, out)


# ------------------------------------------------------------------------------- the *_like

def _like(name: str, input: Any, dtype: Any, device: Any) -> tuple:
    if not hasattr(input, "_dtype"):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return tuple(input.shape), dtype or input.dtype, input.device if device is None else device


def zeros_like(input: Any, *, dtype: DType | None = None, layout: Any = None,
               device: Any = None, requires_grad: bool = False, memory_format: Any = None) -> Any:
    shape, d, dev = _like("zeros_like", input, dtype, device)
    return filled("zeros_like", shape, 0, d, dev, requires_grad, None)


def ones_like(input: Any, *, dtype: DType | None = None, layout: Any = None,
              device: Any = None, requires_grad: bool = False, memory_format: Any = None) -> Any:
    shape, d, dev = _like("ones_like", input, dtype, device)
    return filled("ones_like", shape, 1, d, dev, requires_grad, None)


def empty_like(input: Any, *, dtype: DType | None = None, layout: Any = None,
               device: Any = None, requires_grad: bool = False, memory_format: Any = None) -> Any:
    shape, d, dev = _like("empty_like", input, dtype, device)
    return filled("empty_like", shape, None, d, dev, requires_grad, None)


def full_like(input: Any, fill_value: Any, *, dtype: DType | None = None, layout: Any = None,
              device: Any = None, requires_grad: bool = False, memory_format: Any = None) -> Any:
    shape, d, dev = _like("full_like", input, dtype, device)
    return filled("full_like", shape, as_number(fill_value), d, dev, requires_grad, None)


def rand_like(input: Any, *, dtype: DType | None = None, layout: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Any:
    shape, d, dev = _like("rand_like", input, dtype, device)
    return rand(shape, dtype=d, device=dev, requires_grad=requires_grad)


def randn_like(input: Any, *, dtype: DType | None = None, layout: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Any:
    shape, d, dev = _like("randn_like", input, dtype, device)
    return randn(shape, dtype=d, device=dev, requires_grad=requires_grad)


def randint_like(input: Any, low: Any, high: Any = None, *, dtype: DType | None = None,
                 layout: Any = None, device: Any = None, requires_grad: bool = False,
                 memory_format: Any = None) -> Any:
    """Integers from [low, high) (or [0, low) given one bound) in input's shape and dtype."""
    shape, d, dev = _like("randint_like", input, dtype, device)
    low, high = (0, low) if high is None else (low, high)
    return randint(low, high, shape, dtype=d, device=dev, requires_grad=requires_grad)


# -------------------------------------------------------- legacy constructors and type names

LEGACY_NAMES = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16",
                "BFloat16Tensor": "bfloat16",
                "ByteTensor": "uint8", "CharTensor": "int8", "ShortTensor": "int16",
                "IntTensor": "int32", "LongTensor": "int64", "BoolTensor": "bool"}


def legacy_tensor_new(cls: type, args: tuple, kwargs: dict) -> Any:
    """`dg.Tensor(...)`: the legacy constructor in the default dtype."""
    from .methods.creation import legacy_new
    return legacy_new(None, False, args, kwargs)


def legacy_name(dtype: DType, cuda: bool) -> str:
    name = next(k for k, v in LEGACY_NAMES.items() if v == dtype.name)
    return f"torch.{'cuda.' if cuda else ''}{name}"


def legacy_type_name(t: Any) -> str:
    """`x.type()`: 'torch.FloatTensor', 'torch.cuda.LongTensor', ..."""
    return legacy_name(t._dtype, t._device.type == "cuda")


def parse_legacy_type(spec: Any) -> tuple:
    """`x.type(spec)`: a dtype -> (dtype, None); 'torch.cuda.FloatTensor' or the class
    `dg.cuda.FloatTensor` -> (float32, cuda); a plain `torch.FloatTensor` -> (float32, cpu)."""
    from .methods.creation import LegacyTensorType
    if isinstance(spec, DType):
        return spec, None
    if isinstance(spec, LegacyTensorType):
        return spec.dtype, Device("cuda") if spec.is_cuda else CPU
    if isinstance(spec, str):
        parts = spec.split(".")
        if parts[-1] in LEGACY_NAMES and parts[:-1] in (["torch"], ["torch", "cuda"]):
            return dtype_from_name(LEGACY_NAMES[parts[-1]]), \
                Device("cuda") if len(parts) == 3 else CPU
        raise ValueError(f"type(): invalid type: '{spec}'")
    raise TypeError(f"type(): expected a dtype or a type name string, got {spec!r}")


# ------------------------------------------------------------------------------ .to / .type

def parse_to_args(self: Any, args: tuple, kwargs: dict) -> tuple:
    """(device, dtype, copy) from the forms `Tensor.to` accepts."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, DType):
            dtype = a
        elif hasattr(a, "_dtype"):
            device, dtype = a._device, a._dtype
        elif isinstance(a, (str, Device, int)) and not isinstance(a, bool):
            device = Device(a)
        elif isinstance(a, bool):
            copy = a
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return (None if device is None else Device(device).placement()), dtype, copy


