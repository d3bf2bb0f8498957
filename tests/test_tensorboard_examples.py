"""`--tensorboard DIR` on examples/mnist_mlp.py: a one-epoch run's logs, read back with
TensorBoard's EventAccumulator, hold every batch's loss and learning rate, the epoch's accuracy,
histograms of the trained weights (compared with the saved weights file) and the graph."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import dualgraph as dg

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str):
    for extra in ("sklearn", "tqdm", "matplotlib"):
        pytest.importorskip(extra, reason="the examples extra is not installed")
    spec = importlib.util.spec_from_file_location(f"dualgraph_tb_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_mlp_logs_loss_lr_accuracy_histograms_and_graph(tmp_path, capsys):
    ex = _example("mnist_mlp")
    acc = ex.main(["--epochs", "1", "--out", str(tmp_path / "out"),
                   "--tensorboard", str(tmp_path / "tb")])
    logs = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0})
    logs.Reload()
    batches = -(-1438 // 64)  # the digits' training split, 64 a batch
    loss = logs.Scalars("train/loss")
    assert [e.step for e in loss] == list(range(1, batches + 1))
    assert all(0 < e.value < 5 for e in loss) and loss[-1].value < loss[0].value
    assert {e.value for e in logs.Scalars("train/lr")} == {np.float32(0.1)}
    assert [e.step for e in logs.Scalars("train/accuracy")] == [batches]
    assert logs.Scalars("test/accuracy")[0].value == np.float32(acc)
    weights = dg.load(tmp_path / "out" / "weights.dgm")
    assert set(logs.Tags()["histograms"]) == set(weights)
    for name, tensor in weights.items():
        (event,) = logs.Histograms(name)
        h, w = event.histogram_value, tensor.numpy()
        assert event.step == batches and (h.num, h.min, h.max) == (w.size, w.min(), w.max())
    names = {n.name for n in logs.Graph().node}
    assert {"input/x", "flatten/reshape", "fc1/weight", "fc1/addmm", "relu/relu", "fc2/addmm",
            "output/0"} <= names
