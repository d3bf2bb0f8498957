"""Collectives on tensors, in place, with PyTorch's signatures: each starts MPI's non-blocking
form on the tensors' own arrays and returns a `Work` (async_op=True) or waits for it.

`src=`/`dst=` are global ranks, as in PyTorch; `group_src=`/`group_dst=` are ranks inside the
group. A rank outside `group` returns at once without taking part. With
DUALGRAPH_DISTRIBUTED_DEBUG=DETAIL every collective first checks that all ranks called the same
op on the same shapes and dtypes, and names the ranks that differ.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from ..tensor import Tensor
from .buffers import Staged, check_eager, check_tensor, same_dtype
from .exchange import allgather_bytes
from .process_group import ProcessGroup, resolve
from .reduce_op import ReduceOp, mpi_op
from .work import Work

__all__ = ["all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter_tensor", "reduce_scatter", "reduce", "barrier"]


def run(g: ProcessGroup, requests: list, what: str, finish: Any, async_op: bool) -> Work | None:
    """A Work for the started `requests`: returned if `async_op`, else waited for."""
    work = Work(requests, what, g.rank(), g.timeout, finish)
    if async_op:
        return work
    work.wait()
    return None


def peer(g: ProcessGroup, rank: int | None, group_rank: int | None, who: str, what: str) -> int:
    """The group rank meant by a global `src`/`dst` or a `group_src`/`group_dst`."""
    if (rank is None) == (group_rank is None):
        raise ValueError(f"dg.distributed.{who}: give exactly one of {what}= (a global rank) and "
                         f"group_{what}= (a rank in the group); got {what}={rank!r}, "
                         f"group_{what}={group_rank!r}")
    if rank is not None:
        return g.group_rank(int(rank), who, what)
    if not 0 <= int(group_rank) < g.size():
        raise ValueError(f"dg.distributed.{who}: group_{what}={group_rank} is outside the group "
                         f"of size {g.size()}")
    return int(group_rank)


def debug_check(g: ProcessGroup, who: str, tensors: Sequence[Tensor], extra: Any = None) -> None:
    """In DETAIL debug mode: all ranks must call `who` with the same shapes and dtypes."""
    if os.environ.get("DUALGRAPH_DISTRIBUTED_DEBUG", "").upper() != "DETAIL":
        return
    mine = json.dumps([who, [[list(t.shape), str(t.dtype)] for t in tensors],
                       None if extra is None else str(extra)])
    every = [b.decode() for b in allgather_bytes(g, mine.encode(), f"{who} (debug check)")]
    if any(s != mine for s in every):
        lines = "\n".join(f"  rank {g.ranks[i]}: {s}" for i, s in enumerate(every))
        raise RuntimeError(f"dg.distributed.{who}: ranks disagree on the collective "
                           f"(op, [shape, dtype] per tensor, reduce op / root):\n{lines}")


def _avg(staged: Staged, op: ReduceOp, size: int) -> None:
    if op is ReduceOp.AVG:
        staged.array /= size
    staged.written()


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Combine `tensor` across the group with `op`; every rank gets the result in place."""
    from mpi4py import MPI
    check_eager("all_reduce")
    t = check_tensor(tensor, "tensor", "all_reduce")
    g = resolve(group)
    if g is None:
        return None
    mop = mpi_op(op, t._data.dtype, "all_reduce")
    debug_check(g, "all_reduce", [t], op)
    s = Staged(t)
    req = g.comm.Iallreduce(MPI.IN_PLACE, s.array, op=mop)
    return run(g, [req], "all_reduce", lambda _: _avg(s, op, g.size()), async_op)


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None) -> Work | None:
    """Copy `tensor` from rank `src` into `tensor` on every other rank of the group."""
    check_eager("broadcast")
    t = check_tensor(tensor, "tensor", "broadcast")
    g = resolve(group)
    if g is None:
        return None
    root = peer(g, src, group_src, "broadcast", "src")
    debug_check(g, "broadcast", [t], root)
    s = Staged(t)
    req = g.comm.Ibcast(s.array, root=root)
    return run(g, [req], "broadcast", lambda _: s.written(), async_op)


def _check_list(tensors: Any, like: Tensor, size: int, param: str, who: str) -> list:
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"dg.distributed.{who}: `{param}` must be a list of tensors, got "
                        f"{type(tensors).__name__}")
    if len(tensors) != size:
        raise ValueError(f"dg.distributed.{who}: `{param}` must hold one tensor per rank of the "
                         f"group ({size}), got {len(tensors)}")
    for i, o in enumerate(tensors):
        check_tensor(o, f"{param}[{i}]", who)
        same_dtype(o, like, who)
        if tuple(o.shape) != tuple(like.shape):
            raise ValueError(f"dg.distributed.{who}: {param}[{i}] has shape {list(o.shape)}, "
                             f"expected the input's {list(like.shape)}")
    return list(tensors)


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Every rank's `tensor` into `tensor_list` (one per rank, in rank order)."""
    check_eager("all_gather")
    t = check_tensor(tensor, "tensor", "all_gather")
    g = resolve(group)
    if g is None:
        return None
    outs = _check_list(tensor_list, t, g.size(), "tensor_list", "all_gather")
    debug_check(g, "all_gather", [t])
    recv = np.empty((g.size(),) + t._data.shape, t._data.dtype)
    req = g.comm.Iallgather(np.ascontiguousarray(t._data), recv)

    def finish(_: list) -> None:
        for o, part in zip(outs, recv):
            np.copyto(o._data, part)
            o._version_counter().value += 1
    return run(g, [req], "all_gather", finish, async_op)


def _check_stacked(big: Tensor, small: Tensor, size: int, names: tuple, who: str) -> None:
    """`big` is `size` copies of `small` concatenated on dim 0 or stacked on a new dim 0."""
    same_dtype(big, small, who)
    b, s = tuple(big.shape), tuple(small.shape)
    concat = len(s) >= 1 and b == (s[0] * size,) + s[1:]
    if not (concat or b == (size,) + s):
        raise ValueError(f"dg.distributed.{who}: {names[0]} size must be equal to world_size "
                         f"times {names[1]} size: {names[0]} has shape {list(b)}, {names[1]} "
                         f"{list(s)}, world_size {size}")


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None, async_op: bool = False
                           ) -> Work | None:
    """Every rank's `input_tensor`, concatenated on dim 0 (or stacked) into `output_tensor`."""
    check_eager("all_gather_into_tensor")
    out = check_tensor(output_tensor, "output_tensor", "all_gather_into_tensor")
    inp = check_tensor(input_tensor, "input_tensor", "all_gather_into_tensor")
    g = resolve(group)
    if g is None:
        return None
    _check_stacked(out, inp, g.size(), ("output tensor", "input tensor"),
                   "all_gather_into_tensor")
    debug_check(g, "all_gather_into_tensor", [inp])
    s = Staged(out)
    req = g.comm.Iallgather(np.ascontiguousarray(inp._data), s.array)
    return run(g, [req], "all_gather_into_tensor", lambda _: s.written(), async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM,
                          group: ProcessGroup | None = None, async_op: bool = False
                          ) -> Work | None:
    """Reduce `input` (one chunk per rank on dim 0) across ranks; rank i gets chunk i."""
    check_eager("reduce_scatter_tensor")
    out = check_tensor(output, "output", "reduce_scatter_tensor")
    inp = check_tensor(input, "input", "reduce_scatter_tensor")
    g = resolve(group)
    if g is None:
        return None
    _check_stacked(inp, out, g.size(), ("input tensor", "output tensor"),
                   "reduce_scatter_tensor")
    mop = mpi_op(op, out._data.dtype, "reduce_scatter_tensor")
    debug_check(g, "reduce_scatter_tensor", [out], op)
    s = Staged(out)
    req = g.comm.Ireduce_scatter_block(np.ascontiguousarray(inp._data), s.array, op=mop)
    return run(g, [req], "reduce_scatter_tensor", lambda _: _avg(s, op, g.size()), async_op)


def reduce_scatter(output: Tensor, input_list: list, op: ReduceOp = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Reduce the i-th tensor of every rank's `input_list` into `output` on rank i."""
    check_eager("reduce_scatter")
    out = check_tensor(output, "output", "reduce_scatter")
    g = resolve(group)
    if g is None:
        return None
    ins = _check_list(input_list, out, g.size(), "input_list", "reduce_scatter")
    mop = mpi_op(op, out._data.dtype, "reduce_scatter")
    debug_check(g, "reduce_scatter", [out], op)
    send = np.stack([i._data for i in ins])
    s = Staged(out)
    req = g.comm.Ireduce_scatter_block(send, s.array, op=mop)
    return run(g, [req], "reduce_scatter", lambda _: _avg(s, op, g.size()), async_op)


def reduce(tensor: Tensor, dst: int | None = None, op: ReduceOp = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Combine `tensor` across the group into `tensor` on rank `dst` only (the others' tensors
    are left as they were)."""
    from mpi4py import MPI
    check_eager("reduce")
    t = check_tensor(tensor, "tensor", "reduce")
    g = resolve(group)
    if g is None:
        return None
    root = peer(g, dst, group_dst, "reduce", "dst")
    mop = mpi_op(op, t._data.dtype, "reduce")
    debug_check(g, "reduce", [t], (op, root))
    s = Staged(t)
    if g.rank() == root:
        req = g.comm.Ireduce(MPI.IN_PLACE, s.array, op=mop, root=root)
        return run(g, [req], "reduce", lambda _: _avg(s, op, g.size()), async_op)
    req = g.comm.Ireduce(s.array, None, op=mop, root=root)
    return run(g, [req], "reduce", None, async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids: Any = None) -> Work | None:
    """Wait until every rank of the group has reached this call."""
    check_eager("barrier")
    if device_ids is not None:
        raise ValueError("dg.distributed.barrier: device_ids= names GPUs, which the MPI transport "
                         "does not use; omit it")
    g = resolve(group)
    if g is None:
        return None
    return run(g, [g.comm.Ibarrier()], "barrier", None, async_op)
