"""dg.nn: Module bookkeeping, layers, init, losses (vs NumPy formulas), state dicts, hooks,
Dropout, and seed 004's Net (eager training step and traced)."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

import dualgraph as torch
import dualgraph.nn as nn
import dualgraph.nn.functional as F
from dualgraph.autograd import gradcheck


class Net(nn.Module):  # seed 004, as written
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


NET_REPR = ("Net(\n  (fc1): Linear(in_features=784, out_features=128, bias=True)\n"
            "  (fc2): Linear(in_features=128, out_features=10, bias=True)\n)")

SEQ_REPR = """Sequential(
  (0): Flatten(start_dim=1, end_dim=-1)
  (1): Linear(in_features=4, out_features=3, bias=False)
  (2): ReLU()
  (3): GELU(approximate='none')
  (4): Dropout(p=0.2, inplace=False)
  (5): Softmax(dim=1)
  (6): LeakyReLU(negative_slope=0.01)
  (7): ELU(alpha=1.0)
  (8): ModuleList(
    (0): Tanh()
    (1): SiLU()
  )
  (9): ModuleDict(
    (a): Identity()
  )
  (10): CrossEntropyLoss()
  (11): Sigmoid()
  (12): LogSoftmax(dim=1)
)"""


def _np(t):
    return t.detach().numpy()


def _net_numpy(net, x):
    h = x.reshape(x.shape[0], -1) @ _np(net.fc1.weight).T + _np(net.fc1.bias)
    return np.maximum(h, 0) @ _np(net.fc2.weight).T + _np(net.fc2.bias)


def _log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


# -------------------------------------------------------------------------------- Parameter

def test_parameter_basics():
    data = torch.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert repr(nn.Parameter(torch.tensor([1.0]), requires_grad=False)) == \
        "Parameter containing:\ntensor([1.])"
    assert p.requires_grad and p.is_leaf and isinstance(p, torch.Tensor)
    assert type(p * 2) is torch.Tensor
    with torch.no_grad():
        data.add_(1)  # shares data's storage
    assert p.tolist() == [2.0, 3.0]
    assert type(copy.deepcopy(p)) is nn.Parameter
    assert type(pickle.loads(pickle.dumps(p))) is nn.Parameter


# -------------------------------------------------------------------------------- Module

def test_net_repr_and_registration():
    torch.manual_seed(0)
    net = Net()
    assert repr(net) == NET_REPR
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                      "fc2.bias"]
    assert [tuple(p.shape) for p in net.parameters()] == [(128, 784), (128,), (10, 128), (10,)]
    assert [n for n, _ in net.named_children()] == ["fc1", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "fc2"]
    assert len(list(net.modules())) == 3 and list(net.buffers()) == []
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc3'"):
        net.fc3


def test_container_repr_and_indexing():
    seq = nn.Sequential(nn.Flatten(), nn.Linear(4, 3, bias=False), nn.ReLU(), nn.GELU(),
                        nn.Dropout(0.2), nn.Softmax(dim=1), nn.LeakyReLU(), nn.ELU(),
                        nn.ModuleList([nn.Tanh(), nn.SiLU()]), nn.ModuleDict({"a": nn.Identity()}),
                        nn.CrossEntropyLoss(), nn.Sigmoid(), nn.LogSoftmax(1))
    assert repr(seq) == SEQ_REPR
    assert len(seq) == 13 and isinstance(seq[2], nn.ReLU) and isinstance(seq[-1], nn.LogSoftmax)
    assert len(seq[1:3]) == 2 and seq[1].bias is None
    assert [type(m).__name__ for m in seq][:2] == ["Flatten", "Linear"]
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"x": nn.Linear(2, 1)})
    assert list(md.keys()) == ["x"] and "x" in md
    small = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    x = np.random.default_rng(0).standard_normal((4, 3))
    got = small(torch.tensor(x, dtype=torch.float32))
    h = np.maximum(x @ _np(small[0].weight).T + _np(small[0].bias), 0)
    np.testing.assert_allclose(_np(got), h @ _np(small[2].weight).T + _np(small[2].bias),
                               rtol=1e-5, atol=1e-6)


def test_buffers_train_eval_to_zero_grad_apply():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("count", torch.zeros(1))
            self.register_buffer("tmp", torch.ones(1), persistent=False)
    m = M()
    assert [n for n, _ in m.named_buffers()] == ["count", "tmp"]
    assert list(m.state_dict()) == ["count", "lin.weight", "lin.bias"]  # own state first
    assert m.training and not m.eval().lin.training and m.train().lin.training
    m.lin(torch.ones(1, 2)).sum().backward()
    assert m.lin.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.lin.weight.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    m.zero_grad()
    assert m.lin.weight.grad is None
    m.double()
    assert m.lin.weight.dtype is torch.float64 and type(m.lin.weight) is nn.Parameter
    assert m.count.dtype is torch.float64
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "M"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_state_dict_round_trip_and_strict_errors():
    torch.manual_seed(1)
    a, b = Net(), Net()
    assert b.load_state_dict(a.state_dict()).__repr__() == "<All keys matched successfully>"
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(_np(pa), _np(pb))
        assert pa is not pb
    sd = a.state_dict()
    assert not sd["fc1.weight"].requires_grad
    del sd["fc1.bias"]
    sd["extra"] = torch.zeros(1)
    sd["fc2.weight"] = torch.zeros(5, 128)
    with pytest.raises(RuntimeError) as err:
        b.load_state_dict(sd)
    assert str(err.value) == (
        'Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "fc1.bias". '
        '\n\tUnexpected key(s) in state_dict: "extra". \n\tsize mismatch for fc2.weight: copying '
        "a param with shape torch.Size([5, 128]) from checkpoint, the shape in current model is "
        "torch.Size([10, 128]).")
    del sd["fc2.weight"]
    result = b.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc1.bias", "fc2.weight"] and result.unexpected_keys == ["extra"]


def test_setattr_any_tensor_on_parameter_name():
    lin = nn.Linear(2, 2)
    original = lin.weight
    lin.weight = torch.zeros(2, 2)  # what the tracer does
    assert "weight" in lin._parameters and lin.weight.tolist() == [[0, 0], [0, 0]]
    lin.weight = original
    assert lin.weight is original


def test_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(torch.ones(3, 2))
    np.testing.assert_allclose(_np(out), np.broadcast_to(_np(lin.bias) + 1, (3, 2)), rtol=1e-6)
    assert calls == [torch.Size([3, 2])]
    h1.remove(), h2.remove()
    np.testing.assert_allclose(_np(lin(torch.zeros(1, 2))), _np(lin.bias)[None], rtol=1e-6)
    assert len(calls) == 1


# ---------------------------------------------------------------------------------- init

def test_linear_default_init_bounds_and_statistics():
    torch.manual_seed(0)
    lin = nn.Linear(400, 300)
    w, b = _np(lin.weight), _np(lin.bias)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), ...)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.mean()) < 0.01 * bound * 10 and abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(w).max() > 0.99 * bound


def test_init_functions():
    t = torch.empty(200, 100)
    nn.init.xavier_uniform_(t, gain=nn.init.calculate_gain("relu"))
    bound = math.sqrt(2) * math.sqrt(6 / 300)
    assert np.abs(t.numpy()).max() <= bound
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.numpy().std() - math.sqrt(2 / 200)) < 0.005
    nn.init.xavier_normal_(t)
    assert abs(t.numpy().std() - math.sqrt(2 / 300)) < 0.005
    assert nn.init.constant_(torch.empty(2), 3.0).tolist() == [3.0, 3.0]
    assert nn.init.ones_(torch.empty(1)).tolist() == [1.0]
    assert nn.init.zeros_(torch.empty(1)).tolist() == [0.0]
    assert nn.init.calculate_gain("tanh") == 5 / 3
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    p = nn.Parameter(torch.empty(3, 3))
    nn.init.normal_(p)  # in place on a leaf that requires grad: allowed under no_grad
    assert p.is_leaf and p.grad_fn is None


# ---------------------------------------------------------------------------- activations

def test_activations_against_numpy():
    x = np.linspace(-4, 4, 17)
    t = torch.tensor(x)
    erf = np.vectorize(math.erf)
    cases = {
        "gelu": (F.gelu(t), 0.5 * x * (1 + erf(x / math.sqrt(2)))),
        "gelu_tanh": (nn.GELU("tanh")(t), 0.5 * x * (1 + np.tanh(
            math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
        "silu": (nn.SiLU()(t), x / (1 + np.exp(-x))),
        "softplus": (F.softplus(t, beta=2, threshold=3), np.where(
            2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2)),
        "leaky": (nn.LeakyReLU(0.1)(t), np.where(x > 0, x, 0.1 * x)),
        "elu": (nn.ELU(0.5)(t), np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
        "logsigmoid": (F.logsigmoid(t), np.log(1 / (1 + np.exp(-x)))),
        "softmax": (nn.Softmax(dim=0)(t), np.exp(x) / np.exp(x).sum()),
        "log_softmax": (nn.LogSoftmax(dim=0)(t), x - np.log(np.exp(x).sum())),
        "sigmoid": (nn.Sigmoid()(t), 1 / (1 + np.exp(-x))),
        "tanh": (nn.Tanh()(t), np.tanh(x)),
        "relu": (nn.ReLU()(t), np.maximum(x, 0)),
    }
    for name, (got, want) in cases.items():
        np.testing.assert_allclose(_np(got), want, rtol=1e-10, atol=1e-12, err_msg=name)
    assert F.softplus(torch.tensor([100.0])).tolist() == [100.0]  # no overflow
    assert F.logsigmoid(torch.tensor([-200.0])).tolist() == [-200.0]


def test_activation_grads_and_names():
    x = torch.tensor([[-1.3, 0.4, 2.2], [0.7, -0.2, -2.5]], dtype=torch.float64,
                     requires_grad=True)
    for fn, name in ((F.gelu, "GeluBackward0"), (F.silu, "SiluBackward0"),
                     (F.softplus, "SoftplusBackward0"), (F.leaky_relu, "LeakyReluBackward0"),
                     (F.elu, "EluBackward0"), (F.logsigmoid, "LogSigmoidBackward0")):
        assert type(fn(x).grad_fn).__name__ == name
        assert gradcheck(fn, (x,))
    assert gradcheck(lambda t: F.gelu(t, approximate="tanh"), (x,))
    for approximate in ("none", "tanh"):  # second derivative (create_graph)
        def first(t, approximate=approximate):
            with torch.enable_grad():  # gradcheck's finite differences run under no_grad
                t = t if t.requires_grad else t.detach().requires_grad_()
                return torch.autograd.grad(F.gelu(t, approximate=approximate).sum(), t,
                                           create_graph=True)[0]
        assert type(first(x).grad_fn).__name__ == "GeluBackwardBackward0"
        assert gradcheck(first, (x,))
    with pytest.raises(NotImplementedError, match="\"GeluKernelImpl\" not implemented for 'Long'"):
        F.gelu(torch.ones(2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(x, approximate="x")


def test_one_hot():
    got = F.one_hot(torch.tensor([0, 2, 1]))
    assert got.dtype is torch.int64 and got.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert F.one_hot(torch.tensor([1]), num_classes=4).tolist() == [[0, 1, 0, 0]]


# -------------------------------------------------------------------------------- dropout

def test_dropout_train_eval():
    torch.manual_seed(0)
    drop = nn.Dropout(p=0.25)
    x = torch.ones(200, 50)
    y = drop(x).numpy()
    assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert abs((y == 0).mean() - 0.25) < 0.03
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, 1.0).numpy().max() == 0.0
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.5)
    g = torch.ones(4, 4, requires_grad=True)
    drop.train()
    out = drop(g)
    out.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), out.detach().numpy())  # grad = mask/(1-p)


# --------------------------------------------------------------------------------- losses

RNG = np.random.default_rng(4)
X = RNG.standard_normal((5, 4))
Y = RNG.standard_normal((5, 4))
IDX = np.array([0, 3, 1, 2, 3])
W = np.array([0.5, 1.0, 2.0, 1.5])


def _red(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def _ce_indices_ref(x, y, weight, reduction, ignore_index=-100, eps=0.0):
    logp = _log_softmax(x)
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    keep = y != ignore_index
    safe = np.where(keep, y, 0)
    nll = np.array([-w[safe[i]] * logp[i, safe[i]] if keep[i] else 0.0 for i in range(n)])
    smooth = np.where(keep, -(logp * w).sum(1), 0.0)
    denom = sum(w[safe[i]] for i in range(n) if keep[i])
    if reduction == "mean":
        nll, smooth = nll.sum() / denom, smooth.sum() / denom
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    return (1 - eps) * nll + eps / c * smooth


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses(reduction):
    x, y = torch.tensor(X, requires_grad=True), torch.tensor(Y)
    d = X - Y
    p = 1 / (1 + np.exp(-X))
    t01 = (Y > 0).astype(float)
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    cases = [
        (nn.MSELoss(reduction=reduction), (x, y), d ** 2),
        (nn.L1Loss(reduction=reduction), (x, y), np.abs(d)),
        (nn.SmoothL1Loss(reduction=reduction), (x, y),
         np.where(np.abs(d) < 1, 0.5 * d ** 2, np.abs(d) - 0.5)),
        (nn.SmoothL1Loss(reduction=reduction, beta=0.5), (x, y),
         np.where(np.abs(d) < 0.5, 0.5 * d ** 2 / 0.5, np.abs(d) - 0.25)),
        (nn.BCELoss(reduction=reduction), (x.sigmoid(), torch.tensor(t01)),
         -(t01 * np.log(p) + (1 - t01) * np.log(1 - p))),
        (nn.BCELoss(weight=torch.tensor(W), reduction=reduction), (x.sigmoid(),
                                                                   torch.tensor(t01)),
         -W * (t01 * np.log(p) + (1 - t01) * np.log(1 - p))),
        (nn.BCEWithLogitsLoss(reduction=reduction), (x, torch.tensor(t01)),
         -(t01 * np.log(p) + (1 - t01) * np.log(1 - p))),
        (nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(pw)),
         (x, torch.tensor(t01)), -(pw * t01 * np.log(p) + (1 - t01) * np.log(1 - p))),
    ]
    for module, args, want in cases:
        np.testing.assert_allclose(_np(module(*args)), _red(want, reduction), rtol=1e-10,
                                   err_msg=repr(module))
        if reduction != "none":
            if isinstance(module, nn.BCELoss):
                assert gradcheck(lambda a, m=module, t=args[1]: m(a.sigmoid(), t), (x,))
            else:
                assert gradcheck(lambda a, m=module, t=args[1]: m(a, t), (x,))


def test_bce_with_logits_is_stable():
    x = torch.tensor([1000.0, -1000.0])
    t = torch.tensor([0.0, 1.0])
    assert F.binary_cross_entropy_with_logits(x, t, reduction="none").tolist() == [1000.0, 1000.0]
    assert F.binary_cross_entropy(torch.tensor([0.0]), torch.tensor([1.0])).item() == 100.0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, W])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_indices(reduction, weight, eps):
    x = torch.tensor(X, requires_grad=True)
    tw = None if weight is None else torch.tensor(weight)
    y = IDX.copy()
    y[2] = -100
    loss = nn.CrossEntropyLoss(weight=tw, reduction=reduction, label_smoothing=eps)
    target = torch.tensor(y)
    np.testing.assert_allclose(_np(loss(x, target)), _ce_indices_ref(X, y, weight, reduction,
                                                                     eps=eps), rtol=1e-10)
    if reduction != "none":
        assert gradcheck(lambda a: loss(a, target), (x,))
    y7 = np.where(IDX == 3, 7, IDX)
    got = F.cross_entropy(x, torch.tensor(y7), tw, ignore_index=7, reduction=reduction,
                          label_smoothing=eps)
    np.testing.assert_allclose(_np(got), _ce_indices_ref(X, y7, weight, reduction, 7, eps),
                               rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probabilities_and_nll(reduction):
    x = torch.tensor(X, requires_grad=True)
    probs = np.exp(Y) / np.exp(Y).sum(1, keepdims=True)
    logp = _log_softmax(X)
    eps = 0.1
    smoothed = probs * (1 - eps) + eps / 4
    got = F.cross_entropy(x, torch.tensor(probs), torch.tensor(W), reduction=reduction,
                          label_smoothing=eps)
    np.testing.assert_allclose(_np(got), _red(-(W * smoothed * logp).sum(1), reduction),
                               rtol=1e-10)
    nll = nn.NLLLoss(weight=torch.tensor(W), reduction=reduction)
    got = nll(torch.tensor(logp), torch.tensor(IDX))
    picked = -W[IDX] * logp[np.arange(5), IDX]
    want = picked.sum() / W[IDX].sum() if reduction == "mean" else _red(picked, reduction)
    np.testing.assert_allclose(_np(got), want, rtol=1e-10)
    if reduction != "none":
        assert gradcheck(lambda a: F.cross_entropy(a, torch.tensor(probs), reduction=reduction),
                         (x,))
    # unbatched (C,) input, and (N, C, d) input
    np.testing.assert_allclose(_np(F.cross_entropy(torch.tensor(X[0]), torch.tensor(IDX[0]))),
                               -logp[0, IDX[0]], rtol=1e-10)
    x3 = RNG.standard_normal((2, 4, 3))
    y3 = np.array([[0, 1, 3], [2, 2, 0]])
    lp3 = _log_softmax(x3, axis=1)
    want3 = -np.take_along_axis(lp3, y3[:, None], 1)[:, 0]
    np.testing.assert_allclose(_np(F.cross_entropy(torch.tensor(x3), torch.tensor(y3),
                                                   reduction=reduction)),
                               _red(want3, reduction), rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_kl_div(reduction):
    logq = torch.tensor(_log_softmax(X), requires_grad=True)
    p = np.exp(Y) / np.exp(Y).sum(1, keepdims=True)
    p[0, 0] = 0.0
    pointwise = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - _log_softmax(X)), 0.0)
    want = pointwise.sum() / 5 if reduction == "batchmean" else _red(pointwise, reduction)
    with pytest.warns(UserWarning) if reduction == "mean" else _nullcontext():
        got = nn.KLDivLoss(reduction=reduction)(logq, torch.tensor(p))
    np.testing.assert_allclose(_np(got), want, rtol=1e-10)
    got_log = F.kl_div(logq, torch.tensor(np.log(np.where(p > 0, p, 1e-300))), reduction="sum",
                       log_target=True)
    np.testing.assert_allclose(_np(got_log), pointwise.sum(), rtol=1e-8)
    if reduction in ("sum", "batchmean"):
        assert gradcheck(lambda a: F.kl_div(a, torch.tensor(p), reduction=reduction), (logq,))


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------------ seed 004 end to end

def test_seed_004_training_step_matches_numpy():
    torch.manual_seed(4)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y_np = rng.integers(0, 10, size=8)
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    outputs = net(x)
    np.testing.assert_allclose(_np(outputs), _net_numpy(net, x_np), rtol=1e-4, atol=1e-5)
    loss = criterion(outputs, y)
    logits = _net_numpy(net, x_np).astype(np.float64)
    np.testing.assert_allclose(loss.item(), -_log_softmax(logits)[np.arange(8), y_np].mean(),
                               rtol=1e-5)
    loss.backward()
    # analytic gradients of the 2-layer net, in NumPy
    h_pre = x_np.reshape(8, -1) @ _np(net.fc1.weight).T + _np(net.fc1.bias)
    h = np.maximum(h_pre, 0)
    dlogits = np.exp(_log_softmax(logits))
    dlogits[np.arange(8), y_np] -= 1
    dlogits /= 8
    dh = dlogits @ _np(net.fc2.weight) * (h_pre > 0)
    want = {"fc2.weight": dlogits.T @ h, "fc2.bias": dlogits.sum(0),
            "fc1.weight": dh.T @ x_np.reshape(8, -1), "fc1.bias": dh.sum(0)}
    before = {n: _np(p).copy() for n, p in net.named_parameters()}
    for n, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), want[n], rtol=1e-3, atol=1e-6, err_msg=n)
    with torch.no_grad():  # optimizer.step() of SGD(lr=0.01), by hand
        for p in net.parameters():
            p -= 0.01 * p.grad
    for n, p in net.named_parameters():
        np.testing.assert_allclose(_np(p), before[n] - 0.01 * want[n], rtol=1e-5, atol=1e-7)
        assert type(p) is nn.Parameter
    assert criterion(net(x), y).item() < loss.item()


def test_seed_004_traced_net():
    torch.manual_seed(5)
    net = Net()
    traced = torch.jit.trace(net, torch.randn(3, 1, 28, 28), dynamic_dims={0: "B"})
    params = [p for p in net.parameters()]
    assert all(type(p) is nn.Parameter for p in net.parameters())
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                      "fc2.bias"]
    for batch in (1, 7, 64):
        x = torch.randn(batch, 1, 28, 28)
        np.testing.assert_allclose(_np(traced(x)), _np(net(x)), rtol=1e-5, atol=1e-5)
    x = torch.randn(7, 1, 28, 28)
    y = torch.tensor([1, 2, 3, 4, 5, 6, 7])
    nn.CrossEntropyLoss()(traced(x), y).backward()
    traced_grads = [p.grad.numpy().copy() for p in params]
    net.zero_grad()
    nn.CrossEntropyLoss()(net(x), y).backward()
    for g, p in zip(traced_grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_traced_cross_entropy_does_not_copy_its_logits_to_check_targets():
    """The target check reads the logits' size only: the generated code must not cast them
    (it once copied a 4096x1000 float32 input to int64 on every call)."""
    dg = torch
    x, t = dg.randn(8, 5), dg.tensor([0, 4, 1, 2, 3, 0, 1, 2])
    traced = dg.jit.trace(lambda a, b: dg.nn.functional.cross_entropy(a, b), (x, t))
    assert "astype" not in traced.code
    assert abs(traced(x, t).item() - dg.nn.functional.cross_entropy(x, t).item()) < 1e-6
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        traced(x, dg.tensor([0, 5, 1, 2, 3, 0, 1, 2]))
