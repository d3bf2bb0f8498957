"""Train the PyTorch tutorials' MNIST MLP with dualgraph, save its weights, reload them.

By default the data is scikit-learn's bundled 8x8 handwritten digits (1,797 images, no download),
resized to MNIST's 28x28 so the network is exactly the tutorials' one. Pass `--mnist DIR` with
the four MNIST idx files (`train-images-idx3-ubyte[.gz]`, ...) to train on real MNIST instead.

    pip install -e ".[examples]"
    python examples/mnist_mlp.py [--epochs 10] [--seed 0] [--mnist DIR] [--out runs/mnist_mlp]

Writes `<out>/weights.dgm` (dg.save of the state dict) and `<out>/loss.png` (the loss curve).
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import time
from typing import Any

import numpy as np

try:
    import matplotlib
    matplotlib.use("Agg")  # write PNGs without a display
    import matplotlib.pyplot as plt
    from tqdm import tqdm
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(f"examples/mnist_mlp.py needs tqdm, matplotlib and scikit-learn ({exc}); "
                     "install them with: pip install -e \".[examples]\"") from exc

import dualgraph as torch
from dualgraph import nn
from dualgraph.utils.data import DataLoader, TensorDataset

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


# ------------------------------------------------------------------------------------ data

def read_idx(path: str) -> np.ndarray:
    """An MNIST idx file (optionally gzipped) as a NumPy array: magic 0x0000 0x08 <ndim>,
    then big-endian uint32 dims, then uint8 data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file (magic {data[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} bytes of data, found {body.size}")
    return body.reshape(dims)


def _find(folder: str, stem: str) -> str:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"{folder}: no {stem}[.gz]")


def load_mnist(folder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Real MNIST from its four idx files: float32 images in [0, 1], int64 labels."""
    parts = [read_idx(_find(folder, f"{split}-{kind}"))
             for split in ("train", "t10k")
             for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
    (xtr, ytr), (xte, yte) = parts[:2], parts[2:]
    return (xtr.astype(np.float32) / 255, ytr.astype(np.int64),
            xte.astype(np.float32) / 255, yte.astype(np.int64))


def resize_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, h, w) images to (N, size, size), pixel centres aligned."""
    n, h, w = images.shape

    def grid(src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(size) + 0.5) * src / size - 0.5, 0, src - 1)
        lo = np.floor(pos).astype(int)
        return lo, np.minimum(lo + 1, src - 1), pos - lo

    y0, y1, fy = grid(h)
    x0, x1, fx = grid(w)
    rows = images[:, y0] * (1 - fy)[:, None] + images[:, y1] * fy[:, None]
    return rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx


def load_digits_28(test_fraction: float = 0.2, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits resized to 28x28, split into train and held-out test sets."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise SystemExit("the digits data needs scikit-learn; install the examples extra: "
                         "pip install -e \".[examples]\"") from exc
    digits = load_digits()
    x = resize_bilinear(digits.images.astype(np.float32) / 16, 28).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def load_data(mnist_dir: str | None = None) -> tuple[np.ndarray, ...]:
    """(train images, train labels, test images, test labels): MNIST if a folder is given."""
    return load_mnist(mnist_dir) if mnist_dir else load_digits_28()


# -------------------------------------------------------------------------------- training

def train(net: Net, x: np.ndarray, y: np.ndarray, epochs: int = 5, lr: float = 0.1,
          batch_size: int = 64, seed: int = 0, progress: bool = True) -> list[float]:
    """SGD on cross-entropy; returns the loss of every batch (the bar shows loss and accuracy)."""
    torch.manual_seed(seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                        batch_size=batch_size, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    net.train()
    for epoch in range(epochs):
        correct = seen = 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress,
                   leave=True, file=sys.stdout)
        for xb, yb in bar:
            logits = net(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", acc=f"{correct / seen:.3f}")
    return losses


def accuracy(net: Net, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """The fraction of `x` that `net` classifies as `y` (no autograd)."""
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits = net(torch.from_numpy(x[i:i + batch_size]))
            correct += (logits.argmax(1).numpy() == y[i:i + batch_size]).sum()
    return float(correct) / len(y)


def plot_losses(losses: list[float], path: str) -> None:
    """The per-batch training loss, with a moving average, as a PNG."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, alpha=0.4, label="batch loss")
    k = min(20, len(losses))
    if k > 1:
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k - 1, len(losses)), smooth, label=f"mean of {k}")
    ax.set_xlabel("batch")
    ax.set_ylabel("cross-entropy")
    ax.set_title("MNIST MLP training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> float:
    """Train, plot, save the weights, reload them into a fresh Net and report test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mnist", metavar="DIR", help="folder with the MNIST idx files")
    parser.add_argument("--out", default=os.path.join("runs", "mnist_mlp"))
    args = parser.parse_args(argv)

    start = time.perf_counter()
    xtr, ytr, xte, yte = load_data(args.mnist)
    print(f"train {xtr.shape}, test {xte.shape}")
    torch.manual_seed(args.seed)  # the initial weights
    net = Net()
    losses = train(net, xtr, ytr, args.epochs, args.lr, args.batch_size, args.seed)

    os.makedirs(args.out, exist_ok=True)
    plot_path, weights = os.path.join(args.out, "loss.png"), os.path.join(args.out, "weights.dgm")
    plot_losses(losses, plot_path)
    save(net.state_dict(), weights)

    fresh = Net()  # inference from the saved file only
    fresh.load_state_dict(torch.load(weights, weights_only=True))
    acc = accuracy(fresh, xte, yte)
    print(f"held-out accuracy {acc:.4f} ({len(yte)} images); weights {weights}, "
          f"loss curve {plot_path}; {time.perf_counter() - start:.1f} s")
    return acc


if __name__ == "__main__":
    main()
