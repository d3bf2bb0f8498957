"""`dg.jit.script(model)` trains exactly as the eager model: the tutorial's Net (seed 004), the
digits CNN and the character LSTM of examples/, 20 steps of SGD with momentum and of Adam from the
same seed on the same data, eager vs scripted, give the same loss at every step and the same final
parameters. The training library's layers, scripted one by one, give eager's outputs, gradients
and (BatchNorm) running statistics; a scripted model saves and loads; the compiled backward
follows eager's rules (no_grad, retain_graph)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import dualgraph as torch
import dualgraph.nn as nn
import dualgraph.optim as optim

from .test_seed_004 import Net

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STEPS = 20


def _example(name: str):
    """examples/<name>.py imported as a module (the examples extra is needed by examples/common)."""
    for extra in ("sklearn", "tqdm", "matplotlib"):
        pytest.importorskip(extra, reason="the examples extra is not installed")
    module_name = f"dualgraph_example_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
    return sys.modules[module_name]


# ----------------------------------------------------------------- eager vs scripted training

def _net_case():
    rng = np.random.default_rng(0)
    data = [(torch.tensor(rng.normal(size=(16, 1, 28, 28)).astype(np.float32)),
             torch.tensor(rng.integers(0, 10, size=16))) for _ in range(4)]
    return Net, data, lambda out, y: nn.functional.cross_entropy(out, y)


def _cnn_case():
    cnn = _example("digits_cnn").CNN
    rng = np.random.default_rng(1)
    data = [(torch.tensor(rng.random((16, 28, 28), dtype=np.float32)),
             torch.tensor(rng.integers(0, 10, size=16))) for _ in range(4)]
    return cnn, data, lambda out, y: nn.functional.cross_entropy(out, y)


def _rnn_case():
    char_rnn = _example("char_rnn").CharRNN
    rng = np.random.default_rng(2)
    vocab = 20
    data = []
    for _ in range(4):
        codes = torch.tensor(rng.integers(0, vocab, size=(8, 13)))
        data.append((codes[:, :-1], codes[:, 1:]))

    def loss(out, y):
        logits, _ = out
        return nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
    return (lambda: char_rnn(vocab, embed=16, hidden=32)), data, loss


CASES = {"net": _net_case, "cnn": _cnn_case, "char_rnn": _rnn_case}
OPTIMIZERS = {"sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
              "adam": lambda ps: optim.Adam(ps, lr=1e-3)}


def _train(make, data, loss_fn, make_opt, scripted: bool):
    torch.manual_seed(0)
    model = make()
    run = torch.jit.script(model) if scripted else model
    optimizer = make_opt(model.parameters())
    losses = []
    for step in range(STEPS):
        x, y = data[step % len(data)]
        optimizer.zero_grad()
        out = run(x)
        loss = loss_fn(out, y)
        if scripted:
            assert type(loss.grad_fn).__name__ != "DifferentiableGraphBackward"
            first = out[0] if isinstance(out, tuple) else out
            assert type(first.grad_fn).__name__ == "DifferentiableGraphBackward"
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("case", CASES)
def test_scripted_training_equals_eager(case, opt):
    make, data, loss_fn = CASES[case]()
    eager_losses, eager_params = _train(make, data, loss_fn, OPTIMIZERS[opt], scripted=False)
    script_losses, script_params = _train(make, data, loss_fn, OPTIMIZERS[opt], scripted=True)
    assert eager_losses[-1] < eager_losses[0]  # it trained
    np.testing.assert_allclose(script_losses, eager_losses, rtol=1e-5, atol=1e-6)
    for got, want in zip(script_params, eager_params):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------- layers one by one

class SelfAttention(nn.Module):
    """MultiheadAttention inside a model, as models use it."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)


def _layer_cases():
    """(name, module factory, input factory, mode) for the training library's layers."""
    g = np.random.default_rng(3)

    def f32(*shape):
        return lambda: torch.tensor(g.normal(size=shape).astype(np.float32))

    return [
        ("linear", lambda: nn.Linear(6, 4), f32(5, 6), "train"),
        ("conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1, stride=2), f32(2, 3, 9, 9), "train"),
        ("batchnorm2d_train", lambda: nn.BatchNorm2d(3), f32(4, 3, 5, 5), "train"),
        ("batchnorm2d_eval", lambda: nn.BatchNorm2d(3), f32(4, 3, 5, 5), "eval"),
        ("batchnorm2d_train_in_model", lambda: nn.Sequential(nn.Conv2d(3, 3, 1),
                                                              nn.BatchNorm2d(3)),
         f32(4, 3, 5, 5), "train"),
        ("layernorm", lambda: nn.LayerNorm(6), f32(3, 4, 6), "train"),
        ("dropout_eval", lambda: nn.Dropout(0.5), f32(4, 6), "eval"),
        ("lstm", lambda: nn.LSTM(5, 7, num_layers=2, batch_first=True), f32(3, 4, 5), "train"),
        ("gru", lambda: nn.GRU(5, 7), f32(4, 3, 5), "train"),
        ("multihead_attention", lambda: nn.MultiheadAttention(8, 2, batch_first=True),
         f32(2, 5, 8), "train"),
        ("multihead_attention_in_model", SelfAttention, f32(2, 5, 8), "train"),
        ("transformer_encoder_layer_eval_in_model",
         lambda: nn.Sequential(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16,
                                                          batch_first=True)),
         f32(2, 5, 8), "eval"),
        ("transformer_encoder_layer_eval",
         lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True),
         f32(2, 5, 8), "eval"),
        ("embedding", lambda: nn.Embedding(10, 4),
         lambda: torch.tensor(g.integers(0, 10, size=(3, 5))), "train"),
    ]


def _call(module, x):
    if isinstance(module, nn.MultiheadAttention) or (
            hasattr(module, "original") and isinstance(module.original, nn.MultiheadAttention)):
        return module(x, x, x)
    return module(x)


def _tensors(out):
    if isinstance(out, tuple):
        return [t for o in out for t in _tensors(o)]
    return [] if out is None else [out]


def _ids():
    return [(c.values if hasattr(c, "values") else c)[0] for c in _layer_cases()]


@pytest.mark.parametrize("name,make,make_x,mode", _layer_cases(), ids=_ids())
def test_scripted_layer_matches_eager(name, make, make_x, mode):
    torch.manual_seed(0)
    eager = make()
    torch.manual_seed(0)
    twin = make()  # the same initial parameters and buffers, scripted
    twin.load_state_dict(eager.state_dict())
    eager.train(mode == "train")
    scripted = torch.jit.script(twin)
    scripted.train(mode == "train")
    x = make_x()
    xs = [x, x.clone()]
    if x.dtype.is_floating_point:
        xs = [t.requires_grad_() for t in xs]

    want, got = _tensors(_call(eager, xs[0])), _tensors(_call(scripted, xs[1]))
    assert len(got) == len(want)
    seeds = [torch.tensor(np.random.default_rng(i).normal(size=tuple(w.shape))
                          .astype(np.float32)) for i, w in enumerate(want)]
    for g_, w in zip(got, want):
        np.testing.assert_allclose(g_.detach().numpy(), w.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert type(got[0].grad_fn).__name__ == "DifferentiableGraphBackward"
    sum((w * s).sum() for w, s in zip(want, seeds)).backward()
    sum((g_ * s).sum() for g_, s in zip(got, seeds)).backward()
    for (n, p), q in zip(eager.named_parameters(), twin.parameters()):
        assert q.grad is not None, n
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=n)
    if x.requires_grad:
        np.testing.assert_allclose(xs[1].grad.numpy(), xs[0].grad.numpy(), rtol=1e-4, atol=1e-5)
    for (n, b), c in zip(eager.named_buffers(), twin.buffers()):  # BatchNorm's running stats
        np.testing.assert_allclose(c.numpy(), b.numpy(), rtol=1e-6, atol=1e-6, err_msg=n)


def test_batchnorm_running_stats_update_identically_over_steps():
    torch.manual_seed(0)
    eager = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, momentum=0.3), nn.ReLU())
    twin = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3, momentum=0.3), nn.ReLU())
    twin.load_state_dict(eager.state_dict())
    scripted = torch.jit.script(twin)
    for step in range(3):
        x = torch.randn(4, 2, 6, 6) * (step + 1) + step
        np.testing.assert_allclose(scripted(x).detach().numpy(), eager(x).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)
    bn_e, bn_s = eager[1], twin[1]
    assert int(bn_s.num_batches_tracked.item()) == int(bn_e.num_batches_tracked.item()) == 3
    np.testing.assert_allclose(bn_s.running_mean.numpy(), bn_e.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn_s.running_var.numpy(), bn_e.running_var.numpy(), rtol=1e-6)
    scripted.eval()
    x = torch.randn(2, 2, 6, 6)
    with torch.no_grad():
        np.testing.assert_allclose(scripted(x).numpy(), eager.eval()(x).numpy(), rtol=1e-5,
                                   atol=1e-6)


# ------------------------------------------------------------- save/load, no_grad, backward

def test_scripted_model_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(3, 1, 6, 6)
    with torch.no_grad():
        want = model(x)
        assert scripted(x).grad_fn is None
    scripted.save(tmp_path / "model.dgm")
    loaded = torch.jit.load(tmp_path / "model.dgm")
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    assert torch.load(tmp_path / "model.dgm") is not None  # dg.load reads it too


def test_no_grad_outputs_have_no_grad_fn():
    torch.manual_seed(0)
    scripted = torch.jit.script(Net())
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        out = scripted(x)
    assert out.grad_fn is None and not out.requires_grad
    out = scripted(x)  # parameters require grad: the compiled backward is attached
    assert out.requires_grad and type(out.grad_fn).__name__ == "DifferentiableGraphBackward"


def test_second_backward_needs_retain_graph():
    torch.manual_seed(0)
    net = Net()
    scripted = torch.jit.script(net)
    x = torch.randn(2, 1, 28, 28)
    loss = scripted(x).pow(2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()

    net.zero_grad()
    loss = scripted(x).pow(2).sum()
    loss.backward(retain_graph=True)
    once = net.fc1.weight.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(net.fc1.weight.grad.numpy(), 2 * once, rtol=1e-5, atol=1e-7)


def test_jit_save_takes_a_scripted_module(tmp_path):
    torch.manual_seed(0)
    net = Net().eval()
    scripted = torch.jit.script(net)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        want = scripted(x)
    torch.jit.save(scripted, tmp_path / "net.dgm")
    with torch.no_grad():
        np.testing.assert_array_equal(torch.jit.load(tmp_path / "net.dgm")(x).numpy(),
                                      want.numpy())
