"""DistributedDataParallel on this machine: steps per second for 1 and 2 processes, and how much
of the gradient all-reduce hides behind backward.

Run it under the MPI launcher, once per process count:

    mpiexec -n 1 python benchmarks/ddp_bench.py
    mpiexec -n 2 python benchmarks/ddp_bench.py [--steps 40] [--batch 64] [--bucket-mb 25]

Each rank trains the tutorials' Net (784-128-10) and the examples' CNN (28x28, 8 and 16
channels) on its own batch of `--batch` samples (weak scaling: 2 processes do twice the work per
step). BLAS is held to one thread per process. Reported per model: steps/s and samples/s; with
2 processes also `exposed`, the time the end of backward waited for the all-reduces (median per
step), `alone`, the median time the same buckets take to all-reduce with nothing else running,
hidden = 1 - exposed / alone, the fraction of communication that overlapped backward, and
done_at_backward_end, the share of gradient bytes whose all-reduce had completed by the time the
last gradient arrived. `exposed` also holds the time waiting for a slower rank to finish its own
backward, so on a shared machine it over-states communication; done_at_backward_end does not.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import dualgraph as dg  # noqa: E402
import dualgraph.distributed as dist  # noqa: E402
import dualgraph.nn as nn  # noqa: E402
import dualgraph.nn.functional as F  # noqa: E402
from dualgraph.nn.parallel import DistributedDataParallel as DDP  # noqa: E402


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 128), nn.Linear(128, 10)

    def forward(self, x: dg.Tensor) -> dg.Tensor:
        return self.fc2(dg.relu(self.fc1(dg.flatten(x, 1))))


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 10))

    def forward(self, x: dg.Tensor) -> dg.Tensor:
        return self.classifier(self.features(x))


def bench(make: type, steps: int, batch: int, bucket_mb: float) -> dict:
    rank, size = dist.get_rank(), dist.get_world_size()
    dg.manual_seed(0)
    model = DDP(make(), bucket_cap_mb=bucket_mb)
    opt = dg.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(rank)
    x = dg.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = dg.tensor(rng.integers(0, 10, batch))
    waits, early = [], []
    for step in range(steps + 5):
        if step == 5:
            dist.barrier()
            start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if step >= 5:
            waits.append(model.reducer.overlap.wait_s)
            early.append(model.reducer.overlap.done_early)
    dist.barrier()
    seconds = time.perf_counter() - start
    alone = []
    for _ in range(20):  # the same buckets, all-reduced with nothing else to do
        dist.barrier()
        t0 = time.perf_counter()
        works = [dist.all_reduce(dg.from_numpy(b.flat), async_op=True)
                 for b in model.reducer.buckets]
        for w in works:
            w.wait()
        alone.append(time.perf_counter() - t0)
    exposed, comm = float(np.median(waits)), float(np.median(alone))
    return {"steps/s": steps / seconds, "samples/s": steps * batch * size / seconds,
            "exposed_ms": exposed * 1e3, "alone_ms": comm * 1e3,
            "hidden": max(0.0, 1 - exposed / comm) if size > 1 else None,
            "buckets": len(model.reducer.buckets), "done_early": float(np.mean(early))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--bucket-mb", type=float, default=25.0)
    args = parser.parse_args()
    dist.init_process_group("gloo")
    for make in (Net, CNN):
        r = bench(make, args.steps, args.batch, args.bucket_mb)
        if dist.get_rank() == 0:
            hidden = "-" if r["hidden"] is None else f"{100 * r['hidden']:.0f}%"
            print(f"{make.__name__:4s} processes={dist.get_world_size()} batch/rank={args.batch} "
                  f"buckets={r['buckets']} steps/s={r['steps/s']:.1f} "
                  f"samples/s={r['samples/s']:.0f} exposed={r['exposed_ms']:.2f}ms "
                  f"alone={r['alone_ms']:.2f}ms hidden={hidden} "
                  f"done_at_backward_end={100 * r['done_early']:.0f}%", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
