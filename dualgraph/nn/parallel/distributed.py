"""`nn.parallel.DistributedDataParallel`: one model replica per process, gradients averaged.

At construction the replicas are checked to have the same parameter shapes and made equal:
parameters and buffers are broadcast from rank 0. Each forward first broadcasts the buffers
(`broadcast_buffers=True`, so BatchNorm statistics follow rank 0) and arms the reducer; the
backward that follows all-reduces the gradients bucket by bucket as they arrive (see reducer.py)
and leaves each `.grad` averaged over the ranks. Inside `no_sync()` the gradients accumulate
locally, and the next synced backward averages the accumulated sums.

A module from `dg.jit.script` works too: its compiled forward runs, and its backward reaches the
same parameters' gradient accumulators. Training steps compiled whole (`dg.compile` of a
function calling backward/step) are refused inside forward: the all-reduce runs in eager
backward hooks, not as a graph op.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator

from ..module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Data parallelism across the processes of a process group (PyTorch's DDP, on MPI)."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 broadcast_buffers: bool = True, init_sync: bool = True,
                 process_group: Any = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False) -> None:
        super().__init__()
        from ... import distributed as dist
        from ...distributed.process_group import resolve
        from .reducer import Reducer
        call, module = module, _owner(module)
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel device_ids and output_device arguments "
                             "only work with GPU modules; this module's parameters are on the "
                             f"CPU, but got device_ids {device_ids}, output_device "
                             f"{output_device}")
        if not dist.is_initialized():
            raise ValueError("Default process group has not been initialized, please make sure "
                             "to call init_process_group.")
        group = resolve(process_group)
        if group is None:
            raise ValueError("DistributedDataParallel: this rank is not a member of "
                             "process_group")
        params = _unique(p for p in module.parameters() if p.requires_grad)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have "
                               "any parameter that requires a gradient.")
        for p in params:
            if p._device.type != "cpu":
                raise ValueError(f"DistributedDataParallel: parameters must be on the CPU for "
                                 f"the MPI transport, found one on {p._device}")
        self.module = module
        self._call = call  # the module itself, or its dg.jit.script form
        self.process_group = group
        self.device_ids = None
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb)
                                    * 1024 * 1024)
        if self.bucket_bytes_cap <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        self.require_backward_grad_sync = True
        _verify_shapes(module, group)
        if init_sync:
            self._broadcast(list(module.parameters()) + list(module.buffers()))
        self.reducer = Reducer(params, group, self.bucket_bytes_cap, find_unused_parameters)

    def _broadcast(self, tensors: list) -> None:
        from ... import distributed as dist
        from ...autograd.grad_mode import no_grad
        root = self.process_group.ranks[0]
        with no_grad():
            for t in tensors:
                if t is not None:
                    dist.broadcast(t, src=root, group=self.process_group)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        from ... import dispatch
        from ...autograd.grad_mode import is_grad_enabled
        if dispatch.current().outside is not None:
            raise RuntimeError("DistributedDataParallel cannot run inside a compiled training "
                               "step: its gradient all-reduce runs in eager backward hooks; "
                               "compile the wrapped module (ddp.module) or run the step eagerly")
        self.reducer.check_finished()
        if self.broadcast_buffers and self.process_group.size() > 1:
            self._broadcast(list(self.module.buffers()))
        output = self._call(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(output)
        else:
            self.reducer.disarm()
        return output

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes of forwards run inside this block accumulate gradients locally,
        without communication; the first synced backward after it averages the sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return ""


def _owner(module: Any) -> Module:
    """The nn.Module holding the parameters: `module`, or the one a ScriptModule compiles."""
    from ...jit.script import ScriptModule
    if isinstance(module, ScriptModule):
        return module._module
    if not isinstance(module, Module):
        raise TypeError(f"DistributedDataParallel: module must be a dg.nn.Module or a "
                        f"dg.jit.script of one, got {type(module).__name__} (wrap the module "
                        "before tracing it)")
    return module


def _unique(params: Any) -> list:
    seen, out = set(), []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _verify_shapes(module: Module, group: Any) -> None:
    """Every rank's replica must have the same parameters and buffers, by name, shape, dtype."""
    from ...distributed.exchange import allgather_bytes
    mine = [[n, list(t.shape), str(t.dtype)] for n, t in
            list(module.named_parameters()) + list(module.named_buffers()) if t is not None]
    every = [json.loads(b) for b in allgather_bytes(group, json.dumps(mine).encode(),
                                                    "DistributedDataParallel shape check")]
    for r, theirs in enumerate(every):
        if theirs != mine:
            diff = next((f"{a} vs {b}" for a, b in zip(mine, theirs) if a != b),
                        f"{len(mine)} vs {len(theirs)} tensors")
            raise RuntimeError(f"DistributedDataParallel: the module on rank "
                               f"{group.ranks[group.rank()]} differs from rank {group.ranks[r]}'s"
                               f" (name, shape, dtype): {diff}")
