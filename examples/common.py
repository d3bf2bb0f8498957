"""What the examples share: the data (scikit-learn's digits at 28x28, or real MNIST), the
training loop with its tqdm bar, held-out accuracy, the loss-curve plot and the scripted-model
round trip (`torch.jit.script` -> save -> `torch.jit.load`).

The examples import it as a sibling module (`import common`); each script puts its own folder on
`sys.path` first so that this works however it is started.
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
from typing import Any, Iterable

import numpy as np

try:
    import matplotlib
    matplotlib.use("Agg")  # write PNGs without a display
    import matplotlib.pyplot as plt
    from tqdm import tqdm
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit(f"the examples need tqdm, matplotlib and scikit-learn ({exc}); "
                     "install them with: pip install -e \".[examples]\"") from exc

import dualgraph as torch
from dualgraph import nn
from dualgraph.utils.data import DataLoader, TensorDataset

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

def progress_bar(iterable: Iterable, desc: str, enabled: bool = True) -> Any:
    """A tqdm bar on stdout (one line per epoch kept), or the bare iterable when disabled."""
    return tqdm(iterable, desc=desc, disable=not enabled, leave=True, file=sys.stdout)


# ------------------------------------------------------------------------------- TensorBoard

def open_dashboard(log_dir: str | None) -> Any:
    """A SummaryWriter on `log_dir` (the examples' `--tensorboard DIR`), or None without it."""
    if log_dir is None:
        return None
    try:
        from dualgraph.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise SystemExit(f"--tensorboard: {exc}") from exc
    return SummaryWriter(log_dir)


def close_dashboard(writer: Any) -> None:
    """Flush and close the writer, and say how to look at what it wrote."""
    writer.close()
    print(f"TensorBoard logs in {writer.get_logdir()}: tensorboard --logdir "
          f"{writer.get_logdir()}")


def log_batch(writer: Any, step: int, loss: float, optimizer: Any) -> None:
    """A training batch's loss and learning rate, at the batch's global step."""
    if writer is not None:
        writer.add_scalar("train/loss", loss, step)
        writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)


def log_epoch(writer: Any, net: nn.Module, step: int, accuracy: float) -> None:
    """The epoch's training accuracy and a histogram of every parameter, at the epoch's last
    global step."""
    if writer is not None:
        writer.add_scalar("train/accuracy", accuracy, step)
        for name, param in net.named_parameters():
            writer.add_histogram(name, param, step)


def train(net: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int = 5, lr: float = 0.1,
          batch_size: int = 64, seed: int = 0, progress: bool = True,
          momentum: float = 0.0, writer: Any = None) -> list[float]:
    """SGD on cross-entropy; returns the loss of every batch (the bar shows loss and accuracy).
    With a SummaryWriter, logs each batch's loss and learning rate, and each epoch's accuracy
    and parameter histograms."""
    torch.manual_seed(seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                        batch_size=batch_size, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    losses: list[float] = []
    net.train()
    for epoch in range(epochs):
        correct = seen = 0
        bar = progress_bar(loader, f"epoch {epoch + 1}/{epochs}", progress)
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
            log_batch(writer, len(losses), losses[-1], optimizer)
        log_epoch(writer, net, len(losses), correct / seen)
    return losses


def predict(net: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The logits of `net` (a module or a traced function) on `x`, batch by batch, no autograd."""
    if isinstance(net, nn.Module):
        net.eval()
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(x[i:i + batch_size])).numpy()
                               for i in range(0, len(x), batch_size)])


def accuracy(net: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """The fraction of `x` that `net` classifies as `y`."""
    return float((predict(net, x, batch_size).argmax(1) == y).mean())


def script_and_reload(net: nn.Module, example: np.ndarray, path: str) -> Any:
    """Script the trained `net` (`torch.jit.script(net)`, in eval mode, the batch dimension kept
    symbolic so one graph serves every batch size), compile it on `example`, save the compiled
    graph to `path` (a `.dgm` file) and return what `torch.jit.load(path)` reads back."""
    net.eval()
    scripted = torch.jit.script(net, dynamic_dims={0: "B"})
    with torch.no_grad():
        scripted(torch.from_numpy(example))
    scripted.save(path)
    return torch.jit.load(path)


def check_scripted(net: nn.Module, x: np.ndarray, path: str) -> tuple[Any, float]:
    """The scripted round trip of `net` (script_and_reload) checked on held-out images `x`: its
    predicted classes must be eager's. Returns (the loaded graph, its largest |logit - eager|)."""
    loaded = script_and_reload(net, x[:8], path)
    got, want = predict(loaded, x), predict(net, x)
    if not np.array_equal(got.argmax(1), want.argmax(1)):
        raise RuntimeError(f"the scripted model in {path} predicts differently from the eager one "
                           f"on {int((got.argmax(1) != want.argmax(1)).sum())} images")
    return loaded, float(np.abs(got - want).max())


def plot_losses(losses: list[float], path: str, title: str = "training loss",
                ylabel: str = "cross-entropy") -> None:
    """The per-batch training loss, with a moving average, as a PNG."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, alpha=0.4, label="batch loss")
    k = min(20, len(losses))
    if k > 1:
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k - 1, len(losses)), smooth, label=f"mean of {k}")
    ax.set_xlabel("batch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
