"""`Tensor`: a backend array (NumPy on `cpu`, CuPy on `cuda`) with dtype, device and autograd state.

Autograd state that most tensors never use (a `.grad`, hooks, the grad accumulator of a leaf) lives
in a lazily created `AutogradMeta`, and the version counter is created on first need, so that making
a tensor — which every eager op does — stays a handful of attribute stores.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

import numpy as np

from ._tensor_ops import TensorOps
from .methods import mixins
from .runtime import backend_for
from .dispatch import _state as _dispatch_state
from .ir.types import CPU, Device, DType, dtype_from_numpy
from .size import Size


class VersionCounter:
    """Counts in-place writes to a storage; shared by a tensor, its views and its detached aliases."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class InferenceVersion(VersionCounter):
    """The version counter of an inference tensor (one made inside `dg.inference_mode`): its
    class is the mark, so views of the tensor, which share the counter, are inference tensors
    too, and normal tensors pay nothing."""

    __slots__ = ()


class _InferenceState(threading.local):
    def __init__(self) -> None:
        self.enabled = False


inference_state = _InferenceState()  # per thread, as PyTorch's InferenceMode

_INFERENCE_INPLACE = ("Inplace update to inference tensor outside InferenceMode is not allowed.You "
                      "can make a clone to get a normal tensor before doing inplace update.See "
                      "https://github.com/pytorch/rfcs/pull/17 for more details.")


def check_inference_write(t: "Tensor") -> None:
    """PyTorch's refusal to write into an inference tensor outside inference mode."""
    if t._version.__class__ is InferenceVersion and not inference_state.enabled:
        raise RuntimeError(_INFERENCE_INPLACE)


class AutogradMeta:
    """Rarely used autograd state of one tensor."""

    __slots__ = ("grad", "retains_grad", "grad_acc", "hooks", "name")

    def __init__(self) -> None:
        self.grad = None
        self.retains_grad = False
        self.grad_acc = None  # the leaf's AccumulateGrad node (it refers back weakly)
        self.hooks = None  # leaf hooks: list of callables
        self.name = None


class ViewInfo:
    """How a view was made from its base: the chain of (op, attrs, input shape) to replay."""

    __slots__ = ("base", "chain", "grad_ok", "fn_version")

    def __init__(self, base: "Tensor", chain: tuple, grad_ok: bool) -> None:
        self.base = base
        self.chain = chain
        self.grad_ok = grad_ok  # made with grad mode on: its grad_fn follows the base's history
        self.fn_version = -1  # version of the storage when grad_fn was last derived


_new = object.__new__


class Tensor(TensorOps, *mixins()):
    """A multi-dimensional array that remembers how it was computed (when asked to)."""

    __slots__ = ("_data", "_dtype", "_device", "_requires_grad", "_grad_fn", "_output_nr",
                 "_version", "_ag", "_view", "__weakref__")
    __array_priority__ = 1000  # NumPy defers to Tensor: `np.float64(2) * t` stays a Tensor

    def __new__(cls, *args: Any, **kwargs: Any) -> "Tensor":
        """`dg.Tensor([[1, 2]])` (data, default dtype) or `dg.Tensor(2, 3)` (uninitialized)."""
        from .creation import legacy_tensor_new
        return legacy_tensor_new(cls, args, kwargs)

    # ------------------------------------------------------------------------ identity & shape
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        """`torch.Size` of the tensor, or the size of one dimension."""
        shape = self._data.shape
        if dim is None:
            return Size(shape)
        from .ir.meta import normalize_dim
        return shape[normalize_dim("size", dim, len(shape))]

    def dim(self) -> int:
        return self._data.ndim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def device(self) -> Device:
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def element_size(self) -> int:
        return self._dtype.itemsize

    def __hash__(self) -> int:
        return id(self)

    # --------------------------------------------------------------------------------- autograd
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark a leaf as needing gradients; only float tensors can, as in PyTorch."""
        if self._grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use "
                    "a computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach().")
            return self
        if requires_grad and self._version.__class__ is InferenceVersion and \
                not inference_state.enabled:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               f"gradients (got {self._dtype})")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad_fn(self) -> Any:
        view = self._view
        if view is not None and view.grad_ok:
            from .autograd.graph import refresh_view_grad_fn
            refresh_view_grad_fn(self)
        return self._grad_fn

    def is_inference(self) -> bool:
        """Whether this tensor was made inside `dg.inference_mode` (or is a view of one that
        was): it can never join autograd's history."""
        return self._version.__class__ is InferenceVersion

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    def _meta(self) -> AutogradMeta:
        ag = self._ag
        if ag is None:
            ag = self._ag = AutogradMeta()
        return ag

    @property
    def grad(self) -> "Tensor | None":
        outside = _dispatch_state.top.outside
        if outside is not None:  # a training step being traced sees its own view of .grad
            return outside.grad_of(self)
        ag = self._ag
        if ag is None:
            if self._grad_fn is not None:
                import warnings
                warnings.warn(
                    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                    "Its .grad attribute won't be populated during autograd.backward(). If you "
                    "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                    ".retain_grad() on the non-leaf Tensor.", UserWarning, stacklevel=2)
            return None
        return ag.grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        outside = _dispatch_state.top.outside
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"{type(value).__name__}")
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(f"assigned grad has data of a different size: "
                                   f"{list(value.shape)} vs {list(self.shape)}")
        if outside is not None:
            outside.set_grad(self, value)
            return
        self._meta().grad = value

    @property
    def retains_grad(self) -> bool:
        return self._ag is not None and self._ag.retains_grad

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward (a no-op on leaves)."""
        from .autograd.graph import retain_grad
        retain_grad(self)

    def register_hook(self, hook: Callable) -> Any:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces it."""
        from .autograd.graph import register_tensor_hook
        return register_tensor_hook(self, hook)

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's `.grad` (see `dg.autograd.backward`)."""
        from .autograd.engine import backward
        backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph,
                 inputs=inputs)

    def detach(self) -> "Tensor":
        """The same values and storage, cut from the graph (shares the version counter)."""
        t = _wrap(self._data, self._dtype, self._device)
        t._version = self._version_counter()
        outside = _dispatch_state.top.outside
        if outside is not None:  # inside a traced training step: the alias stands for self
            outside.alias(self, t)
        return t

    def detach_(self) -> "Tensor":
        if self._view is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self) -> "Tensor":
        """The values without history; unlike `detach()`, in-place changes are not tracked."""
        t = _wrap(self._data, self._dtype, self._device)
        outside = _dispatch_state.top.outside
        if outside is not None:  # inside a traced training step: the alias stands for self
            outside.alias(self, t)
        return t

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data, self._dtype, self._device = value._data, value._dtype, value._device

    def _version_counter(self) -> VersionCounter:
        v = self._version
        if v is None:
            v = self._version = VersionCounter()
        return v

    @property
    def _base(self) -> "Tensor | None":
        return None if self._view is None else self._view.base

    def _is_view(self) -> bool:
        return self._view is not None

    # ---------------------------------------------------------------------------- conversions
    def _host(self) -> np.ndarray:
        return backend_for(self._device).to_numpy(self._data)

    def numpy(self, force: bool = False) -> np.ndarray:
        """The CPU array itself (shared memory); refused while gradients are tracked."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self._device.type != "cpu":
            if not force:
                raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use "
                                "Tensor.cpu() to copy the tensor to host memory first.")
            return self._host()
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self._host()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to "
                               "Scalar")
        return self._host().reshape(()).item()

    def tolist(self) -> Any:
        return self._host().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __iter__(self) -> Iterator["Tensor"]:
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats its value (`f"{loss:.3f}"`, and `f"{t}"` gives `3.0`); any other
        tensor takes only the empty spec, as in PyTorch."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild, (self._host(), self._dtype.name, str(self._device), self._requires_grad))

    def __deepcopy__(self, memo: dict) -> "Tensor":
        if self._grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        t = _wrap(self._data.copy(), self._dtype, self._device)
        t._requires_grad = self._requires_grad
        if self._ag is not None and self._ag.grad is not None:
            t.grad = self._ag.grad.clone()
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------------------------ devices
    def to(self, *args: Any, **kwargs: Any) -> "Tensor":
        """`to(device)`, `to(dtype)`, `to(device, dtype)` or `to(other)`; returns self if nothing
        changes (as PyTorch does), else a copy that autograd tracks."""
        from .creation import parse_to_args
        device, dtype, copy = parse_to_args(self, args, kwargs)
        out = self
        if dtype is not None and dtype is not self._dtype:
            out = out._cast(dtype)
        if device is not None and device is not out._device:
            from .ops import to_device
            out = to_device(out, device)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> "Tensor":
        return self.to(CPU)

    def cuda(self, device: Any = None) -> "Tensor":
        return self.to(Device("cuda" if device is None else device))

    def type(self, dtype: Any = None) -> Any:
        """With no argument, the legacy type name (`torch.FloatTensor`); else a cast."""
        from .creation import legacy_type_name, parse_legacy_type
        if dtype is None:
            return legacy_type_name(self)
        dtype, device = parse_legacy_type(dtype)
        return self.to(device=device, dtype=dtype)

    def float(self) -> "Tensor":
        from .ir.types import float32
        return self.to(float32)

    def double(self) -> "Tensor":
        from .ir.types import float64
        return self.to(float64)

    def half(self) -> "Tensor":
        from .ir.types import float16
        return self.to(float16)

    def bfloat16(self) -> "Tensor":
        from .ir.types import bfloat16
        return self.to(bfloat16)

    def long(self) -> "Tensor":
        from .ir.types import int64
        return self.to(int64)

    def int(self) -> "Tensor":
        from .ir.types import int32
        return self.to(int32)

    def bool(self) -> "Tensor":
        from .ir.types import bool_
        return self.to(bool_)


def _wrap(data: Any, dtype: DType, device: Device) -> Tensor:
    """Make a Tensor around a backend array without copying (the eager runtime's constructor)."""
    t = _new(Tensor)
    t._data = data
    t._dtype = dtype
    t._device = device
    t._requires_grad = False
    t._grad_fn = None
    t._output_nr = 0
    t._version = None
    t._ag = None
    t._view = None
    return t


def from_array(array: Any, device: Device = CPU) -> Tensor:
    """Wrap a NumPy (or CuPy) array, sharing its memory; its dtype must be one dualgraph has."""
    return _wrap(array, dtype_from_numpy(array.dtype), device)


def _rebuild(array: np.ndarray, dtype_name: str, device: str, requires_grad: bool) -> Tensor:
    from .ir.types import dtype_from_name
    t = _wrap(np.array(array, dtype=dtype_from_name(dtype_name).np), dtype_from_name(dtype_name),
              CPU)
    if device != "cpu":
        t = t.to(Device(device))
    t._requires_grad = requires_grad
    return t

