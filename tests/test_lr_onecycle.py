"""dg.optim.lr_scheduler.OneCycleLR: rate and momentum sequences against the 1cycle formula in
NumPy (cos / linear, two and three phases, per-group max_lr, SGD momentum and Adam beta1),
the past-the-end error, argument errors and the state_dict round trip."""

import math

import numpy as np
import pytest

import dualgraph as torch
from dualgraph.optim.lr_scheduler import OneCycleLR


def anneal(start, end, pct, strategy):
    if strategy == "cos":
        return end + (start - end) * (np.cos(np.pi * pct) + 1) / 2
    return start + (end - start) * pct


def ref_schedule(total, max_lr, pct_start=0.3, strategy="cos", base_m=0.85, max_m=0.95,
                 div=25.0, final_div=1e4, three_phase=False):
    """(lr, momentum) for steps 0..total as the 1cycle policy defines them: phase boundaries
    at pct_start*total - 1 (and 2*pct_start*total - 2), then total - 1."""
    lo = max_lr / div
    floor = lo / final_div
    if three_phase:
        phases = [(pct_start * total - 1, lo, max_lr, max_m, base_m),
                  (2 * pct_start * total - 2, max_lr, lo, base_m, max_m),
                  (total - 1, lo, floor, max_m, max_m)]
    else:
        phases = [(pct_start * total - 1, lo, max_lr, max_m, base_m),
                  (total - 1, max_lr, floor, base_m, max_m)]
    out = []
    for step in range(total + 1):
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
            if step <= end or i == len(phases) - 1:
                pct = (step - start) / (end - start)
                out.append((anneal(lr0, lr1, pct, strategy), anneal(m0, m1, pct, strategy)))
                break
            start = end
    return np.array(out)


def two_groups(opt_cls, **kw):
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    return opt_cls([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, **kw)


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def collect(opt, sched, steps):
    seq = []
    for _ in range(steps):
        seq.append([(lr, momentum_of(g)) for lr, g in zip(sched.get_last_lr(),
                                                          opt.param_groups)])
        opt.step()
        sched.step()
    seq.append([(lr, momentum_of(g)) for lr, g in zip(sched.get_last_lr(), opt.param_groups)])
    return np.array(seq)  # (steps + 1, groups, 2)


CONFIGS = [
    dict(total_steps=10),
    dict(total_steps=12, anneal_strategy="linear"),
    dict(epochs=3, steps_per_epoch=5, pct_start=0.25, three_phase=True),
    dict(total_steps=16, pct_start=0.4, three_phase=True, anneal_strategy="linear",
         div_factor=10.0, final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9),
]


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_sequence_matches_formula(kw, opt_name):
    extra = {"momentum": 0.9} if opt_name == "SGD" else {}
    opt = two_groups(getattr(torch.optim, opt_name), **extra)
    sched = OneCycleLR(opt, max_lr=[1.0, 0.3], **kw)
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    got = collect(opt, sched, total)
    args = dict(pct_start=kw.get("pct_start", 0.3), strategy=kw.get("anneal_strategy", "cos"),
                base_m=kw.get("base_momentum", 0.85), max_m=kw.get("max_momentum", 0.95),
                div=kw.get("div_factor", 25.0), final_div=kw.get("final_div_factor", 1e4),
                three_phase=kw.get("three_phase", False))
    for i, max_lr in enumerate([1.0, 0.3]):
        np.testing.assert_allclose(got[:, i], ref_schedule(total, max_lr, **args), rtol=1e-12,
                                   atol=1e-15)
    if opt_name == "Adam":
        assert all(g["betas"][1] == 0.999 for g in opt.param_groups)


def test_group_keys_and_start():
    opt = two_groups(torch.optim.SGD, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=2.0, total_steps=5, div_factor=4.0, final_div_factor=10.0)
    g = opt.param_groups[1]
    assert (g["initial_lr"], g["max_lr"], g["min_lr"], g["lr"]) == (0.5, 2.0, 0.05, 0.5)
    assert (g["max_momentum"], g["base_momentum"], g["momentum"]) == (0.95, 0.85, 0.95)
    assert sched.get_last_lr() == [0.5, 0.5] and sched.base_lrs == [0.5, 0.5]


def test_without_momentum_cycling():
    opt = torch.optim.Adagrad([torch.zeros(2, requires_grad=True)], lr=0.1)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=4, cycle_momentum=False)
    for _ in range(3):  # step total_steps - 1 is the minimum
        opt.step()
        sched.step()
    assert math.isclose(sched.get_last_lr()[0], 1.0 / 25 / 1e4)
    assert "momentum" not in opt.param_groups[0] and not hasattr(sched, "use_beta1")


def test_stepping_past_total_steps_raises():
    opt = two_groups(torch.optim.SGD, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    opt.step()
    with pytest.raises(ValueError, match="^Tried to step 4 times. The specified number of "
                                         "total steps is 3$"):
        sched.step()


def test_argument_errors_as_pytorch():
    def sgd():
        return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    cases = [
        (dict(max_lr=1.0), "You must define either total_steps OR (epochs AND steps_per_epoch)"),
        (dict(max_lr=1.0, total_steps=0), "Expected positive integer total_steps, but got 0"),
        (dict(max_lr=1.0, epochs=0, steps_per_epoch=2),
         "Expected positive integer epochs, but got 0"),
        (dict(max_lr=1.0, epochs=2, steps_per_epoch=1.5),
         "Expected positive integer steps_per_epoch, but got 1.5"),
        (dict(max_lr=1.0, total_steps=5, pct_start=1),
         "Expected float between 0 and 1 pct_start, but got 1"),
        (dict(max_lr=1.0, total_steps=5, anneal_strategy="exp"),
         "anneal_strategy must be one of 'cos' or 'linear', instead got exp"),
        (dict(max_lr=[1.0, 2.0], total_steps=5),
         "max_lr must have the same length as optimizer.param_groups. max_lr has 2 values, "
         "param_groups has 1."),
    ]
    for kw, msg in cases:
        with pytest.raises(ValueError) as err:
            OneCycleLR(sgd(), **kw)
        assert str(err.value) == msg
    adagrad = torch.optim.Adagrad([torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match="^optimizer must support momentum or beta1 with "
                                         "`cycle_momentum` option enabled$"):
        OneCycleLR(adagrad, max_lr=1.0, total_steps=5)
    with pytest.raises(TypeError, match="^int is not an Optimizer$"):
        OneCycleLR(3, max_lr=1.0, total_steps=5)


def test_state_dict_round_trip():
    opt = two_groups(torch.optim.SGD, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=[1.0, 0.3], total_steps=10, anneal_strategy="linear")
    for _ in range(4):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4 and sd["total_steps"] == 10
    assert sd["_anneal_func_type"] == "linear" and sd["use_beta1"] is False
    opt2 = two_groups(torch.optim.SGD, momentum=0.9)
    opt2.load_state_dict(opt.state_dict())
    sched2 = OneCycleLR(opt2, max_lr=5.0, total_steps=50, last_epoch=3)
    sched2.load_state_dict(sd)
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(5):
        opt.step()
        sched.step()
        opt2.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert [g["momentum"] for g in opt2.param_groups] == \
            [g["momentum"] for g in opt.param_groups]


def test_matches_torch_numbers():
    real = pytest.importorskip("torch")

    def run(lib, opt_name, kw):
        a = lib.zeros(2, requires_grad=True)
        b = lib.zeros(3, requires_grad=True)
        extra = {"momentum": 0.9} if opt_name == "SGD" else {}
        opt = getattr(lib.optim, opt_name)([{"params": [a]}, {"params": [b], "lr": 0.5}],
                                           lr=0.1, **extra)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 0.3], **kw)
        total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
        return collect(opt, sched, total)

    for kw in CONFIGS:
        for name in ("SGD", "Adam"):
            np.testing.assert_array_equal(run(torch, name, kw), run(real, name, kw))
