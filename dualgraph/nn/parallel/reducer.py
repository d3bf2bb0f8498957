"""DistributedDataParallel's reducer: gradients into buckets, one all-reduce per bucket.

Stages, as PyTorch's reducer (torch/csrc/distributed/c10d/reducer.hpp) describes them:
1. Buckets: parameters in reverse `parameters()` order (backward produces the last layers'
   gradients first), grouped by dtype, cut at 1 MiB (or `bucket_cap_mb` if smaller) for the
   first bucket, so backward's first gradients go out early, and at `bucket_cap_mb` after
   it. After the first iteration the buckets are rebuilt once in the order gradients actually
   arrived (rank 0's order, broadcast so every rank buckets alike).
2. Hooks: a post-hook on each parameter's gradient accumulator (the AccumulateGrad node) runs
   right after the gradient lands in `.grad`; it copies the gradient into its bucket.
3. Launch: a full bucket starts its non-blocking all-reduce at once, so communication overlaps
   the rest of backward; buckets start in index order on every rank (MPI requires the same
   order of collectives everywhere). Each hook also tests the requests in flight, which is what
   drives MPICH's progress engine between MPI calls.
4. Finish: when the last bucket has started, wait for all, divide by the world size and write
   the averages back into each `.grad`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...autograd.graph import AccumulateGrad, grad_accumulator
from ...distributed.process_group import ProcessGroup
from ...distributed.work import Work

__all__ = ["Reducer"]

FIRST_BUCKET_BYTES = 1024 * 1024

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `dg.nn.parallel.DistributedDataParallel`, and by making "
    "sure all `forward` function outputs participate in calculating loss. Parameter indices "
    "which did not receive grad on rank {rank}: {missing}")


class _Bucket:
    __slots__ = ("members", "offsets", "flat", "pending", "work")

    def __init__(self, members: list, params: Sequence) -> None:
        self.members = members
        sizes = [params[i]._data.size for i in members]
        self.offsets = [0] + list(np.cumsum(sizes))
        self.flat = np.zeros(self.offsets[-1], params[members[0]]._data.dtype)
        self.pending = len(members)
        self.work: Work | None = None


def assign_buckets(params: Sequence, order: Sequence[int], cap: int) -> list[list[int]]:
    """Parameter indices grouped, in `order`, into per-dtype buckets of at most `cap` bytes
    (at most 1 MiB for the first)."""
    done: list[list[int]] = []
    open_: dict = {}
    for i in order:
        arr = params[i]._data
        members, size = open_.get(arr.dtype, ([], 0))
        members.append(i)
        size += arr.nbytes
        limit = min(FIRST_BUCKET_BYTES, cap) if not done else cap
        if size >= limit:
            done.append(members)
            open_.pop(arr.dtype, None)
        else:
            open_[arr.dtype] = (members, size)
    done.extend(m for m, _ in open_.values())
    return done


class Reducer:
    """Averages the gradients of `params` across `group` as backward produces them."""

    def __init__(self, params: list, group: ProcessGroup, cap_bytes: int,
                 find_unused: bool) -> None:
        self.params, self.group, self.cap = params, group, cap_bytes
        self.find_unused = find_unused
        self._accumulators = {grad_accumulator(p): i for i, p in enumerate(params)}
        self._handles = [acc.register_hook(self._hook(i))
                         for acc, i in self._accumulators.items()]
        self._build(list(reversed(range(len(params)))))
        self.rebuilt = False
        self.armed = False
        self._ready = np.zeros(len(params), bool)
        self._used = np.zeros(len(params), np.int32)
        self._arrival: list[int] = []
        self._next = 0
        self.overlap = OverlapStats()

    def _build(self, order: list[int]) -> None:
        self.buckets = [_Bucket(m, self.params) for m in assign_buckets(self.params, order,
                                                                         self.cap)]
        self._where = {}
        for b, bucket in enumerate(self.buckets):
            for k, i in enumerate(bucket.members):
                self._where[i] = (b, k)

    # ------------------------------------------------------------------ per iteration
    def check_finished(self) -> None:
        """Refuse a forward while the previous backward left some gradients unreduced."""
        if self.armed and self._ready.any():
            missing = [int(i) for i in np.flatnonzero(~self._ready)]
            raise RuntimeError(_UNFINISHED.format(rank=self.group.rank(), missing=missing))

    def prepare(self, outputs: Any) -> None:
        """Arm the hooks for the coming backward (after a forward that will sync)."""
        self.check_finished()
        self._ready[:] = False
        self._used[:] = 0
        self._arrival = []
        self._next = 0
        for bucket in self.buckets:
            bucket.pending, bucket.work = len(bucket.members), None
            if self.find_unused:  # unused parameters' slots contribute zeros
                bucket.flat[:] = 0
        self.armed = True
        self.overlap.start()
        if self.find_unused:
            reached = _reachable_accumulators(outputs)
            for acc, i in self._accumulators.items():
                if acc not in reached:
                    self._mark(i)

    def disarm(self) -> None:
        """The coming backward accumulates locally (no_sync, or no grad)."""
        self.check_finished()
        self.armed = False

    # ------------------------------------------------------------------ hooks
    def _hook(self, i: int) -> Any:
        def on_grad(grad_inputs: tuple, grad_outputs: tuple) -> None:
            if self.armed:
                self._on_grad(i)
        return on_grad

    def _on_grad(self, i: int) -> None:
        if self._ready[i]:
            raise RuntimeError(f"Expected to mark a variable ready only once. Parameter index "
                               f"{i} received its gradient twice in one iteration on rank "
                               f"{self.group.rank()} (backward run twice before a new forward?)")
        grad = self.params[i].grad
        b, k = self._where[i]
        bucket = self.buckets[b]
        bucket.flat[bucket.offsets[k]:bucket.offsets[k + 1]] = grad._data.reshape(-1)
        self._used[i] = 1
        self._arrival.append(i)
        self._mark(i)

    def _mark(self, i: int) -> None:
        self._ready[i] = True
        bucket = self.buckets[self._where[i][0]]
        bucket.pending -= 1
        in_flight = [x.work for x in self.buckets[:self._next] if x.work is not None]
        for w in in_flight:
            w.is_completed()  # MPI progress on the buckets already started
        while self._next < len(self.buckets) and self.buckets[self._next].pending == 0:
            self._launch(self.buckets[self._next])
            self._next += 1
        if self._next == len(self.buckets):
            self._finish()

    def _launch(self, bucket: _Bucket) -> None:
        from mpi4py import MPI
        g = self.group
        request = g.comm.Iallreduce(MPI.IN_PLACE, bucket.flat, op=MPI.SUM)
        bucket.work = Work([request], "DistributedDataParallel gradient all_reduce", g.rank(),
                           g.timeout)
        self.overlap.launched()

    def _finish(self) -> None:
        self.overlap.backward_done()
        early = sum(b.flat.nbytes for b in self.buckets if b.work.is_completed())
        self.overlap.done_early = early / max(1, sum(b.flat.nbytes for b in self.buckets))
        for bucket in self.buckets:
            bucket.work.wait()
        used = self._globally_used()
        size = self.group.size()
        for bucket in self.buckets:
            for k, i in enumerate(bucket.members):
                if not used[i]:
                    continue  # no rank produced this gradient: leave .grad as it is
                p = self.params[i]
                avg = bucket.flat[bucket.offsets[k]:bucket.offsets[k + 1]] / size
                if p.grad is None:
                    from ...creation import zeros_like
                    p.grad = zeros_like(p)
                np.copyto(p.grad._data, avg.reshape(p.grad._data.shape))
        self.overlap.finished()
        self.armed = False
        self._ready[:] = False
        if not self.rebuilt and not self.find_unused:
            self._rebuild()

    def _globally_used(self) -> np.ndarray:
        if not self.find_unused:
            return np.ones(len(self.params), bool)
        from mpi4py import MPI
        g = self.group
        used = self._used.copy()
        Work([g.comm.Iallreduce(MPI.IN_PLACE, used, op=MPI.MAX)], "DistributedDataParallel "
             "unused-parameter bitmap", g.rank(), g.timeout).wait()
        return used.astype(bool)

    def _rebuild(self) -> None:
        """Buckets in the order gradients arrived in the first iteration (rank 0's)."""
        self.rebuilt = True
        g = self.group
        order = np.array(self._arrival, np.int64)
        if len(order) != len(self.params):
            return
        Work([g.comm.Ibcast(order, root=0)], "DistributedDataParallel bucket rebuild",
             g.rank(), g.timeout).wait()
        self._build([int(i) for i in order])

    def remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()


def _reachable_accumulators(outputs: Any) -> set:
    """The AccumulateGrad nodes the autograd graph of `outputs` leads to."""
    from ...tensor import Tensor
    stack, seen, found = [], set(), set()

    def collect(o: Any) -> None:
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                stack.append(o.grad_fn)
            elif o.requires_grad:
                found.add(grad_accumulator(o))
        elif isinstance(o, (list, tuple)):
            for x in o:
                collect(x)
        elif isinstance(o, dict):
            for x in o.values():
                collect(x)
    collect(outputs)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad):
            found.add(node)
        for child, _ in node._next:
            if child is not None and child not in seen:
                stack.append(child)
    return found


class OverlapStats:
    """Timings of the last synced backward: `in_flight_s`, from the first bucket's launch to the
    last gradient's arrival (communication that may overlap backward), `wait_s`, how long the
    end of backward then waited for the all-reduces, and `done_early`, the fraction of the
    gradient bytes whose all-reduce had already completed when the last gradient arrived."""

    def __init__(self) -> None:
        self.first_launch = self.backward_end = self.end = None
        self.in_flight_s = self.wait_s = self.done_early = 0.0

    def start(self) -> None:
        self.first_launch = self.backward_end = self.end = None

    def launched(self) -> None:
        import time
        if self.first_launch is None:
            self.first_launch = time.perf_counter()

    def backward_done(self) -> None:
        import time
        self.backward_end = time.perf_counter()

    def finished(self) -> None:
        import time
        self.end = time.perf_counter()
        if self.first_launch is not None:
            self.in_flight_s = max(0.0, self.backward_end - self.first_launch)
            self.wait_s = self.end - self.backward_end
