"""Train a small CNN on the same 28x28 digits as mnist_mlp.py, then deploy it as a static graph.

After training it saves the weights (dg.save of the state dict), traces the network with a
symbolic batch dimension (dg.jit.trace(..., dynamic_dims={0: "B"})), saves the traced graph,
loads it back and checks that it gives the eager network's outputs on the held-out images. It
also scripts the network (torch.jit.script), saves and reloads that, and checks it the same way.

    pip install -e ".[examples]"
    python examples/digits_cnn.py [--epochs 4] [--seed 0] [--mnist DIR] [--out runs/digits_cnn]
                                  [--tensorboard DIR]

Writes `<out>/weights.dgm`, `<out>/cnn_graph.dgm` (the traced graph), `<out>/scripted.dgm` (the
scripted one) and `<out>/loss.png`; with `--tensorboard DIR` (the `tensorboard` extra) also
TensorBoard logs: loss, learning rate, accuracy, weight histograms and the network's graph.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # `common` is this folder's sibling module, however the script starts
    sys.path.insert(0, HERE)

# common stops with a message naming the examples extra when tqdm/matplotlib are missing.
from common import (accuracy, check_scripted, close_dashboard, load_data,  # noqa: E402
                    open_dashboard, plot_losses, predict, train)

import dualgraph as torch  # noqa: E402
from dualgraph import nn  # noqa: E402


class CNN(nn.Module):
    """Two 3x3 conv + ReLU + 2x2 max-pool stages (1 -> 8 -> 16 channels, 28 -> 14 -> 7 pixels),
    then a linear layer to 10 class logits."""

    def __init__(self, channels: tuple[int, int] = (8, 16)) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 7 * 7, 10))

    def forward(self, x: Any) -> Any:
        # The digits come as (N, 28, 28); convolutions want a channel axis: (N, 1, 28, 28).
        return self.classifier(self.features(x.unsqueeze(1)))


def trace_and_save(net: CNN, example: np.ndarray, path: str) -> Any:
    """Trace `net` (in eval mode) with a symbolic batch dimension B and save the graph to `path`;
    returns the traced function."""
    net.eval()
    traced = torch.jit.trace(net, torch.from_numpy(example), dynamic_dims={0: "B"})
    torch.jit.save(traced, path)
    return traced


def check_graph(net: CNN, path: str, x: np.ndarray) -> float:
    """Load the saved graph and return its largest absolute difference from eager `net` on `x`."""
    loaded = torch.jit.load(path)
    return float(np.abs(predict(loaded, x) - predict(net, x)).max())


def main(argv: list[str] | None = None) -> float:
    """Train, plot, save the weights, trace/save/load the graph, report held-out accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mnist", metavar="DIR", help="folder with the MNIST idx files")
    parser.add_argument("--out", default=os.path.join("runs", "digits_cnn"))
    parser.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    xtr, ytr, xte, yte = load_data(args.mnist)
    print(f"train {xtr.shape}, test {xte.shape}")
    torch.manual_seed(args.seed)  # the initial weights
    net = CNN()
    writer = open_dashboard(args.tensorboard)
    if writer is not None:
        writer.add_graph(net, torch.from_numpy(xtr[:args.batch_size]))
    losses = train(net, xtr, ytr, args.epochs, args.lr, args.batch_size, args.seed,
                   momentum=args.momentum, writer=writer)

    os.makedirs(args.out, exist_ok=True)
    plot_path = os.path.join(args.out, "loss.png")
    weights, graph = os.path.join(args.out, "weights.dgm"), os.path.join(args.out, "cnn_graph.dgm")
    plot_losses(losses, plot_path, "digits CNN training loss")
    torch.save(net.state_dict(), weights)

    fresh = CNN()  # inference from the saved weights only
    fresh.load_state_dict(torch.load(weights, weights_only=True))
    acc = accuracy(fresh, xte, yte)
    if writer is not None:
        writer.add_scalar("test/accuracy", acc, len(losses))
        close_dashboard(writer)
    trace_and_save(fresh, xte[:8], graph)  # traced at batch 8, run below at any batch size
    diff = check_graph(fresh, graph, xte)
    graph_acc = accuracy(torch.jit.load(graph), xte, yte)
    scripted_path = os.path.join(args.out, "scripted.dgm")
    scripted, script_diff = check_scripted(fresh, xte, scripted_path)  # script -> save -> load
    print(f"held-out accuracy {acc:.4f} ({len(yte)} images), traced graph {graph_acc:.4f} "
          f"(max |graph - eager| = {diff:.2e}), scripted model {accuracy(scripted, xte, yte):.4f} "
          f"(same predictions, max |scripted - eager| = {script_diff:.2e}); weights {weights}, "
          f"graph {graph}, scripted {scripted_path}, loss curve {plot_path}; "
          f"{time.perf_counter() - start:.1f} s")
    return acc


if __name__ == "__main__":
    main()
