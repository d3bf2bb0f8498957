"""dualgraph.optim: each optimizer's updates against PyTorch's documented rules in NumPy, values
captured from PyTorch 2.13, param groups, state_dict round trips and lr schedules."""

import math
import warnings

import numpy as np
import pytest

import dualgraph as torch

RNG = np.random.default_rng(0)
P0 = RNG.standard_normal((2, 3))
GRADS = [RNG.standard_normal((2, 3)) for _ in range(3)]


def run(name, steps=3, **kw):
    """Final float64 parameters after `steps` steps of optimizer `name` on GRADS."""
    p = torch.tensor(P0.copy(), dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([p], **kw)
    for g in GRADS[:steps]:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return np.array(p.detach().tolist()), opt


# NumPy references, written from the pseudo-code in PyTorch's docs ----------------------------
def ref_sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    p, b = P0.copy(), None
    for g in GRADS:
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def ref_adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    p, m, v, vmax = P0.copy(), 0.0, 0.0, 0.0
    b1, b2 = betas
    for t, g in enumerate(GRADS, 1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(vhat) + eps)
    return p


def ref_rmsprop(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    p, v, gavg, b = P0.copy(), 0.0, 0.0, 0.0
    for g in GRADS:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        vt = v
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            vt = v - gavg ** 2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(vt) + eps)
            p = p - lr * b
        else:
            p = p - lr * g / (np.sqrt(vt) + eps)
    return p


def ref_adagrad(lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    p, s = P0.copy(), initial_accumulator_value
    for t, g in enumerate(GRADS, 1):
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    return p


SGD_CASES = [dict(lr=0.1), dict(lr=0.1, momentum=0.9),
             dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
             dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.05, maximize=True),
             dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True)]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_matches_rule(kw):
    np.testing.assert_allclose(run("SGD", **kw)[0], ref_sgd(**kw), rtol=1e-12, atol=1e-14)


ADAM_CASES = [dict(lr=0.01), dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6),
              dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, amsgrad=True),
              dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)]


@pytest.mark.parametrize("kw", ADAM_CASES)
def test_adam_matches_rule(kw):
    np.testing.assert_allclose(run("Adam", **kw)[0], ref_adam(**kw), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.01, weight_decay=0.1),
                                dict(lr=0.01, weight_decay=0.1, amsgrad=True)])
def test_adamw_decoupled_decay(kw):
    want = ref_adam(decoupled=True, **{"weight_decay": 1e-2, **kw})
    np.testing.assert_allclose(run("AdamW", **kw)[0], want, rtol=1e-12, atol=1e-14)
    got = run("Adam", decoupled_weight_decay=True, **{"weight_decay": 1e-2, **kw})[0]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", [dict(lr=0.01), dict(lr=0.01, alpha=0.9, weight_decay=0.1),
                                dict(lr=0.01, centered=True), dict(lr=0.01, momentum=0.9),
                                dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)])
def test_rmsprop_matches_rule(kw):
    np.testing.assert_allclose(run("RMSprop", **kw)[0], ref_rmsprop(**kw), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, lr_decay=0.5, weight_decay=0.1,
                                                   initial_accumulator_value=0.2)])
def test_adagrad_matches_rule(kw):
    np.testing.assert_allclose(run("Adagrad", **kw)[0], ref_adagrad(**kw), rtol=1e-12,
                               atol=1e-14)


# values printed by PyTorch 2.13 for the same parameters and gradients (first row, float64)
TORCH_VALUES = [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
     [0.13246890491215688, -0.4441682909895056, 1.0520079117261056]),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True),
     [0.13089062112681865, -0.1098187422151567, 0.6122950100665734]),
    ("AdamW", dict(lr=0.01, weight_decay=0.1),
     [0.12006504312758629, -0.15376797216032323, 0.6663446819601649]),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
     [0.003561581457095171, -0.42973340152687656, 1.0840779942830276]),
]


@pytest.mark.parametrize("name,kw,want", TORCH_VALUES)
def test_values_captured_from_pytorch(name, kw, want):
    np.testing.assert_allclose(run(name, **kw)[0][0], want, rtol=1e-14, atol=1e-15)


def test_step_state_and_no_autograd_record():
    p, opt = run("Adam", lr=0.01, amsgrad=True)
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert sorted(state) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert state["step"].item() == 3.0 and state["step"].dtype == torch.float32
    q = opt.param_groups[0]["params"][0]
    assert q.is_leaf and q.grad_fn is None and q.requires_grad


def test_param_groups_with_different_lr():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.0
    (a.sum() + b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.tolist(), [0.9, 0.9], rtol=1e-6)
    np.testing.assert_allclose(b.tolist(), [0.5] * 3, rtol=1e-6)
    c = torch.zeros(1, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 2.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["dampening"] == 0


def test_zero_grad_and_closure():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.tolist(), [0.8, 1.6], rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_argument_errors():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got torch.FloatTensor"):
        torch.optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        torch.optim.Adam([])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        torch.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        torch.optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        torch.optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        torch.optim.SGD([w], lr=0.1, nesterov=True)


def test_repr_as_pytorch():
    opt = torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1)
    assert repr(opt) == ("SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n"
                         "    foreach: None\n    fused: None\n    lr: 0.1\n    maximize: False\n"
                         "    momentum: 0\n    nesterov: False\n    weight_decay: 0\n)")


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                     ("Adagrad", dict(lr=0.1))])
def test_state_dict_round_trip(name, kw):
    """Two steps, save, load into a fresh optimizer, one more step == three steps straight."""
    want = run(name, **kw)[0]
    _, opt = run(name, steps=2, **kw)
    sd = opt.state_dict()
    assert list(sd["state"]) == [0] and sd["param_groups"][0]["params"] == [0]
    q = torch.tensor(np.array(opt.param_groups[0]["params"][0].tolist()), requires_grad=True,
                     dtype=torch.float64)
    fresh = getattr(torch.optim, name)([q], lr=123.0)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == kw["lr"] and fresh.param_groups[0]["params"][0] is q
    q.grad = torch.tensor(GRADS[2], dtype=torch.float64)
    fresh.step()
    np.testing.assert_allclose(q.tolist(), want, rtol=1e-12)
    st = next(iter(fresh.state.values()))
    for k, v in sd["state"][0].items():  # loaded state is a copy, not the saved tensors
        assert st[k] is not v


def test_load_state_dict_errors():
    w = torch.ones(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})


# learning-rate schedules: sequences printed by PyTorch 2.13 (first group, base lr 0.1) -------
SCHEDULES = {
    "StepLR": (lambda m, o: m.StepLR(o, 3, gamma=0.5),
               [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125,
                0.00625]),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, [2, 5, 5], gamma=0.1),
                    [0.1, 0.1] + [0.010000000000000002] * 3 + [0.00010000000000000005] * 8),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, 0.9),
                      [0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002,
                       0.06561000000000002, 0.05904900000000002, 0.05314410000000002,
                       0.04782969000000002, 0.043046721000000024, 0.03874204890000002,
                       0.03486784401000002, 0.03138105960900001, 0.028242953648100012]),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
                          [0.1, 0.09140576474687263, 0.06890576474687263, 0.04109423525312736,
                           0.018594235253127367, 0.01, 0.018594235253127367,
                           0.04109423525312739, 0.06890576474687267, 0.09140576474687269,
                           0.10000000000000006, 0.09140576474687272, 0.06890576474687268]),
    "LambdaLR": (lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e),
                 [0.1, 0.095, 0.09025, 0.0857375, 0.081450625, 0.07737809374999999,
                  0.07350918906249998, 0.06983372960937498, 0.06634204312890622,
                  0.0630249409724609, 0.05987369392383787, 0.05688000922764597,
                  0.05403600876626367]),
}


def two_group_sgd():
    return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                            {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_sequence(name):
    make, want = SCHEDULES[name]
    opt = two_group_sgd()
    sched = make(torch.optim.lr_scheduler, opt)
    got = [sched.get_last_lr()]
    for _ in range(12):
        opt.step()
        sched.step()
        got.append(sched.get_last_lr())
    assert [g[0] for g in got] == want  # exact floats, as PyTorch's chainable form gives
    assert opt.param_groups[0]["lr"] == want[-1]
    if name != "CosineAnnealingLR":  # eta_min is shared, so only there groups are not 5x
        assert all(math.isclose(g[1], 5 * g[0]) for g in got)
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_scheduler_state_dict_round_trip():
    opt = two_group_sgd()
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3 and sd["base_lrs"] == [0.1, 0.5]
    opt2 = two_group_sgd()
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, 7, gamma=0.9)
    sched2.load_state_dict(sd)
    opt2.load_state_dict(opt.state_dict())  # the chainable form continues from the group lrs
    opt2.step()
    sched2.step()
    assert sched2.get_last_lr() == [0.1 * 0.25, 0.5 * 0.25]
    lam = torch.optim.lr_scheduler.LambdaLR(two_group_sgd(), lambda e: 1.0)
    assert lam.state_dict()["lr_lambdas"] == [None, None]


def test_scheduler_before_optimizer_warns():
    opt = two_group_sgd()
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = two_group_sgd()
    sched2 = torch.optim.lr_scheduler.ExponentialLR(opt2, 0.5)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_training_loop_fits_line():
    """A DataLoader + Adam + StepLR loop on y = 3x - 1 recovers the line."""
    from dualgraph.utils.data import DataLoader, TensorDataset
    x = torch.linspace(-1, 1, 32).reshape(-1, 1)
    data = TensorDataset(x, 3 * x - 1)
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 50, gamma=0.5)
    loader = DataLoader(data, batch_size=8, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    for _ in range(100):
        for xb, yb in loader:
            opt.zero_grad()
            loss = ((xb * w + b - yb) ** 2).mean()
            loss.backward()
            opt.step()
        sched.step()
    assert abs(w.item() - 3) < 1e-2 and abs(b.item() + 1) < 1e-2


def test_clip_grad_norm_scales_all_gradients_together():
    nn = torch.nn
    a = torch.tensor([3.0, 4.0], requires_grad=True)
    b = torch.tensor([12.0], requires_grad=True)
    (a * a / 2).sum().backward()
    (b * b / 2).sum().backward()
    total = nn.utils.clip_grad_norm_([a, b], max_norm=6.5)
    assert total.item() == pytest.approx(13.0)  # sqrt(3^2 + 4^2 + 12^2)
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.numpy(), np.array([3.0, 4.0]) * scale, rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), [12.0 * scale], rtol=1e-6)
    assert nn.utils.clip_grad_norm_([a, b], max_norm=100.0).item() == pytest.approx(6.5, rel=1e-5)
    inf_norm = nn.utils.clip_grad_norm_([a, b], max_norm=1.0, norm_type=float("inf"))
    assert inf_norm.item() == pytest.approx(12.0 * scale, rel=1e-6)


def test_clip_grad_value_clamps_in_place():
    nn = torch.nn
    w = torch.tensor([-5.0, 0.5, 5.0], requires_grad=True)
    (w * w / 2).sum().backward()
    nn.utils.clip_grad_value_(w, 1.0)
    assert w.grad.tolist() == [-1.0, 0.5, 1.0]
