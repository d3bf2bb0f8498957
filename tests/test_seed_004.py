"""Seed 004's training step as the tutorial writes it, with `import dualgraph as torch`: the Net,
CrossEntropyLoss, SGD(lr=0.01), forward, backward, step — checked against NumPy — and its section
4.3 deployment lines (`torch.jit.script(net)`, `.compile()`, `.eval()`) run as written."""

from __future__ import annotations

import numpy as np

import dualgraph as torch
import dualgraph.jit  # noqa: F401  (seed 004 writes `import torch.jit`)
import dualgraph.nn as nn
import dualgraph.optim as optim


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = torch.relu(x)
        x = self.fc2(x)
        output = x
        return output


def _numpy_step(params, x, y, lr):
    w1, b1, w2, b2 = (p.astype(np.float64) for p in params)
    h_pre = x.reshape(len(x), -1) @ w1.T + b1
    h = np.maximum(h_pre, 0)
    logits = h @ w2.T + b2
    shifted = logits - logits.max(1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    d_logits = p.copy()
    d_logits[np.arange(len(y)), y] -= 1
    d_logits /= len(y)
    d_h = (d_logits @ w2) * (h_pre > 0)
    grads = [d_h.T @ x.reshape(len(x), -1), d_h.sum(0), d_logits.T @ h, d_logits.sum(0)]
    return loss, [w - lr * g for w, g in zip((w1, b1, w2, b2), grads)]


def test_seed_004_training_step_runs_as_written():
    torch.manual_seed(0)
    net = Net()
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(16, 1, 28, 28)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, size=16))
    before = [p.detach().numpy().copy() for p in net.parameters()]

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01)
    outputs = net(x)
    loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()

    expected_loss, expected = _numpy_step(before, x.numpy(), y.numpy(), 0.01)
    np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-5)
    for p, e in zip(net.parameters(), expected):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-4, atol=1e-6)
    assert repr(net) == ("Net(\n  (fc1): Linear(in_features=784, out_features=128, bias=True)\n"
                         "  (fc2): Linear(in_features=128, out_features=10, bias=True)\n)")


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(1)
    net = Net()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    criterion, optimizer = nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_seed_004_torchscript_lines_run_as_written(tmp_path):
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(8, 1, 28, 28)

    # 4.3 使用TorchScript将模型编译成可执行的C++程序 — the lines as the tutorial writes them:
    # 将模型转换为TorchScript
    scripted_model = torch.jit.script(net)
    # 将TorchScript模型编译成可执行的C++程序
    compiled_model = scripted_model.compile()
    # 使用编译后的程序部署模型
    compiled_model.eval()

    assert compiled_model is scripted_model
    assert not net.training  # eval() reached the shared module
    with torch.no_grad():
        got, want = compiled_model(x), net(x)
    assert got.grad_fn is None and got.shape == (8, 10)
    np.testing.assert_array_equal(got.numpy(), want.numpy())

    text = str(scripted_model.graph)
    assert text.startswith("graph(%x: f32[8, 1, 28, 28], %fc1.weight: f32[128, 784]")
    assert "relu(" in text and "return (" in text
    assert "def " in scripted_model.code
    assert repr(scripted_model).startswith("ScriptModule(original_name=Net)\nNet(")

    # The deployed model is the .dgm file: it runs without the Net class.
    scripted_model.save(tmp_path / "net.dgm")
    loaded = torch.jit.load(tmp_path / "net.dgm")
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(x).numpy(), want.numpy())


def test_seed_004_deploys_a_model_that_was_never_called(tmp_path, capsys):
    """The tutorial's deploy path: script, compile, eval, then save — no call in between. The
    saved generic graph runs in a fresh process at two batch sizes with eager's exact results."""
    import json
    import shutil
    import subprocess
    import sys
    import textwrap

    from dualgraph.cli import main

    torch.manual_seed(0)
    net = Net()
    scripted_model = torch.jit.script(net)
    compiled_model = scripted_model.compile()
    compiled_model.eval()

    graph = compiled_model.graph  # before any call
    assert graph.meta["generic"] is True
    text = str(graph)
    # Linear(784, 128) fixes the input's last size; the batch stays symbolic
    assert text.startswith("graph(%x: f32[s0, 784], %fc1.weight: f32[128, 784]"), text
    assert "addmm(" in text and "relu(" in text
    assert "def forward(" in compiled_model.code
    scripted_model.save(tmp_path / "net.dgm")
    torch.jit.save(scripted_model, tmp_path / "net2.dgm")
    dot = torch.viz.to_dot(compiled_model)
    assert "addmm" in dot.source
    if shutil.which("dot"):
        torch.viz.render(compiled_model, tmp_path / "net.svg")
        assert (tmp_path / "net.svg").read_text().lstrip().startswith("<")
    assert main(["show", str(tmp_path / "net.dgm")]) == 0
    shown = capsys.readouterr().out
    assert "x: f32[s0, 784]" in shown and "graph(%x" in shown
    assert scripted_model._forward._last is None  # nothing was called: no specialization yet

    rng = np.random.default_rng(1)
    expected = {}
    for b in (3, 17):
        x = rng.normal(size=(b, 784)).astype(np.float32)
        np.save(tmp_path / f"x{b}.npy", x)
        with torch.no_grad():
            expected[b] = net(torch.from_numpy(x)).numpy()
    code = textwrap.dedent("""
        import json, sys, numpy as np, dualgraph as dg
        out = {}
        for name in ("net.dgm", "net2.dgm"):
            f = dg.jit.load(name)
            for b in (3, 17):
                out[f"{name}-{b}"] = f(dg.from_numpy(np.load(f"x{b}.npy"))).numpy().tolist()
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("net.dgm", "net2.dgm"):
        for b in (3, 17):
            np.testing.assert_array_equal(np.array(got[f"{name}-{b}"], np.float32), expected[b])

    # Calls still specialize per input signature: the tutorial's images [N, 1, 28, 28] get
    # their own graph (and the generic one stays what was saved)
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_array_equal(compiled_model(x).numpy(), net(x).numpy())
    assert str(compiled_model.graph).startswith("graph(%x: f32[5, 1, 28, 28]")
    assert str(compiled_model.generic.graph).startswith("graph(%x: f32[s0, 784]")


def test_seed_004_generic_graph_rejects_inputs_that_do_not_fit(tmp_path):
    torch.manual_seed(0)
    net = Net()
    scripted_model = torch.jit.script(net).compile()
    scripted_model.eval()
    scripted_model.save(tmp_path / "net.dgm")
    loaded = torch.jit.load(tmp_path / "net.dgm")
    import pytest
    with pytest.raises(RuntimeError, match=r"expected f32\[s0, 784\], got f32\[2, 1, 28, 28\]"):
        loaded(torch.randn(2, 1, 28, 28))
    with pytest.raises(RuntimeError, match=r"expected f32\[s0, 784\], got f32\[2, 783\]"):
        loaded(torch.randn(2, 783))
