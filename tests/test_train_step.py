"""Whole training steps as one traced graph: forward, loss, backward and optimizer update.

Each test runs the same step eagerly and traced, from the same seed, and compares losses,
parameters, gradients and optimizer state after every call. At opt_level 0 the traced graph runs
the eager kernels in the eager order, so the results are bit-identical; at opt_level 3 fused
float32 kernels (fast exp, fused sums) differ from eager by rounding.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.nn as nn
from dualgraph.jit.tracer import TraceError


class Net(nn.Module):
    """The tutorials' Net: flatten, Linear(784, 128), ReLU, Linear(128, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(dg.relu(self.fc1(dg.flatten(x, 1))))


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(4 * 7 * 7, 10)

    def forward(self, x):
        return self.head(dg.flatten(self.features(x), 1))


class CharRNN(nn.Module):
    def __init__(self, vocab: int = 12) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.head(out)


def _batches(kind: str, n: int, batch: int = 16) -> list:
    dg.manual_seed(1)
    if kind == "net":
        return [(dg.randn(batch, 1, 28, 28), dg.randint(0, 10, (batch,))) for _ in range(n)]
    if kind == "cnn":
        return [(dg.randn(batch, 1, 14, 14), dg.randint(0, 10, (batch,))) for _ in range(n)]
    seqs = [dg.randint(0, 12, (4, 9)) for _ in range(n)]
    return [(s[:, :-1], s[:, 1:]) for s in seqs]


MODELS = {"net": Net, "cnn": CNN, "rnn": CharRNN}
OPTIMIZERS = {
    "sgd": lambda ps: dg.optim.SGD(ps, lr=0.05),
    "momentum": lambda ps: dg.optim.SGD(ps, lr=0.05, momentum=0.9),
    "nesterov_wd": lambda ps: dg.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                           weight_decay=1e-3),
    "adam": lambda ps: dg.optim.Adam(ps, lr=1e-2),
    "adamw_amsgrad": lambda ps: dg.optim.AdamW(ps, lr=1e-2, amsgrad=True),
}


def _setup(model: str, optimizer: str):
    dg.manual_seed(0)
    net = MODELS[model]()
    return net, OPTIMIZERS[optimizer](net.parameters())


def _step_fn(net, opt, model: str, zero: str = "before", clip: float | None = None,
             sched=None):
    crit = nn.CrossEntropyLoss()

    def step(x, y):
        if zero == "before":
            opt.zero_grad()
        out = net(x)
        loss = crit(out.reshape(-1, out.shape[-1]), y.reshape(-1)) if model == "rnn" else \
            crit(out, y)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        if zero == "after":
            opt.zero_grad()
        if sched is not None:
            sched.step()
        return loss
    return step


def _state(net, opt) -> list:
    out = [p.detach().numpy().copy() for p in net.parameters()]
    out += [None if p.grad is None else p.grad.numpy().copy() for p in net.parameters()]
    for p in net.parameters():
        for key, v in sorted(opt.state.get(p, {}).items()):
            out.append(v.numpy().copy())
    return out


def _run(model, optimizer, steps, level, scheduled=False, **kw):
    """(losses, states, step) of the eager run and of the traced run."""
    runs = []
    for traced in (False, True):
        net, opt = _setup(model, optimizer)
        sched = dg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5) if scheduled else None
        step = _step_fn(net, opt, model, sched=sched, **kw)
        data = _batches(model, steps)
        f = dg.jit.trace(step, data[0], opt_level=level) if traced else step
        losses, states = [], []
        for x, y in data:
            losses.append(f(x, y).item())
            states.append(_state(net, opt))
        runs.append((losses, states, f))
    return runs


def _assert_equal_runs(runs, exact: bool, rtol: float = 0.0, atol: float = 0.0) -> None:
    (l0, s0, _), (l1, s1, _) = runs
    if exact:
        assert l0 == l1
    else:
        np.testing.assert_allclose(l1, l0, rtol=rtol, atol=atol)
    for k, (a, b) in enumerate(zip(s0, s1)):
        assert len(a) == len(b), f"after step {k}: the optimizer state differs in size"
        for x, y in zip(a, b):
            assert (x is None) == (y is None), f"after step {k}: a .grad is None in one run only"
            if x is None:
                continue
            if exact:
                np.testing.assert_array_equal(y, x, err_msg=f"after step {k}")
            else:
                np.testing.assert_allclose(y, x, rtol=rtol, atol=atol, err_msg=f"after step {k}")


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_net_steps_are_bit_identical_to_eager_at_level_0(optimizer):
    _assert_equal_runs(_run("net", optimizer, 12, 0), exact=True)


@pytest.mark.parametrize("zero", ["before", "after", "never"])
def test_zero_grad_before_after_or_never_follows_pytorch(zero):
    """`never`: gradients accumulate across calls, as eager's do."""
    runs = _run("net", "momentum", 6, 0, zero=zero)
    _assert_equal_runs(runs, exact=True)
    assert runs[1][2].variants == 2  # the first call saw no .grad and no momentum buffers


def test_hundred_steps_of_the_net_with_adam_at_level_3_stay_within_float32_rounding():
    runs = _run("net", "adam", 100, 3)
    _assert_equal_runs(runs, exact=False, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("model,optimizer", [("cnn", "momentum"), ("rnn", "adam")])
def test_cnn_and_char_rnn_steps_match_eager(model, optimizer):
    _assert_equal_runs(_run(model, optimizer, 8, 0), exact=True)
    _assert_equal_runs(_run(model, optimizer, 8, 3), exact=False, rtol=1e-4, atol=1e-5)


def test_gradient_clipping_inside_the_step():
    """clip_grad_norm_'s arithmetic is PyTorch's, in tensors; the norm of a transposed
    gradient sums in another order than a contiguous one, so the runs agree to rounding."""
    _assert_equal_runs(_run("net", "momentum", 8, 0, clip=0.5), exact=False, rtol=1e-5,
                       atol=1e-7)


def test_a_scheduler_inside_the_step_runs_after_each_call():
    runs = _run("net", "momentum", 6, 0, scheduled=True)
    _assert_equal_runs(runs, exact=True)
    traced = runs[1][2]
    with pytest.raises(RuntimeError, match="StepLR.step"):
        traced.save("never.dgm")


def test_the_learning_rate_is_read_at_every_call():
    net, opt = _setup("net", "sgd")
    step = _step_fn(net, opt, "net")
    (x, y), = _batches("net", 1)
    f = dg.jit.trace(step, (x, y))
    before = net.fc2.bias.detach().numpy().copy()
    for group in opt.param_groups:
        group["lr"] = 0.0
    f(x, y)
    np.testing.assert_array_equal(net.fc2.bias.detach().numpy(), before)
    for group in opt.param_groups:
        group["lr"] = 0.1
    f(x, y)
    assert not np.array_equal(net.fc2.bias.detach().numpy(), before)
    for group in opt.param_groups:
        group["lr"] = 0.01
    f(x, y)
    # the rate is state, not a guard: the one retrace is for .grad, which exists after call 1
    assert f.variants == 2


def test_changed_hyper_parameters_trace_again_and_match_eager():
    eager_net, eager_opt = _setup("net", "momentum")
    net, opt = _setup("net", "momentum")
    f = dg.jit.trace(_step_fn(net, opt, "net"), _batches("net", 1)[0], opt_level=0)
    eager = _step_fn(eager_net, eager_opt, "net")
    for k, (x, y) in enumerate(_batches("net", 6)):
        if k == 3:
            for o in (opt, eager_opt):
                o.param_groups[0]["momentum"] = 0.5
        assert f(x, y).item() == eager(x, y).item()
    assert f.variants == 3  # fresh state, momentum 0.9, momentum 0.5


def test_gradients_of_the_last_call_are_left_in_grad():
    net, opt = _setup("net", "adam")
    f = dg.jit.trace(_step_fn(net, opt, "net"), _batches("net", 1)[0], opt_level=0)
    eager_net, eager_opt = _setup("net", "adam")
    eager = _step_fn(eager_net, eager_opt, "net")
    for x, y in _batches("net", 3):
        f(x, y)
        eager(x, y)
    for p, q in zip(net.parameters(), eager_net.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
        assert p.grad.shape == p.shape and p.grad.grad_fn is None


def test_tracing_changes_nothing_and_the_step_is_one_graph():
    net, opt = _setup("net", "momentum")
    before = _state(net, opt)
    f = dg.jit.trace(_step_fn(net, opt, "net"), _batches("net", 1)[0])
    after = _state(net, opt)
    assert len(before) == len(after) and all(
        (a is None and b is None) or np.array_equal(a, b) for a, b in zip(before, after))
    assert not opt.state and all(p.grad is None for p in net.parameters())
    text = str(f.graph_before_passes)
    assert "log_softmax" in text and "matmul" in text  # forward and backward in one graph
    assert "%net.fc1.weight" in text and "%opt.param_groups.0.lr" in text  # named state


def test_manual_updates_with_autograd_grad_and_data():
    """A hand-written step: autograd.grad, then `p.data -= lr * g` (the tutorial style)."""
    def make():
        dg.manual_seed(0)
        return nn.Linear(5, 3)

    def manual(model):
        def step(x, y):
            loss = ((model(x) - y) ** 2).mean()
            grads = dg.autograd.grad(loss, list(model.parameters()))
            with dg.no_grad():
                for p, g in zip(model.parameters(), grads):
                    p.data -= 0.1 * g
            return loss
        return step

    a, b = make(), make()
    eager, f = manual(a), None
    dg.manual_seed(3)
    data = [(dg.randn(4, 5), dg.randn(4, 3)) for _ in range(4)]
    f = dg.jit.trace(manual(b), data[0], opt_level=0)
    for x, y in data:
        assert f(x, y).item() == eager(x, y).item()
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())


def test_a_closure_over_a_module_differentiates_its_parameters():
    """A plain function that closes over a model reads its parameters as state (not baked in as
    constants), so gradients reach them and updates are seen."""
    dg.manual_seed(0)
    model = nn.Linear(4, 2)
    f = dg.jit.trace(lambda x: model(x).sum(), dg.randn(3, 4))
    x = dg.randn(3, 4)
    f(x).backward()
    expected = x.sum(0).expand(2, 4)
    np.testing.assert_allclose(model.weight.grad.numpy(), expected.numpy(), rtol=1e-6)
    with dg.no_grad():
        model.bias.fill_(10.0)
    assert abs(f(x).item() - model(x).sum().item()) < 1e-4


def test_what_cannot_be_traced_is_named_at_the_users_line():
    net, opt = _setup("net", "sgd")
    crit = nn.CrossEntropyLoss()
    data = _batches("net", 1)[0]

    def logs_item(x, y):
        loss = crit(net(x), y)
        loss.backward()
        print(loss.item())  # the line the error must name
        return loss

    with pytest.raises(TraceError, match=r"print\(loss.item\(\)\)") as info:
        dg.jit.trace(logs_item, data)
    assert "item()" in str(info.value)

    lbfgs = dg.optim.LBFGS(net.parameters())

    def closure_step(x, y):
        return lbfgs.step(lambda: crit(net(x), y))

    with pytest.raises(TraceError, match="LBFGS"):
        dg.jit.trace(closure_step, data)

    def no_grad_loss(x, y):
        with dg.no_grad():
            loss = crit(net(x), y)
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="does not require grad"):
        dg.jit.trace(no_grad_loss, data)
    assert all(p.grad is None for p in net.parameters()) and not opt.state


def test_saving_before_the_first_call_is_refused_with_the_reason(tmp_path):
    net, opt = _setup("net", "momentum")
    f = dg.jit.trace(_step_fn(net, opt, "net"), _batches("net", 1)[0])
    with pytest.raises(RuntimeError, match="momentum_buffer.*call it once before saving"):
        f.save(str(tmp_path / "step.dgm"))


def test_a_saved_step_continues_training_in_a_fresh_process(tmp_path):
    """Save after one call; a process that never imports the model's class loads the step and
    continues training from the saved parameters and optimizer state to the same losses."""
    net, opt = _setup("net", "adam")
    data = _batches("net", 5)
    f = dg.jit.trace(_step_fn(net, opt, "net"), data[0])
    f(*data[0])
    path = tmp_path / "step.dgm"
    f.save(str(path))
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, **{f"x{k}": x.numpy() for k, (x, _) in enumerate(data[1:])},
             **{f"y{k}": y.numpy() for k, (_, y) in enumerate(data[1:])})
    expected = [f(x, y).item() for x, y in data[1:]]
    script = textwrap.dedent(f"""
        import numpy as np, dualgraph as dg
        step = dg.jit.load({str(path)!r})
        z = np.load({str(inputs)!r})
        print([step(dg.from_numpy(z[f"x{{k}}"]), dg.from_numpy(z[f"y{{k}}"])).item()
               for k in range(4)])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 0, out.stderr
    got = eval(out.stdout.strip())  # a list of floats printed by the child
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_dg_compile_of_a_training_step_traces_it_whole_at_any_batch_size():
    """torch.compile(train_step): script cannot run backward() on a graph value, so the step is
    traced (with a symbolic batch) and gives the eager losses at two batch sizes."""
    losses = []
    for compiled in (False, True):
        net, opt = _setup("net", "momentum")
        step = _step_fn(net, opt, "net")
        f = dg.compile(step) if compiled else step
        dg.manual_seed(5)
        got = []
        for b in (8, 8, 5, 8):
            got.append(f(dg.randn(b, 1, 28, 28), dg.randint(0, 10, (b,))).item())
        losses.append(got)
        if compiled:
            assert f._dg_compiled.how == "trace"
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


def test_a_step_that_fails_while_traced_leaves_model_and_optimizer_as_they_were():
    net, opt = _setup("net", "adam")
    data = _batches("net", 2)
    eager = _step_fn(net, opt, "net")
    eager(*data[0])  # state exists: .grad, exp_avg, step
    before = _state(net, opt)
    crit = nn.CrossEntropyLoss()

    def broken(x, y):
        opt.zero_grad()
        loss = crit(net(x), y)
        loss.backward()
        opt.step()
        if loss > 1:  # data-dependent Python: refused after the step ran under the tracer
            pass
        return loss

    with pytest.raises(TraceError, match="if loss > 1"):
        dg.jit.trace(broken, data[1])
    after = _state(net, opt)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert all(isinstance(v, dg.Tensor) and type(v) is dg.Tensor
               for s in opt.state.values() for v in s.values())


def test_printing_a_tensor_inside_the_step_is_refused_at_its_line():
    """print(loss) would run once, at trace time, and never again: refused, as item() is."""
    net, opt = _setup("net", "sgd")
    crit = nn.CrossEntropyLoss()

    def logs(x, y):
        loss = crit(net(x), y)
        loss.backward()
        print("loss", loss)  # the line the error must name
        return loss

    with pytest.raises(TraceError, match=r'print\("loss", loss\)') as info:
        dg.jit.trace(logs, _batches("net", 1)[0])
    assert "printing a tensor" in str(info.value)


def test_a_detached_parameter_read_in_the_step_passes_no_gradient():
    """`p.detach()` inside the step reads p's value without autograd (and writes through it
    reach p), as in eager."""
    def make():
        dg.manual_seed(0)
        return nn.Linear(3, 1)

    def stepper(model):
        def step(x):
            out = (model(x) * model.weight.detach().sum()).sum()
            out.backward()
            with dg.no_grad():
                model.weight.detach().mul_(0.5)
            return out
        return step

    eager_model, traced_model = make(), make()
    x = dg.randn(4, 3)
    f = dg.jit.trace(stepper(traced_model), x, opt_level=0)
    for _ in range(2):
        assert f(x).item() == stepper(eager_model)(x).item()
        for p, q in zip(traced_model.parameters(), eager_model.parameters()):
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
