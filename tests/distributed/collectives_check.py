"""Run under `mpiexec -n N`: every collective of dg.distributed against NumPy, on each rank.

Each rank builds the same per-rank inputs (seeded by rank) and computes the expected result with
NumPy from all ranks' inputs, then compares with what the collective wrote. Prints one line
"rank R ok N checks" on success; any mismatch raises (and the abort hook ends the job).
"""

from __future__ import annotations

import numpy as np

import dualgraph as dg
import dualgraph.distributed as dist

dist.init_process_group("gloo")
rank, size = dist.get_rank(), dist.get_world_size()
checks = 0


def inputs(r: int, shape: tuple = (3, 4), dtype: str = "float32") -> np.ndarray:
    rng = np.random.default_rng(100 + r)
    if dtype.startswith("int"):
        return rng.integers(-9, 9, shape).astype(dtype)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    return rng.standard_normal(shape).astype(dtype)


def same(got: dg.Tensor | np.ndarray, want: np.ndarray, what: str, exact: bool = False) -> None:
    global checks
    got = got.numpy() if isinstance(got, dg.Tensor) else got
    assert got.dtype == want.dtype, (what, got.dtype, want.dtype)
    if exact:
        assert np.array_equal(got, want), (what, rank, got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{what} rank {rank}")
    checks += 1


every = [inputs(r) for r in range(size)]
NP = {dist.ReduceOp.SUM: lambda a: np.sum(a, 0), dist.ReduceOp.PRODUCT: lambda a: np.prod(a, 0),
      dist.ReduceOp.MIN: lambda a: np.min(a, 0), dist.ReduceOp.MAX: lambda a: np.max(a, 0),
      dist.ReduceOp.AVG: lambda a: np.sum(a, 0) / len(a)}
for op, ref in NP.items():
    t = dg.tensor(every[rank])
    dist.all_reduce(t, op=op)
    same(t, ref(np.stack(every)).astype(np.float32), f"all_reduce {op}")

for dtype in ("int64", "int32", "float64"):  # dtypes pass through as they are
    arrs = [inputs(r, (5,), dtype) for r in range(size)]
    t = dg.tensor(arrs[rank])
    dist.all_reduce(t)
    same(t, np.sum(np.stack(arrs), 0).astype(dtype), f"all_reduce {dtype}",
         exact=dtype != "float64")
ints = [inputs(r, (6,), "int64") for r in range(size)]
for op, ref in ((dist.ReduceOp.BAND, np.bitwise_and), (dist.ReduceOp.BOR, np.bitwise_or),
                (dist.ReduceOp.BXOR, np.bitwise_xor)):
    t = dg.tensor(ints[rank])
    dist.all_reduce(t, op=op)
    same(t, ref.reduce(np.stack(ints), 0), f"all_reduce {op}", exact=True)
bools = [inputs(r, (7,), "bool") for r in range(size)]
t = dg.tensor(bools[rank])
dist.all_reduce(t)  # a bool sum is a logical or
same(t, np.logical_or.reduce(np.stack(bools), 0), "all_reduce bool", exact=True)

# in place on a non-contiguous view: the base's other elements stay as they were
base = dg.tensor(every[rank])
view = base.t()[1:3]
dist.all_reduce(view)
want = every[rank].copy()
want.T[1:3] = np.sum(np.stack(every), 0).T[1:3]
same(base, want, "all_reduce into a transposed view")

# async_op returns a Work; the result lands at wait()
t = dg.tensor(every[rank])
work = dist.all_reduce(t, async_op=True)
assert isinstance(work, dist.Work), work
work.wait()
assert work.is_completed()
same(t, np.sum(np.stack(every), 0), "all_reduce async")

for src in range(size):
    t = dg.tensor(every[rank])
    dist.broadcast(t, src=src)
    same(t, every[src], f"broadcast src={src}", exact=True)
t = dg.tensor(every[rank])
dist.broadcast(t, group_src=size - 1, async_op=True).wait()
same(t, every[size - 1], "broadcast async group_src", exact=True)

outs = [dg.zeros(3, 4) for _ in range(size)]
dist.all_gather(outs, dg.tensor(every[rank]))
for r in range(size):
    same(outs[r], every[r], f"all_gather [{r}]", exact=True)

out = dg.zeros(3 * size, 4)
dist.all_gather_into_tensor(out, dg.tensor(every[rank]))
same(out, np.concatenate(every), "all_gather_into_tensor concat", exact=True)
out = dg.zeros(size, 3, 4)
dist.all_gather_into_tensor(out, dg.tensor(every[rank]), async_op=True).wait()
same(out, np.stack(every), "all_gather_into_tensor stacked", exact=True)

big = [inputs(r, (2 * size, 3)) for r in range(size)]
total = np.sum(np.stack(big), 0)
for op, scale in ((dist.ReduceOp.SUM, 1), (dist.ReduceOp.AVG, size)):
    out = dg.zeros(2, 3)
    dist.reduce_scatter_tensor(out, dg.tensor(big[rank]), op=op)
    same(out, (total[2 * rank:2 * rank + 2] / scale).astype(np.float32),
         f"reduce_scatter_tensor {op}")
out = dg.zeros(2, 3)
dist.reduce_scatter(out, [dg.tensor(c) for c in np.split(big[rank], size)])
same(out, total[2 * rank:2 * rank + 2], "reduce_scatter")

for dst in range(size):
    t = dg.tensor(every[rank])
    dist.reduce(t, dst=dst, op=dist.ReduceOp.MAX)
    same(t, np.max(np.stack(every), 0) if rank == dst else every[rank], f"reduce dst={dst}",
         exact=True)

for root in range(size):
    gathered = [dg.zeros(3, 4) for _ in range(size)] if rank == root else None
    dist.gather(dg.tensor(every[rank]), gathered, dst=root)
    if rank == root:
        for r in range(size):
            same(gathered[r], every[r], f"gather dst={root} [{r}]", exact=True)
    pieces = [dg.tensor(every[r] * (root + 1)) for r in range(size)] if rank == root else None
    got = dg.zeros(3, 4)
    dist.scatter(got, pieces, src=root, async_op=True).wait()
    same(got, every[rank] * (root + 1), f"scatter src={root}", exact=True)
try:
    dist.gather(dg.ones(2), [dg.ones(2)] * size, dst=(rank + 1) % size)
except ValueError as e:
    assert "must NOT be specified on non-root ranks" in str(e), e
    checks += 1
else:
    raise AssertionError("gather_list accepted on a non-root rank") if size > 1 else None

# point to point: a ring, blocking and non-blocking, then a receive from any source
right, left = (rank + 1) % size, (rank - 1) % size
got = dg.zeros(3, 4)
if rank % 2 == 0:
    dist.send(dg.tensor(every[rank]), dst=right)
    sender = dist.recv(got, src=left)
else:
    sender = dist.recv(got, src=left)
    dist.send(dg.tensor(every[rank]), dst=right)
assert sender == left
same(got, every[left], "send/recv ring", exact=True)
got = dg.zeros(3, 4)
works = [dist.isend(dg.tensor(every[rank]), dst=right, tag=7),
         dist.irecv(got, src=left, tag=7)]
for w in works:
    w.wait()
same(got, every[left], "isend/irecv ring", exact=True)
if rank == 0:
    senders = set()
    for _ in range(size - 1):
        got = dg.zeros(3, 4)
        work = dist.irecv(got)
        src = work.source_rank()
        senders.add(src)
        same(got, every[src], f"irecv from any source ({src})", exact=True)
    assert senders == set(range(1, size)), senders
else:
    dist.send(dg.tensor(every[rank]), dst=0)

# objects travel as JSON with tags: tuples, int keys, bytes and non-finite floats survive
mine = {"rank": rank, "pair": (rank, "x"), 3: [1.5, None, True], "raw": b"\x00\xff",
        "inf": float("-inf")}
gathered = [None] * size
dist.all_gather_object(gathered, mine)
for r in range(size):
    expected = {"rank": r, "pair": (r, "x"), 3: [1.5, None, True], "raw": b"\x00\xff",
                "inf": float("-inf")}
    assert gathered[r] == expected, (gathered[r], expected)
checks += 1
objs = [{"lr": 0.1 * (rank + 1)}, ("step", rank)] if rank == 1 else [None, None]
dist.broadcast_object_list(objs, src=1)
assert objs == [{"lr": 0.2}, ("step", 1)], objs
checks += 1
try:
    dist.all_gather_object([None] * size, object())
except TypeError as e:
    assert "never pickle" in str(e) and "object" in str(e), e
    checks += 1
else:
    raise AssertionError("an arbitrary object was sent")

# a group of the even ranks: only they take part, src/dst stay global ranks
evens = list(range(0, size, 2))
g = dist.new_group(evens)
if rank in evens:
    assert dist.get_world_size(g) == len(evens) and dist.get_rank(g) == evens.index(rank)
    t = dg.tensor(every[rank])
    dist.all_reduce(t, group=g)
    same(t, np.sum(np.stack([every[r] for r in evens]), 0), "all_reduce on a group")
    t = dg.tensor(every[rank])
    dist.broadcast(t, src=evens[-1], group=g)
    same(t, every[evens[-1]], "broadcast on a group (global src)", exact=True)
else:
    assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
    t = dg.tensor(every[rank])
    assert dist.all_reduce(t, group=g) is None
    same(t, every[rank], "non-member left alone", exact=True)

dist.barrier()
dist.barrier(async_op=True).wait()
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank} ok {checks} checks", flush=True)
