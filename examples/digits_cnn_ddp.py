"""Train digits_cnn.py's CNN data-parallel: one process per MPI rank, each on its own shard.

Each rank reads its DistributedSampler shard of the training digits, DistributedDataParallel
averages the gradients across the ranks during backward, and every rank ends with the same
weights; rank 0 reports held-out accuracy and saves them.

    pip install -e ".[examples,distributed]"
    mpiexec -n 2 python examples/digits_cnn_ddp.py [--epochs 3] [--seed 0] [--batch-size 32]
                                                   [--limit N] [--out runs/digits_cnn_ddp]

`--batch-size` is per process: with 2 processes each step sees twice as many samples as one.
Writes `<out>/weights.dgm` (rank 0), loadable into `digits_cnn.CNN`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import accuracy, load_data  # noqa: E402
from digits_cnn import CNN  # noqa: E402

import dualgraph as torch  # noqa: E402
import dualgraph.distributed as dist  # noqa: E402
from dualgraph import nn  # noqa: E402
from dualgraph.nn.parallel import DistributedDataParallel as DDP  # noqa: E402
from dualgraph.utils.data import DataLoader, DistributedSampler, TensorDataset  # noqa: E402


def main(argv: list[str] | None = None) -> float:
    """Train on this rank's shards; returns the held-out accuracy (the same on every rank)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, help="train on the first LIMIT images (quick runs)")
    parser.add_argument("--out", default=os.path.join("runs", "digits_cnn_ddp"))
    args = parser.parse_args(argv)

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    start = time.perf_counter()
    xtr, ytr, xte, yte = load_data()
    xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    torch.manual_seed(args.seed)
    model = DDP(CNN())  # rank 0's initial weights on every rank
    data = TensorDataset(torch.from_numpy(xtr), torch.from_numpy(ytr))
    sampler = DistributedSampler(data, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same permutation on all ranks
        model.train()
        total = torch.zeros(2)  # this rank's summed loss and batch count
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()  # gradients averaged across the ranks here
            optimizer.step()
            total += torch.tensor([loss.item(), 1.0])
        dist.all_reduce(total)
        acc = accuracy(model.module, xte, yte)
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs} processes={world} "
                  f"loss={total[0].item() / total[1].item():.4f} held-out acc={acc:.3f}",
                  flush=True)
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes()
                                     for p in model.module.parameters())).hexdigest()
    digests = [None] * world
    dist.all_gather_object(digests, digest)  # plain strings travel as JSON
    if len(set(digests)) != 1:
        raise RuntimeError(f"the replicas' weights differ across ranks: {digests}")
    if rank == 0:
        print(f"weights identical on all {world} ranks (sha256 {digest[:12]})", flush=True)
        os.makedirs(args.out, exist_ok=True)
        torch.save(model.module.state_dict(), os.path.join(args.out, "weights.dgm"))
        print(f"saved {os.path.join(args.out, 'weights.dgm')}; accuracy={acc:.4f}; "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    dist.destroy_process_group()
    return acc


if __name__ == "__main__":
    main()
