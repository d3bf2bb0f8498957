"""Silently wrong gradients and values (issue 22): each case against PyTorch's documented behaviour.

PyTorch is not installed; the expected results and messages are PyTorch's, hard-coded from its
documentation and its autograd formulas (`tools/autograd/derivatives.yaml`), with the reason in a
comment. Each case runs eagerly and, where it applies, through `dg.jit.trace`, `dg.jit.script`
and a save/load round trip of the traced function.
"""

from __future__ import annotations

import math
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
            warnings.simplefilter("ignore", RuntimeWarning)  # inf * 0 inside pow's backward
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
