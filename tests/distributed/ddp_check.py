"""Run under `mpiexec -n N`: DistributedDataParallel against single-process training.

Each rank trains its DistributedSampler shard (padded to equal length when N does not divide the
dataset); a reference model in the same process trains on all ranks' shards concatenated. After
20 SGD-with-momentum steps both must agree within float32 rounding, and every rank's parameters
must equal the others'. Checked for the tutorials' Net (small buckets, so several all-reduces
overlap backward), the examples' CNN (default buckets) and the Net scripted, then no_sync
accumulation, SyncBatchNorm against BatchNorm on the whole batch, find_unused_parameters, and
the errors for unused parameters, a compiled training step and mismatched replicas.
"""

from __future__ import annotations

import numpy as np

import dualgraph as dg
import dualgraph.distributed as dist
import dualgraph.nn as nn
import dualgraph.nn.functional as F
from dualgraph.nn.parallel import DistributedDataParallel as DDP
from dualgraph.utils.data import DistributedSampler

dist.init_process_group("gloo")
rank, size = dist.get_rank(), dist.get_world_size()
STEPS, N = 20, 10


class Net(nn.Module):  # the tutorials' (seed 004) Net, narrower
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: dg.Tensor) -> dg.Tensor:
        return self.fc2(dg.relu(self.fc1(dg.flatten(x, 1))))


class CNN(nn.Module):  # examples/digits_cnn.py's CNN on 8x8 digits
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 2 * 2, 10))

    def forward(self, x: dg.Tensor) -> dg.Tensor:
        return self.classifier(self.features(x.unsqueeze(1)))


rng = np.random.default_rng(0)
X = rng.standard_normal((N, 8, 8)).astype(np.float32)
Y = rng.integers(0, 10, N)


def flat(model: nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])


def all_equal_across_ranks(vec: np.ndarray, what: str) -> None:
    every = [dg.zeros(vec.size) for _ in range(size)]
    dist.all_gather(every, dg.tensor(vec))
    for r, v in enumerate(every):
        assert np.array_equal(v.numpy(), vec), f"{what}: rank {r} differs from rank {rank}"


def train(make: type, bucket_cap_mb: float | None, script: bool = False) -> int:
    dg.manual_seed(0)
    reference = make()
    dg.manual_seed(100 + rank)  # different replicas: DDP must broadcast rank 0's
    replica = make()
    if rank == 0:
        replica.load_state_dict(reference.state_dict())
    model = DDP(dg.jit.script(replica) if script else replica, bucket_cap_mb=bucket_cap_mb)
    assert model.module is replica
    assert np.array_equal(flat(model.module), flat(reference)), "construction broadcast"
    opt = dg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ref_opt = dg.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    samplers = [DistributedSampler(range(N), size, r, shuffle=True, seed=3) for r in range(size)]
    for step in range(STEPS):
        for s in samplers:
            s.set_epoch(step)
        shards = [list(s) for s in samplers]
        mine = shards[rank]
        opt.zero_grad()
        F.cross_entropy(model(dg.tensor(X[mine])), dg.tensor(Y[mine])).backward()
        opt.step()
        every = sum(shards, [])
        ref_opt.zero_grad()
        F.cross_entropy(reference(dg.tensor(X[every])), dg.tensor(Y[every])).backward()
        ref_opt.step()
    np.testing.assert_allclose(flat(model.module), flat(reference), rtol=2e-4, atol=2e-5,
                               err_msg=f"{make.__name__} rank {rank}")
    all_equal_across_ranks(flat(model.module), make.__name__)
    assert model.reducer.rebuilt
    return len(model.reducer.buckets)


buckets_net = train(Net, bucket_cap_mb=0.001)  # ~1 KiB buckets: several per backward
buckets_cnn = train(CNN, bucket_cap_mb=None)
assert train(Net, bucket_cap_mb=None, script=True) == 1  # a scripted replica trains alike
assert buckets_net > 1 and buckets_cnn == 1, (buckets_net, buckets_cnn)

# no_sync: accumulate micro-batch a locally, sync on b == synced gradients of a + b
dg.manual_seed(0)
model = DDP(Net())
ref = Net()
ref.load_state_dict(model.module.state_dict())
Xa, Xb = rng.standard_normal((2, 4 * size, 8, 8)).astype(np.float32)
Ya, Yb = rng.integers(0, 10, (2, 4 * size))
part = slice(4 * rank, 4 * rank + 4)
with model.no_sync():
    F.cross_entropy(model(dg.tensor(Xa[part])), dg.tensor(Ya[part])).backward()
local = np.concatenate([p.grad.numpy().reshape(-1) for p in model.parameters()])
F.cross_entropy(model(dg.tensor(Xb[part])), dg.tensor(Yb[part])).backward()
(F.cross_entropy(ref(dg.tensor(Xa)), dg.tensor(Ya)) +
 F.cross_entropy(ref(dg.tensor(Xb)), dg.tensor(Yb))).backward()
got = np.concatenate([p.grad.numpy().reshape(-1) for p in model.parameters()])
want = np.concatenate([p.grad.numpy().reshape(-1) for p in ref.parameters()])
np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg="no_sync")
all_equal_across_ranks(got, "no_sync gradients")
if size > 1:
    assert not np.allclose(local, want), "no_sync communicated"


# SyncBatchNorm: statistics over every rank's samples == BatchNorm over the whole batch
class BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(3 * 8 * 8, 10))

    def forward(self, x: dg.Tensor) -> dg.Tensor:
        return self.net(x.unsqueeze(1))


dg.manual_seed(2)
reference = BNNet()
model = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(BNNet()))
assert isinstance(model.module.net[1], nn.SyncBatchNorm)
model.module.load_state_dict(reference.state_dict())
opt = dg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
ref_opt = dg.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
xs = rng.standard_normal((5, 3 * size, 8, 8)).astype(np.float32)
ys = rng.integers(0, 10, (5, 3 * size))
mine = slice(3 * rank, 3 * rank + 3)
for x, y in zip(xs, ys):
    opt.zero_grad()
    F.cross_entropy(model(dg.tensor(x[mine])), dg.tensor(y[mine])).backward()
    opt.step()
    ref_opt.zero_grad()
    F.cross_entropy(reference(dg.tensor(x)), dg.tensor(y)).backward()
    ref_opt.step()
for (name, got), want in zip(model.module.state_dict().items(), reference.state_dict().values()):
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-4, atol=2e-5,
                               err_msg=f"SyncBatchNorm {name} rank {rank}")
all_equal_across_ranks(flat(model.module), "SyncBatchNorm")
model.eval()
reference.eval()
np.testing.assert_allclose(model(dg.tensor(xs[0])).detach().numpy(),
                           reference(dg.tensor(xs[0])).detach().numpy(), rtol=1e-4, atol=1e-5)


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body, self.head_a, self.head_b = nn.Linear(4, 4), nn.Linear(4, 1), nn.Linear(4, 1)

    def forward(self, x: dg.Tensor, use_b: bool) -> dg.Tensor:
        h = self.body(x)
        return (self.head_b if use_b else self.head_a)(h)


# an unused parameter without find_unused_parameters: the next forward says what to do
model = DDP(TwoHeads())
x = dg.ones(2, 4)
model(x, False).sum().backward()
try:
    model(x, False)
except RuntimeError as e:
    assert "find_unused_parameters=True" in str(e), e
else:
    raise AssertionError("an unfinished reduction went unnoticed")

# find_unused_parameters: head_b is used on rank 0 only, so its gradient is half of rank 0's;
# head_a, unused on rank 0, gets the others' average; nothing used nowhere keeps grad None
dg.manual_seed(1)
model = DDP(TwoHeads(), find_unused_parameters=True)
plain = TwoHeads()
plain.load_state_dict(model.module.state_dict())
xs = rng.standard_normal((size, 2, 4)).astype(np.float32)
model(dg.tensor(xs[rank]), rank == 0).sum().backward()
for r in range(size):
    plain(dg.tensor(xs[r]), r == 0).sum().backward()
for (name, p), q in zip(model.module.named_parameters(), plain.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy() / size, rtol=1e-5, atol=1e-6,
                               err_msg=f"find_unused {name}")
model.zero_grad(set_to_none=True)
model(dg.tensor(xs[rank]), False).sum().backward()  # head_b unused everywhere
assert model.module.head_b.weight.grad is None and model.module.head_a.weight.grad is not None

# a training step compiled whole is refused: DDP's all-reduce is an eager backward hook
model = DDP(Net())
opt = dg.optim.SGD(model.parameters(), lr=0.1)


def step(x: dg.Tensor, y: dg.Tensor) -> dg.Tensor:
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


try:
    dg.jit.trace(step, (dg.tensor(X[:2]), dg.tensor(Y[:2])))
except RuntimeError as e:
    assert "cannot run inside a compiled training step" in str(e), e
else:
    raise AssertionError("DDP was captured into a compiled training step")

# replicas that differ are refused on every rank, naming the difference
try:
    DDP(nn.Linear(3, 2 + (rank == size - 1)))
except RuntimeError as e:
    assert "differs from rank" in str(e) and "weight" in str(e), e
else:
    raise AssertionError("mismatched replicas accepted") if size > 1 else None

dist.destroy_process_group()
print(f"rank {rank} ok buckets {buckets_net} {buckets_cnn}", flush=True)
