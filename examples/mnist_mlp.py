"""Train the PyTorch tutorials' MNIST MLP with dualgraph, save its weights, reload them.

By default the data is scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download),
resized to MNIST's 28x28 so the network is exactly the tutorials' one. Pass `--mnist DIR` with
the four MNIST idx files (`train-images-idx3-ubyte[.gz]`, ...) to train on real MNIST instead.

    pip install -e ".[examples]"
    python examples/mnist_mlp.py [--epochs 10] [--seed 0] [--mnist DIR] [--out runs/mnist_mlp]
                                 [--tensorboard DIR]

Writes `<out>/weights.dgm` (dg.save of the state dict) and `<out>/loss.png` (the loss curve),
With `--tensorboard DIR` (the `tensorboard` extra) it also logs the loss, learning rate,
accuracy, weight histograms and the network's graph for `tensorboard --logdir DIR`. It then
scripts the reloaded network (torch.jit.script), saves it to `<out>/scripted.dgm`, loads it
with torch.jit.load and checks that its held-out predictions are the eager network's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # `common` is this folder's sibling module, however the script starts
    sys.path.insert(0, HERE)

# common stops with a message naming the examples extra when tqdm/matplotlib are missing.
from common import (accuracy, check_scripted, close_dashboard,  # noqa: E402,F401
                    load_data, load_digits_28, load_mnist, open_dashboard, plot_losses,
                    read_idx, resize_bilinear, script_and_reload, train)

import dualgraph as torch  # noqa: E402
from dualgraph import nn  # noqa: E402

try:
    from dualgraph import save
except ImportError:  # until the top-level export lands
    from dualgraph.saving import save


class Net(nn.Module):
    """The tutorials' MLP: 28x28 image -> 128 hidden units -> 10 class logits."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(784, 128)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: Any) -> Any:
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


def main(argv: list[str] | None = None) -> float:
    """Train, plot, save the weights, reload them into a fresh Net and report test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mnist", metavar="DIR", help="folder with the MNIST idx files")
    parser.add_argument("--out", default=os.path.join("runs", "mnist_mlp"))
    parser.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    xtr, ytr, xte, yte = load_data(args.mnist)
    print(f"train {xtr.shape}, test {xte.shape}")
    torch.manual_seed(args.seed)  # the initial weights
    net = Net()
    writer = open_dashboard(args.tensorboard)
    if writer is not None:
        writer.add_graph(net, torch.from_numpy(xtr[:args.batch_size]))
    losses = train(net, xtr, ytr, args.epochs, args.lr, args.batch_size, args.seed,
                   writer=writer)

    os.makedirs(args.out, exist_ok=True)
    plot_path, weights = os.path.join(args.out, "loss.png"), os.path.join(args.out, "weights.dgm")
    plot_losses(losses, plot_path, "MNIST MLP training loss")
    save(net.state_dict(), weights)

    fresh = Net()  # inference from the saved file only
    fresh.load_state_dict(torch.load(weights, weights_only=True))
    acc = accuracy(fresh, xte, yte)
    if writer is not None:
        writer.add_scalar("test/accuracy", acc, len(losses))
        close_dashboard(writer)
    scripted_path = os.path.join(args.out, "scripted.dgm")
    loaded, diff = check_scripted(fresh, xte, scripted_path)  # script -> save -> jit.load
    print(f"held-out accuracy {acc:.4f} ({len(yte)} images), scripted model "
          f"{accuracy(loaded, xte, yte):.4f} (same predictions, max |scripted - eager| = "
          f"{diff:.2e}); weights {weights}, scripted {scripted_path}, loss curve {plot_path}; "
          f"{time.perf_counter() - start:.1f} s")
    return acc


if __name__ == "__main__":
    main()
