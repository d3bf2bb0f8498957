"""Train the tutorials' Net with its whole training step compiled, and time it against the eager
loop.

The step — forward, cross-entropy, `loss.backward()`, `optimizer.step()`, `zero_grad()` — is
captured once with `torch.jit.trace` as one graph (docs/TRAINING_STEP.md). Two copies of the Net
start from the same weights: one trains eagerly, one with the compiled step, on the same batches
(scikit-learn's bundled digits at 28x28, as examples/mnist_mlp.py). The script prints the time
per step of each, the largest difference between their losses and final weights, and both
held-out accuracies.

    pip install -e ".[examples]"
    python examples/compiled_step.py [--epochs 3] [--seed 0] [--lr 0.1] [--opt-level 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import accuracy, load_digits_28  # noqa: E402
from mnist_mlp import Net  # noqa: E402

import dualgraph as torch  # noqa: E402
from dualgraph import nn  # noqa: E402


def make_step(net: nn.Module, lr: float):
    """The training step of the tutorials, as a function of one batch."""
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()

    def train_step(x, y):
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return train_step


def run(step, batches: list) -> tuple[list[float], float]:
    """The loss of every batch and the median seconds per step (after two warm-up steps)."""
    losses, times = [], []
    for x, y in batches:
        start = time.perf_counter()
        loss = step(x, y)
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    return losses, float(np.median(times[2:]))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--opt-level", type=int, default=3)
    args = parser.parse_args(argv)

    xtr, ytr, xte, yte = load_digits_28()
    rng = np.random.default_rng(args.seed)
    batches = []
    for _ in range(args.epochs):
        order = rng.permutation(len(xtr))
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):
            idx = order[i:i + args.batch_size]
            batches.append((torch.from_numpy(xtr[idx]), torch.from_numpy(ytr[idx])))

    torch.manual_seed(args.seed)
    eager_net = Net()
    compiled_net = Net()
    compiled_net.load_state_dict(eager_net.state_dict())

    eager_losses, eager_s = run(make_step(eager_net, args.lr), batches)
    start = time.perf_counter()
    step = torch.jit.trace(make_step(compiled_net, args.lr), batches[0],
                           opt_level=args.opt_level)
    trace_s = time.perf_counter() - start
    compiled_losses, compiled_s = run(step, batches)

    loss_diff = max(abs(a - b) for a, b in zip(eager_losses, compiled_losses))
    weight_diff = max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
                      for p, q in zip(eager_net.parameters(), compiled_net.parameters()))
    result = {"steps": len(batches), "eager_ms": eager_s * 1e3, "compiled_ms": compiled_s * 1e3,
              "trace_s": trace_s, "loss_diff": loss_diff, "weight_diff": weight_diff,
              "eager_accuracy": accuracy(eager_net, xte, yte),
              "compiled_accuracy": accuracy(compiled_net, xte, yte),
              "final_loss": compiled_losses[-1]}
    print(f"{len(batches)} steps of batch {args.batch_size}: eager {result['eager_ms']:.2f} ms "
          f"a step, compiled {result['compiled_ms']:.2f} ms a step "
          f"({result['eager_ms'] / result['compiled_ms']:.1f}x; tracing took {trace_s:.2f} s)")
    print(f"largest difference: losses {loss_diff:.2e}, weights {weight_diff:.2e}; held-out "
          f"accuracy eager {result['eager_accuracy']:.4f}, compiled "
          f"{result['compiled_accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main()
