"""What a tensor says about its memory: `storage()`, `untyped_storage()`, `data_ptr()`,
`storage_offset()`, `stride()` (in elements, as PyTorch counts), `is_contiguous()`, `resize_`.

Storage tells the truth about sharing: a tensor's storage is the memory block that owns its
array, so views of one base report one storage (same `data_ptr()`) at different offsets.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..ir.meta import normalize_dim
from .indexing import _ints, _not_traced

# ------------------------------------------------------------------------------- storage

_warned = []


def _ptr(array: Any) -> int:
    iface = getattr(array, "__cuda_array_interface__", None) or array.__array_interface__
    return int(iface["data"][0])


def _owner(array: Any) -> Any:
    """The array that owns the memory `array` lives in (follows the chain of array bases)."""
    while getattr(array, "base", None) is not None and hasattr(array.base, "strides"):
        array = array.base
    return array


def _storage_bytes(array: Any) -> Any:
    """The whole memory block of `array` as a 1-D byte array (shares memory)."""
    owner = _owner(array)
    if not (owner.flags.c_contiguous or owner.flags.f_contiguous):
        owner = array  # an exotic owner (as_strided): fall back to the array itself
    flat = owner.ravel(order="K") if owner.flags.c_contiguous or owner.flags.f_contiguous \
        else owner.copy().ravel()
    return flat.view("uint8")


class UntypedStorage:
    """A memory block as bytes (torch.UntypedStorage): shared with every tensor viewing it."""

    __slots__ = ("_bytes", "device")

    def __init__(self, data: Any, device: Any) -> None:
        self._bytes, self.device = data, device

    def data_ptr(self) -> int:
        return _ptr(self._bytes)

    def size(self) -> int:
        return int(self._bytes.shape[0])

    __len__ = nbytes = size

    def tolist(self) -> list:
        return _host(self._bytes, self.device).tolist()

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return UntypedStorage(self._bytes[i], self.device)
        return self.tolist()[i] if self.device.type != "cpu" else int(self._bytes[i])

    def __setitem__(self, i: Any, value: Any) -> None:
        self._bytes[i] = value

    def __iter__(self):
        return iter(self.tolist())

    def __repr__(self) -> str:
        return _storage_text(self.tolist(), f"torch.storage.UntypedStorage(device={self.device})")

    __str__ = __repr__


class TypedStorage:
    """A memory block as elements of one dtype (torch.TypedStorage), as `Tensor.storage()`
    returns it; writes through it change every tensor sharing the block."""

    __slots__ = ("_array", "dtype", "device")

    def __init__(self, data: Any, dtype: Any, device: Any) -> None:
        self._array, self.dtype, self.device = data, dtype, device

    def data_ptr(self) -> int:
        return _ptr(self._array)

    def size(self) -> int:
        return int(self._array.shape[0])

    __len__ = size

    def nbytes(self) -> int:
        return self.size() * self.dtype.itemsize

    def element_size(self) -> int:
        return self.dtype.itemsize

    def untyped(self) -> UntypedStorage:
        return UntypedStorage(self._array.view("uint8"), self.device)

    def tolist(self) -> list:
        return _host(self._array, self.device).tolist()

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        if not -self.size() <= i < self.size():
            raise IndexError(f"index {i} out of range for storage of size {self.size()}")
        return _host(self._array[i:i + 1 or None], self.device).tolist()[0]

    def __setitem__(self, i: Any, value: Any) -> None:
        self._array[i] = value

    def __iter__(self):
        return iter(self.tolist())

    def __repr__(self) -> str:
        return _storage_text(self.tolist(), f"torch.storage.TypedStorage(dtype={self.dtype}, "
                                            f"device={self.device})")

    __str__ = __repr__


def _host(array: Any, device: Any) -> Any:
    from ..runtime import backend_for
    return backend_for(device).to_numpy(array)


def _storage_text(values: list, kind: str) -> str:
    """PyTorch's storage printout: one element per line, then the kind and size."""
    return " " + "\n ".join(str(v) for v in values) + f"\n[{kind} of size {len(values)}]"


def _torch_strides(array: Any) -> tuple:
    """Element strides as PyTorch reports them: NumPy's byte strides over the item size, with
    the stride PyTorch gives dims of size 1 that NumPy leaves at 0 (`x[None]`)."""
    shape, item = array.shape, array.itemsize
    strides = [s // item for s in array.strides]
    if array.size == 0 and not any(strides):
        strides = [0] * len(shape)
    for d in reversed(range(len(shape))):
        if (shape[d] == 1 or array.size == 0) and strides[d] == 0:
            strides[d] = strides[d + 1] * max(shape[d + 1], 1) if d + 1 < len(shape) else 1
    return tuple(strides)


class Methods:
    """Memory and layout methods of every Tensor."""

    __slots__ = ()

    def storage(self) -> TypedStorage:
        """The memory block holding this tensor, as elements of its dtype (deprecated in
        PyTorch in favour of `untyped_storage()`, and warned about once, as PyTorch does)."""
        if not _warned:
            _warned.append(True)
            warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                          "UntypedStorage will be the only storage class. This should only "
                          "matter to you if you are using storages directly.  To access "
                          "UntypedStorage directly, use tensor.untyped_storage() instead of "
                          "tensor.storage()", UserWarning, stacklevel=2)
        _not_traced(self, "storage()")
        raw = _storage_bytes(self._data)
        n = raw.shape[0] // self._dtype.itemsize
        return TypedStorage(raw[:n * self._dtype.itemsize].view(self._dtype.np), self._dtype,
                            self._device)

    def untyped_storage(self) -> UntypedStorage:
        _not_traced(self, "untyped_storage()")
        return UntypedStorage(_storage_bytes(self._data), self._device)

    def data_ptr(self) -> int:
        """The address of the tensor's first element."""
        _not_traced(self, "data_ptr()")
        return _ptr(self._data)

    def storage_offset(self) -> int:
        """Where the tensor starts in its storage, in elements."""
        _not_traced(self, "storage_offset()")
        return (_ptr(self._data) - _ptr(_storage_bytes(self._data))) // self._dtype.itemsize

    def stride(self, dim: Any = None) -> Any:
        """Steps in elements between neighbours along each dim (PyTorch's, not NumPy's bytes)."""
        _not_traced(self, "stride()")
        strides = _torch_strides(self._data)
        return strides if dim is None else strides[normalize_dim("stride", dim, len(strides))]

    def is_contiguous(self, memory_format: Any = None) -> bool:
        data = self._data
        return True if data is None else bool(data.flags.c_contiguous)

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self._dtype.itemsize

    def resize_(self, *sizes: Any, memory_format: Any = None) -> Any:
        """Give the tensor a new shape in place, over the same storage from its offset when it
        is large enough (growing it otherwise), as PyTorch does."""
        _not_traced(self, "resize_()")
        shape = _ints(sizes)
        if self._requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        for s in shape:
            if s < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                                   f"{list(shape)}")
        if shape == tuple(self._data.shape):
            return self
        item, n = self._dtype.itemsize, math.prod(shape)
        raw = _storage_bytes(self._data)
        start = self.storage_offset() * item
        if start + n * item <= raw.shape[0]:
            data = raw[start:start + n * item].view(self._dtype.np).reshape(shape)
        else:
            from ..runtime import backend_for
            xp = backend_for(self._device).xp
            grown = xp.zeros(start + n * item, dtype="uint8")
            grown[:raw.shape[0]] = raw
            data = grown[start:].view(self._dtype.np).reshape(shape)
        self._data = data
        self._version_counter().value += 1
        return self

    def resize_as_(self, other: Any) -> Any:
        return self.resize_(tuple(other.shape))


__all__ = ["TypedStorage", "UntypedStorage"]
