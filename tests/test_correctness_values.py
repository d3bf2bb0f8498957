"""Silently wrong gradients and values (issue 22): each case against PyTorch's documented behaviour.

PyTorch is not installed; the expected results and messages are PyTorch's, hard-coded from its
documentation and its autograd formulas (`tools/autograd/derivatives.yaml`), with the reason in a
comment. Each case runs eagerly and, where it applies, through `dg.jit.trace`, `dg.jit.script`
and a save/load round trip of the traced function.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import dualgraph as dg
import dualgraph.nn as nn
import dualgraph.nn.functional as F


def compiled(fn, args, tmp_path, name="f"):
    """`fn` eagerly, traced, scripted, and traced-saved-loaded: {mode: callable}."""
    traced = dg.jit.trace(fn, args)
    path = tmp_path / f"{name}.dgm"
    traced.save(path)
    return {"eager": fn, "trace": traced, "script": dg.jit.script(fn), "load": dg.load(path)}


def grad_of(f, x0, *rest):
    """d sum(f(x)) / dx at x0 (a fresh leaf per call)."""
    x = dg.tensor(x0, requires_grad=True)
    f(x, *rest).backward()
    return x.grad.numpy()


# ------------------------------------------------------------------ 1. save what PyTorch saves
# PyTorch's pow(Tensor, Scalar) saves `self` only (derivatives.yaml: pow_backward(grad, self,
# exponent)), so changing the output in place does not break backward: a.grad = 2 * 2 * a.

def test_pow_saves_its_input_not_its_output():
    a = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a ** 2
    y.mul_(2)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [4.0, 8.0, 12.0])
    b = dg.tensor([1.5, 2.0], requires_grad=True)
    e = dg.tensor([2.0, 3.0], requires_grad=True)
    y = b ** e
    y.add_(1)  # pow(Tensor, Tensor): still the inputs' gradients
    y.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [2 * 1.5, 3 * 4.0], rtol=1e-6)
    np.testing.assert_allclose(e.grad.numpy(), [1.5 ** 2 * math.log(1.5), 8 * math.log(2.0)],
                               rtol=1e-6)


def test_pow_gradient_at_zero_is_pytorchs():
    # pow_backward: exponent == 0 gives zeros (not 0 * 0 ** -1 = NaN); pow_backward_exponent:
    # base == 0 with exponent >= 0 gives the exponent a zero gradient (not 0 * log 0 = NaN).
    x = dg.tensor([0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    b = dg.tensor([0.0, 2.0], requires_grad=True)
    e = dg.tensor([0.0, 1.0], requires_grad=True)
    (b ** e).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 1.0])
    np.testing.assert_allclose(e.grad.numpy(), [0.0, 2 * math.log(2.0)], rtol=1e-6)
    t = dg.tensor([1.0, 2.0], requires_grad=True)
    (0 ** t).sum().backward()  # pow(Scalar 0, Tensor): zero for exponents >= 0
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 0.0])


SELECTIONS = {  # PyTorch saves indices and the input's sizes for these, never the values
    "max": lambda x: x.max(1), "min": lambda x: x.min(1), "sort": lambda x: x.sort(1),
    "topk": lambda x: x.topk(2, 1), "median": lambda x: x.median(1),
    "kthvalue": lambda x: x.kthvalue(2, 1), "mode": lambda x: x.mode(1),
}
X_SEL = [[1.0, 3.0, 2.0], [6.0, 4.0, 5.0]]
EXPECTED_SEL = {"max": [[0, 1, 0], [1, 0, 0]], "min": [[1, 0, 0], [0, 1, 0]],
                "sort": [[1, 1, 1], [1, 1, 1]], "topk": [[0, 1, 1], [1, 0, 1]],
                "median": [[0, 0, 1], [0, 0, 1]], "kthvalue": [[0, 0, 1], [0, 0, 1]],
                "mode": [[1, 0, 0], [0, 1, 0]]}  # mode of distinct values: the smallest


@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_changing_selected_values_in_place_keeps_backward(name):
    x = dg.tensor(X_SEL, requires_grad=True)
    values, indices = SELECTIONS[name](x)
    s = values.sum()
    with dg.no_grad():
        values.mul_(100)
    s.backward()
    np.testing.assert_array_equal(x.grad.numpy(), EXPECTED_SEL[name])
    x.grad = None  # with grad on, the change is recorded and backward still runs
    values, _ = SELECTIONS[name](x)
    values.mul_(2)
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.array(EXPECTED_SEL[name]))


@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_changing_selected_values_in_place_traced(name):
    x = dg.tensor(X_SEL, requires_grad=True)
    f = dg.jit.trace(SELECTIONS[name], (x,))
    values, _ = f(x)
    s = values.sum()
    with dg.no_grad():
        values.mul_(100)
    s.backward()
    np.testing.assert_array_equal(x.grad.numpy(), EXPECTED_SEL[name])


def test_changing_the_indices_still_raises():
    # The indices are saved: changing them is what PyTorch refuses.
    x = dg.tensor(X_SEL, requires_grad=True)
    values, indices = x.max(1)
    indices.add_(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        values.sum().backward()


# ------------------------------------------------------ 2. piecewise-constant ops: zero gradient
# derivatives.yaml: floor, ceil, round, trunc, sign: `self: zeros_like(grad)`. The incoming
# gradient of sqrt(|0|) is inf; PyTorch's zeros stay zeros where `g * 0` would be NaN.

def floor_root(x):
    return (dg.floor(x).abs() ** 0.5).sum()


def ceil_root(x):
    return (dg.ceil(x).abs() ** 0.5).sum()


def round_root(x):
    return (dg.round(x).abs() ** 0.5).sum()


def trunc_root(x):
    return (dg.trunc(x).abs() ** 0.5).sum()


def sign_root(x):
    return (dg.sign(x).abs() ** 0.5).sum()


def rounded_div_root(x):
    return (dg.div(x, 2.0, rounding_mode="floor").abs() ** 0.5).sum()


@pytest.mark.parametrize("fn", [floor_root, ceil_root, round_root, trunc_root, sign_root,
                                rounded_div_root], ids=lambda f: f.__name__)
def test_piecewise_constant_backward_is_zeros(fn, tmp_path):
    x0 = [0.0, 0.0, 0.25]
    for mode, f in compiled(fn, (dg.tensor(x0),), tmp_path).items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # inf * 0 inside the backward: silent (item 8)
            g = grad_of(f, x0)
        np.testing.assert_array_equal(g, [0.0, 0.0, 0.0], err_msg=mode)


# ------------------------------------------------------------------ 3. relu and clamp keep -0.0
# PyTorch's relu is clamp_min(x, 0), and its clamp returns x unless x is beyond a bound, so
# relu(-0.0) is -0.0: atan2(-0.0, -1) = -pi (atan2(+0.0, -1) = +pi), copysign(1, -0.0) = -1.

def relu_atan2(x):
    return dg.atan2(dg.relu(x), -dg.ones_like(x))


def clamp_min_atan2(x):
    return dg.atan2(dg.clamp(x, min=0.0), -dg.ones_like(x))


def clamp_max_copysign(x):
    return dg.copysign(dg.ones_like(x), x.clamp(max=0.0))


def clamp_both_signbit(x):
    return dg.copysign(dg.ones_like(x), x.clamp(0.0, 1.0)) < 0  # torch.signbit


def clamp_tensor_copysign(x):
    return dg.copysign(dg.ones_like(x), dg.clamp(x, dg.zeros_like(x), dg.ones_like(x)))


def relu_module_copysign(x):
    return dg.copysign(dg.ones_like(x), nn.ReLU()(x))


X_ZERO = [-0.0, 0.0, -1.0, 2.0]
EXPECTED_ZERO = {
    relu_atan2: [-math.pi, math.pi, math.pi, math.atan2(2.0, -1.0)],
    clamp_min_atan2: [-math.pi, math.pi, math.pi, math.atan2(2.0, -1.0)],
    clamp_max_copysign: [-1.0, 1.0, -1.0, 1.0],  # clamp(2, max=0) = +0.0
    clamp_both_signbit: [True, False, False, False],
    clamp_tensor_copysign: [-1.0, 1.0, 1.0, 1.0],
    relu_module_copysign: [-1.0, 1.0, 1.0, 1.0],
}


@pytest.mark.parametrize("fn", list(EXPECTED_ZERO), ids=lambda f: f.__name__)
def test_relu_and_clamp_keep_negative_zero(fn, tmp_path):
    x = dg.tensor(X_ZERO)
    for mode, f in compiled(fn, (x,), tmp_path).items():
        np.testing.assert_allclose(f(x).numpy(), EXPECTED_ZERO[fn], rtol=1e-6, err_msg=mode)


def test_relu_and_clamp_keep_nan():
    x = dg.tensor([float("nan"), -1.0])
    for out in (dg.relu(x), x.clamp(min=0.0), x.clamp(0.0, 1.0), x.relu_().clone()):
        assert math.isnan(out[0].item()) and out[1].item() == 0.0


# ------------------------------------------------------- 4. BCEWithLogits gradient at exactly 0
# PyTorch: d/dx [(1 - y) x - (1 + (p - 1) y) log_sigmoid(x)] = (1 - y) - (1 + (p - 1) y)
# sigmoid(-x); at x = 0: 0.5 - y without pos_weight (-0.5 for y = 1, 0.5 for y = 0), and
# (1 - y) - (1 + (p - 1) y) / 2 with it (p = 3, y = 1: -1.5).

def bce_logits(x, y):
    return F.binary_cross_entropy_with_logits(x, y, reduction="sum")


def bce_logits_pos_weight(x, y):
    return F.binary_cross_entropy_with_logits(x, y, reduction="sum",
                                              pos_weight=dg.tensor([3.0, 3.0]))


def bce_logits_module(x, y):
    return nn.BCEWithLogitsLoss(reduction="sum")(x, y)


@pytest.mark.parametrize("fn, expected", [(bce_logits, [-0.5, 0.5]),
                                          (bce_logits_pos_weight, [-1.5, 0.5]),
                                          (bce_logits_module, [-0.5, 0.5])],
                         ids=["functional", "pos_weight", "module"])
def test_bce_with_logits_gradient_at_zero(fn, expected, tmp_path):
    x0, y = [0.0, 0.0], dg.tensor([1.0, 0.0])
    for mode, f in compiled(fn, (dg.tensor(x0), y), tmp_path).items():
        np.testing.assert_allclose(grad_of(f, x0, y), expected, rtol=1e-6, err_msg=mode)
        # the value at 0 is log 2 per element (times p for the positive one)
        weight = 3.0 if fn is bce_logits_pos_weight else 1.0
        np.testing.assert_allclose(f(dg.tensor(x0), y).item(), (weight + 1) * math.log(2),
                                   rtol=1e-6, err_msg=mode)


def test_bce_with_logits_keeps_large_logits_finite():
    x = dg.tensor([-100.0, 100.0, -30.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, dg.tensor([1.0, 0.0, 0.0]), reduction="none")
    # (exactly 9.4e-14 at -30: float32's (1 - y) x - log_sigmoid(x) rounds it to 0, as PyTorch's)
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, 0.0], rtol=1e-5, atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, 0.0], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------ 5. sigmoid's tail and BCE's input check
# PyTorch's CPU sigmoid is 1 / (1 + exp(-x)): in float32 sigmoid(-17) = 4.1399e-8 (the tanh form
# gave 5.96e-8), sigmoid(-20) = 2.0612e-9 (it gave 0), sigmoid(-87) = 1.6458e-38; below float32's
# exp overflow (-88.7) PyTorch gives 0 too. BCE clamps each log at -100.

def sigmoid_fn(x):
    return x.sigmoid()


def bce_of_sigmoid(x):
    return F.binary_cross_entropy(x.sigmoid(), dg.ones_like(x), reduction="none")


def test_sigmoid_keeps_the_float32_tail(tmp_path):
    x = dg.tensor([-17.0, -20.0, -50.0, -87.0, 0.0, 20.0])
    exact = [4.1399377e-08, 2.0611537e-09, 1.9287499e-22, 1.6458114e-38, 0.5, 1.0]
    for mode, f in compiled(sigmoid_fn, (x,), tmp_path).items():
        out = f(x)
        assert out.dtype == dg.float32
        np.testing.assert_allclose(out.numpy(), exact, rtol=1e-5, err_msg=mode)
    assert dg.tensor(-100.0).sigmoid().item() == 0.0  # as PyTorch: exp(100) overflows float32


def test_bce_of_sigmoid_matches_pytorch(tmp_path):
    x = dg.tensor([-17.0, -20.0, -50.0, -87.0, -100.0, 3.0])
    # -log(sigmoid(x)) = log(1 + exp(-x)) ~ -x; at -100 sigmoid is 0 and the log is clamped
    expected = [17.0, 20.0, 50.0, 87.0, 100.0, math.log1p(math.exp(-3.0))]
    for mode, f in compiled(bce_of_sigmoid, (x,), tmp_path).items():
        np.testing.assert_allclose(f(x).numpy(), expected, rtol=1e-5, err_msg=mode)


def bce_mean(p, y):
    return F.binary_cross_entropy(p, y)


def bce_module(p, y):
    return nn.BCELoss()(p, y)


@pytest.mark.parametrize("fn", [bce_mean, bce_module], ids=["functional", "module"])
def test_bce_refuses_probabilities_outside_0_1_at_call_time(fn, tmp_path):
    p, y = dg.tensor([0.25, 0.75]), dg.tensor([0.0, 1.0])
    for mode, f in compiled(fn, (p, y), tmp_path).items():
        np.testing.assert_allclose(f(p, y).item(), -math.log(0.75), rtol=1e-6, err_msg=mode)
        for bad in ([0.5, float("nan")], [1.5, 0.5], [-0.1, 0.5]):
            with pytest.raises(RuntimeError, match="all elements of input should be between 0 "
                                                   "and 1"):
                f(dg.tensor(bad), y)
    assert "binary_cross_entropy" in dg.jit.trace(fn, (p, y)).graph.op_counts()


def test_bce_gradient_through_the_check():
    p = dg.tensor([0.25, 0.5], requires_grad=True)
    F.binary_cross_entropy(p, dg.tensor([1.0, 0.0]), reduction="sum").backward()
    # d/dp -[y log p + (1 - y) log(1 - p)] = (p - y) / (p (1 - p))
    np.testing.assert_allclose(p.grad.numpy(), [-4.0, 2.0], rtol=1e-6)


# ------------------------------------------- 9. cross_entropy / nll_loss / BCE trace and script
# The data checks are ops (check_target; binary_cross_entropy checks itself) that raise
# PyTorch's error when the compiled function runs: IndexError "Target 5 is out of bounds." for a class index out of range.

def ce(x, y):
    return F.cross_entropy(x, y)


def ce_module_weighted(x, y):
    return nn.CrossEntropyLoss(weight=dg.tensor([1.0, 2.0, 0.5, 1.0]), ignore_index=3)(x, y)


def ce_smoothing(x, y):
    return F.cross_entropy(x, y, label_smoothing=0.1, reduction="sum")


def nll(x, y):
    return F.nll_loss(x.log_softmax(1), y)


def nll_module(x, y):
    return nn.NLLLoss(reduction="none")(x.log_softmax(1), y)


def _ce_reference(x, y, weight=None, ignore=-100):
    """NumPy: -w[y] log_softmax(x)[y], mean over the total weight of non-ignored targets."""
    logp = x - x.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    w = np.ones(x.shape[1]) if weight is None else np.asarray(weight)
    keep = y != ignore
    picked = -logp[np.arange(len(y)), np.where(keep, y, 0)] * w[np.where(keep, y, 0)] * keep
    return picked, (w[np.where(keep, y, 0)] * keep).sum(), logp


@pytest.mark.parametrize("fn", [ce, ce_module_weighted, ce_smoothing, nll, nll_module],
                         ids=lambda f: f.__name__)
def test_classification_losses_trace_script_and_load(fn, tmp_path):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(5, 4)).astype(np.float32)
    y = dg.tensor([0, 3, 1, 2, 3])
    picked, total, logp = _ce_reference(x0.astype(np.float64), y.numpy())
    if fn is ce_module_weighted:
        picked, total, _ = _ce_reference(x0.astype(np.float64), y.numpy(), [1, 2, 0.5, 1], 3)
    expected = {ce: picked.sum() / total, nll: picked.sum() / total, nll_module: picked,
                ce_module_weighted: picked.sum() / total,
                ce_smoothing: 0.9 * picked.sum() + 0.1 / 4 * -logp.sum()}[fn]
    eager_grad = grad_of(lambda x, t: fn(x, t).sum(), x0, y)
    for mode, f in compiled(fn, (dg.tensor(x0), y), tmp_path).items():
        np.testing.assert_allclose(f(dg.tensor(x0), y).numpy(), expected, rtol=1e-5,
                                   err_msg=mode)
        np.testing.assert_allclose(grad_of(lambda x, t: f(x, t).sum(), x0, y), eager_grad,
                                   rtol=1e-5, atol=1e-7, err_msg=mode)
        fresh = dg.tensor(rng.normal(size=(5, 4)).astype(np.float32))
        np.testing.assert_allclose(f(fresh, y).numpy(), fn(fresh, y).numpy(), rtol=1e-5,
                                   err_msg=mode)
        with pytest.raises(IndexError, match=r"^Target 5 is out of bounds\.$"):
            f(dg.tensor(x0), dg.tensor([0, 5, 1, 2, 3]))
        with pytest.raises(IndexError, match=r"^Target -2 is out of bounds\.$"):
            f(dg.tensor(x0), dg.tensor([0, 1, -2, 2, 1]))


def test_cross_entropy_traces_with_a_symbolic_batch():
    f = dg.jit.trace(ce, (dg.randn(5, 4), dg.tensor([0, 1, 2, 3, 0])),
                     dynamic_dims=[{0: "B"}, {0: "B"}])
    assert "nll_loss" in str(f.graph)  # one op, whose kernel checks the targets at call time
    for batch in (1, 3, 8):
        x, y = dg.randn(batch, 4), dg.randint(0, 4, (batch,))
        np.testing.assert_allclose(f(x, y).item(), ce(x, y).item(), rtol=1e-5)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        f(dg.randn(2, 4), dg.tensor([4, 0]))


def test_ignore_index_outside_the_class_range_is_accepted():
    x = dg.randn(3, 4)
    out = F.cross_entropy(x, dg.tensor([-100, 1, -100]))
    np.testing.assert_allclose(out.item(), -x.log_softmax(1)[1, 1].item(), rtol=1e-5)


# ------------------------------------------------ 8. no NumPy RuntimeWarnings where PyTorch is silent
# PyTorch returns log(0) = -inf, sqrt(-1) = nan, 1/0 = inf, exp(1000) = inf, acos(2) = nan, the
# mean of nothing = nan and cumsum([inf, -inf]) = [inf, nan] without a warning; under
# `python -W error` (here: warnings as errors) none may raise.

INF = float("inf")


def silent_cases(x):
    return (x.log(), x.sqrt(), 1 / x, x.exp(), x.acos(), x.reciprocal(), x.log1p(),
            x.rsqrt(), dg.atanh(x), x.cumsum(0), x.softmax(0), (x ** -1.5), x.sigmoid())


X_SPECIAL = [0.0, -1.0, 2.0, 1000.0, INF, -INF]


def test_no_numpy_warnings_eager_and_compiled(tmp_path):
    x = dg.tensor(X_SPECIAL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode, f in compiled(silent_cases, (x,), tmp_path).items():
            log, sqrt, inv, exp, acos, *_ = f(x)
            np.testing.assert_array_equal(log.numpy()[:2], [-INF, np.nan], err_msg=mode)
            assert np.isnan(sqrt.numpy()[1]) and inv.numpy()[0] == INF, mode
            assert exp.numpy()[3] == INF and np.isnan(acos.numpy()[2]), mode
        assert math.isnan(dg.zeros(0).mean().item())
        np.testing.assert_array_equal(dg.zeros(3, 0).mean(1).numpy(), [np.nan] * 3)
        assert dg.zeros(0, 3).mean(0).shape == (3,)
        np.testing.assert_array_equal(dg.tensor([INF, -INF, 1.0]).cumsum(0).numpy(),
                                      [INF, np.nan, np.nan])
        # the bare kernels (add, sub, mul, sum): raised as errors, re-run quietly
        assert math.isnan((dg.tensor([INF]) - dg.tensor([INF])).item())
        assert (dg.tensor([3e38]) * 10).item() == INF
        assert math.isnan(dg.tensor([INF, -INF]).sum().item())
        y = dg.tensor([INF])
        y.sub_(INF)  # the in-place ufunc path
        assert math.isnan(y.item())
        z = dg.tensor([0.0])
        z.log_()
        assert z.item() == -INF
        g = dg.jit.trace(lambda a: (a.log() + a.exp()).sum() - a.sum(), (x,))
        assert math.isnan(g(x).item())


def test_numpy_error_state_of_the_caller_is_untouched():
    before = np.geterr()
    with np.errstate(divide="raise"):
        dg.tensor([0.0]).log()  # dualgraph's own kernels are quiet ...
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))  # ... and the caller's setting still holds for the caller
    assert np.geterr() == before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.log(np.zeros(1))
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_backward_of_log_at_zero_is_silent():
    x = dg.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.log().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [INF, 1.0])


# ------------------------------------------------------------ 6. bad input refused as PyTorch does

def test_reshape_refuses_negative_sizes_other_than_minus_one():
    for fn in (lambda x: x.reshape(-2, 3), lambda x: x.view(-2, 3)):
        with pytest.raises(RuntimeError, match="invalid shape dimension -2"):
            fn(dg.zeros(6))
        with pytest.raises(RuntimeError, match="invalid shape dimension -2"):
            dg.jit.trace(fn, (dg.zeros(6),))


def test_squeeze_refuses_a_dim_out_of_range():
    msg = r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)"
    with pytest.raises(IndexError, match=msg):
        dg.zeros(2, 1).squeeze(5)
    with pytest.raises(IndexError, match=msg):
        dg.jit.trace(lambda x: x.squeeze(5), (dg.zeros(2, 1),))
    assert dg.zeros(2, 1).squeeze(-1).shape == (2,)


@pytest.mark.parametrize("call", [
    lambda out: dg.add(dg.ones(2), dg.ones(2), out=out),
    lambda out: dg.mul(dg.ones(2), 2.5, out=out),
    lambda out: dg.exp(dg.ones(2), out=out),
    lambda out: dg.sum(dg.ones(2, 2), 0, out=out),
    lambda out: dg.clamp(dg.ones(2), min=0.5, out=out),
    lambda out: dg.where(dg.tensor([True, False]), dg.ones(2), 0.5, out=out),
    lambda out: dg.cat([dg.ones(1), dg.ones(1)], out=out),
    lambda out: dg.matmul(dg.ones(2, 2), dg.ones(2), out=out),
], ids=["add", "mul", "exp", "sum", "clamp", "where", "cat", "matmul"])
def test_out_refuses_a_dtype_the_result_cannot_be_cast_to(call):
    out = dg.zeros(2, dtype=dg.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        call(out)
    np.testing.assert_array_equal(out.numpy(), [0, 0])  # nothing was written
    wider = dg.zeros(2, dtype=dg.float64)  # float -> double is allowed, as in PyTorch
    call(wider)
    assert wider.dtype == dg.float64 and wider.numpy()[0] != 0


def test_out_of_range_indices_give_pytorchs_error():
    x = dg.zeros(2, 3)
    msg = "index 5 is out of bounds for dimension 1 with size 3"
    with pytest.raises(RuntimeError, match=msg):
        x.gather(1, dg.tensor([[5]]))
    with pytest.raises(RuntimeError, match=msg):
        x.scatter_add_(1, dg.tensor([[5]]), dg.ones(1, 1))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 1"):
        x.gather(1, dg.tensor([[-1]]))  # PyTorch does not wrap negative indices here
    f = dg.jit.trace(lambda a, i: a.gather(1, i), (x, dg.tensor([[0]])))
    with pytest.raises(RuntimeError, match=msg):
        f(x, dg.tensor([[5]]))


def test_zero_dim_unbind_and_max():
    with pytest.raises(IndexError, match="Dimension specified as 0 but tensor has no "
                                         "dimensions"):
        dg.tensor(1.0).unbind(0)
    # PyTorch accepts max/min along dim 0 (or -1) of a 0-d tensor: (the value, index 0)
    x = dg.tensor(2.0, requires_grad=True)
    for name in ("max", "min"):
        values, indices = getattr(x, name)(0)
        assert values.shape == () and values.item() == 2.0
        assert indices.dtype == dg.int64 and indices.item() == 0
    (x.max(-1).values * 3).backward()
    assert x.grad.item() == 3.0
    with pytest.raises(IndexError, match=r"expected to be in range of \[-1, 0\], but got 1"):
        x.max(1)
    f = dg.jit.trace(lambda a: a.max(0)[0] * 3, (x,))
    assert f(dg.tensor(5.0)).item() == 15.0


def test_no_numpy_warning_is_shown_for_dualgraph_kernels_but_the_users_still_are():
    """In a plain Python process (default warning filters) a user sees no NumPy RuntimeWarning
    from dualgraph's kernels — PyTorch is silent: 3e38 + 3e38 is inf — eager or compiled, while
    their own NumPy code still warns."""
    script = textwrap.dedent("""
        import numpy as np, dualgraph as dg
        x = dg.tensor([3e38], dtype=dg.float32)
        f = dg.jit.trace(lambda a: a + a * 2, (x,))
        print((x + x).item(), (x * 10).item(), (x - (-x)).item(), f(x).item())
        np.float32(3e38) * np.float32(10)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["inf"] * 4
    warned = [line for line in out.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warned) == 1 and "scalar multiply" in warned[0] and "<string>" in warned[0]
