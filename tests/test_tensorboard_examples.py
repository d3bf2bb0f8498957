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


def test_char_rnn_train_logs_each_batch_and_its_graph_scopes_the_lstm(tmp_path):
    ex = _example("char_rnn")
    from dualgraph.utils.tensorboard import SummaryWriter
    vocab, train_codes, _ = ex.load_text(ex.TEXT)
    dg.manual_seed(0)
    net = ex.CharRNN(len(vocab))
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(net, dg.from_numpy(train_codes[:2 * 8].reshape(2, 8)))
        losses = ex.train(net, train_codes[:4 * 16 * 17], epochs=1, batch_size=16, seq_len=16,
                          progress=False, writer=writer)
    logs = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0})
    logs.Reload()
    assert [(e.step, e.value) for e in logs.Scalars("train/loss")] == \
        [(i + 1, np.float32(v)) for i, v in enumerate(losses)]
    assert {e.value for e in logs.Scalars("train/lr")} == {np.float32(5e-3)}
    assert set(logs.Tags()["histograms"]) == {n for n, _ in net.named_parameters()}
    graph = logs.Graph().node
    assert {"embed/weight", "lstm/weight_ih_l0", "head/weight", "output/0"} <= {
        n.name for n in graph}
    scoped = lambda scope: {n.op for n in graph if n.name.startswith(scope)}  # noqa: E731
    assert {"sigmoid", "tanh"} <= scoped("lstm/")  # the gates, inside the LSTM's box
    assert {"sigmoid", "tanh"}.isdisjoint(scoped("head/") | scoped("embed/"))
    assert scoped("head/") - {"Parameter"} and scoped("embed/") - {"Parameter"}
