"""`nn.DataParallel`, with PyTorch's behaviour where there is at most one device to run on.

On a machine without a GPU PyTorch's DataParallel keeps `module`, sets `device_ids = []`, ignores
its other arguments and runs the module as is; its state dict is the module's with keys prefixed
by `module.`. dualgraph does the same. With a GPU it runs on one device: the module is moved to
`cuda:device_ids[0]` and the inputs follow it, as PyTorch does for one device id; splitting a
batch over several GPUs is refused with an error, not run on one silently.
"""

from __future__ import annotations

from typing import Any, Sequence

from ...ir.types import Device
from ..module import Module

__all__ = ["DataParallel"]


def _index(d: Any) -> int:
    """A device id given as an int, "cuda:1" or a device object, as an index."""
    if isinstance(d, int):
        return d
    index = Device(d).index if isinstance(d, (str, Device)) else None
    if index is None:
        raise ValueError(f"DataParallel: expected a device index, got {d!r}")
    return int(index)


def _to(obj: Any, device: Any) -> Any:
    """Tensors inside tuples, lists and dicts moved to `device` (PyTorch's scatter to 1)."""
    from ...tensor import Tensor
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple):
        return tuple(_to(o, device) for o in obj)
    if isinstance(obj, list):
        return [_to(o, device) for o in obj]
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


class DataParallel(Module):
    """Runs `module` on the one device there is (the CPU: as is), as PyTorch's DataParallel."""

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        from ... import cuda
        if not cuda.is_available():
            self.module = module
            self.device_ids: list = []
            return
        ids = list(range(cuda.device_count())) if device_ids is None else \
            [_index(d) for d in device_ids]
        if not ids:
            raise RuntimeError("no available devices were found")
        if len(ids) > 1:
            raise RuntimeError(f"DataParallel over several GPUs (device_ids={ids}) is not "
                               "supported by dualgraph; pass device_ids=[0] to run on one")
        self.dim = dim
        self.module = module
        self.device_ids = ids
        self.output_device = _index(output_device) if output_device is not None else ids[0]
        self.src_device_obj = Device("cuda", ids[0])
        self.module.to(self.src_device_obj)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            if t.device != self.src_device_obj:
                raise RuntimeError("module must have its parameters and buffers on device "
                                   f"{self.src_device_obj} (device_ids[0]) but found one of "
                                   f"them on device: {t.device}")
        return self.module(*_to(inputs, self.src_device_obj),
                           **_to(kwargs, self.src_device_obj))
