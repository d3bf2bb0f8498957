"""The math family's user-facing API: functions, methods, in-place and `out=` forms, operators,
PyTorch's dtype rules, printed results and error messages. (Each op's values, gradients and
graph modes are covered by the conformance test through its samples.)"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import dualgraph as torch

NAN, INF = float("nan"), float("inf")

# ------------------------------------------------------------------------- printed like PyTorch

PRINTED = [
    (lambda: torch.clamp(torch.tensor([[-1.5, 0.25, 2.75], [3.5, -0.5, 1.0]]), -1, 1),
     "tensor([[-1.0000,  0.2500,  1.0000],\n        [ 1.0000, -0.5000,  1.0000]])"),
    (lambda: torch.tensor([[-1.5, 0.25, 2.75], [3.5, -0.5, 1.0]]).round(),
     "tensor([[-2.,  0.,  3.],\n        [ 4., -0.,  1.]])"),
    (lambda: torch.round(torch.tensor([1.2345, 12.345]), decimals=2), "tensor([ 1.2300, 12.3400])"),
    (lambda: torch.tensor([7, -7, 8]) // 3, "tensor([ 2, -3,  2])"),
    (lambda: torch.tensor([7, -7, 8]) % 3, "tensor([1, 2, 2])"),
    (lambda: torch.tensor([7.5, -7.5]) % -2, "tensor([-0.5000, -1.5000])"),
    (lambda: torch.fmod(torch.tensor([7.5, -7.5]), -2), "tensor([ 1.5000, -1.5000])"),
    (lambda: torch.tensor([0b1100, 0b1010], dtype=torch.uint8) ^ 0b0110,
     "tensor([10, 12], dtype=torch.uint8)"),
    (lambda: torch.isnan(torch.tensor([1.0, NAN])), "tensor([False,  True])"),
    (lambda: torch.nan_to_num(torch.tensor([NAN, INF, -INF])),
     "tensor([ 0.0000e+00,  3.4028e+38, -3.4028e+38])"),
    (lambda: torch.lerp(torch.zeros(3), torch.tensor([10., 20., 30.]), 0.25),
     "tensor([2.5000, 5.0000, 7.5000])"),
    (lambda: torch.tensor([0.5, 2.0], requires_grad=True).clamp(max=1.0),
     "tensor([0.5000, 1.0000], grad_fn=<ClampBackward1>)"),
    (lambda: torch.maximum(torch.tensor([0.5, 2.0], requires_grad=True), torch.ones(2)),
     "tensor([1., 2.], grad_fn=<MaximumBackward0>)"),
    (lambda: torch.addmm(torch.ones(2, 2), torch.tensor([[1., 0.], [0., 1.]]),
                         torch.tensor([[1., 2.], [3., 4.]]), beta=2),
     "tensor([[3., 4.],\n        [5., 6.]])"),
    (lambda: torch.atan2(torch.tensor([1.0, -1.0]), torch.tensor([-1.0, -1.0])),
     "tensor([ 2.3562, -2.3562])"),
    (lambda: torch.tensor([1, 2, 3]).square(), "tensor([1, 4, 9])"),
    (lambda: torch.logical_and(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([3, 3, 0])),
     "tensor([ True, False, False])"),
    (lambda: torch.asin(torch.tensor([0.5, 1.0, 2.0])), "tensor([0.5236, 1.5708,    nan])"),
    (lambda: torch.div(torch.tensor([-7, 7]), 2, rounding_mode="trunc"), "tensor([-3,  3])"),
    (lambda: torch.div(torch.tensor([-7., 7.]), 2, rounding_mode="floor"), "tensor([-4.,  3.])"),
]


@pytest.mark.parametrize("make,text", PRINTED, ids=[str(i) for i in range(len(PRINTED))])
def test_prints_like_pytorch(make, text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # asin(2.0) is NaN, as in PyTorch
        assert repr(make()) == text


# ----------------------------------------------------------------- function / method / _ / out=

UNARY = {  # name: (NumPy reference, input values)
    "square": (np.square, [-1.5, 0.5, 2.0]), "rsqrt": (lambda x: 1 / np.sqrt(x), [0.5, 2.0]),
    "log1p": (np.log1p, [0.5, 2.0]), "expm1": (np.expm1, [-0.5, 0.5]),
    "log2": (np.log2, [0.5, 8.0]), "log10": (np.log10, [0.5, 100.0]),
    "exp2": (np.exp2, [-1.0, 3.0]), "tan": (np.tan, [-0.5, 1.0]),
    "asin": (np.arcsin, [-0.5, 0.9]), "arcsin": (np.arcsin, [-0.5, 0.9]),
    "acos": (np.arccos, [-0.5, 0.9]), "arccos": (np.arccos, [-0.5, 0.9]),
    "atan": (np.arctan, [-3.0, 0.5]), "arctan": (np.arctan, [-3.0, 0.5]),
    "sinh": (np.sinh, [-1.0, 2.0]), "cosh": (np.cosh, [-1.0, 2.0]),
    "asinh": (np.arcsinh, [-1.0, 2.0]), "arcsinh": (np.arcsinh, [-1.0, 2.0]),
    "acosh": (np.arccosh, [1.5, 3.0]), "arccosh": (np.arccosh, [1.5, 3.0]),
    "atanh": (np.arctanh, [-0.5, 0.9]), "arctanh": (np.arctanh, [-0.5, 0.9]),
    "ceil": (np.ceil, [-1.5, 0.2]), "floor": (np.floor, [-1.5, 0.2]),
    "trunc": (np.trunc, [-1.5, 0.7]), "fix": (np.trunc, [-1.5, 0.7]),
    "frac": (lambda x: x - np.trunc(x), [-1.75, 2.25]), "round": (np.round, [0.5, 1.5, -2.5]),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forms_agree_with_numpy(name):
    ref, values = UNARY[name]
    data = np.array(values, dtype=np.float32)
    expected = ref(data)
    x = torch.tensor(data)
    np.testing.assert_allclose(getattr(torch, name)(x).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(getattr(x, name)().numpy(), expected, rtol=1e-6)
    out = torch.empty(0)
    assert getattr(torch, name)(x, out=out) is out
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    y = x.clone()
    assert getattr(y, name + "_")() is y
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    z = x.clone()
    assert getattr(torch, name + "_")(z) is z
    np.testing.assert_allclose(z.numpy(), expected, rtol=1e-6)


BINARY = {  # name: NumPy reference (x, y as below)
    "fmod": np.fmod, "remainder": np.remainder, "atan2": np.arctan2, "arctan2": np.arctan2,
    "hypot": np.hypot, "copysign": np.copysign, "maximum": np.maximum, "minimum": np.minimum,
    "fmax": np.fmax, "fmin": np.fmin, "floor_divide": np.floor_divide,
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_forms_agree_with_numpy(name):
    xs = np.array([[5.5, -7.5, 3.25], [0.5, -1.0, 2.0]], dtype=np.float32)
    ys = np.array([2.0, 1.5, -0.75], dtype=np.float32)
    expected = BINARY[name](xs, ys)
    x, y = torch.tensor(xs), torch.tensor(ys)
    np.testing.assert_allclose(getattr(torch, name)(x, y).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(getattr(x, name)(y).numpy(), expected, rtol=1e-6)
    out = torch.empty(2, 3)
    getattr(torch, name)(x, y, out=out)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    if hasattr(x, name + "_"):
        z = x.clone()
        assert getattr(z, name + "_")(y) is z
        np.testing.assert_allclose(z.numpy(), expected, rtol=1e-6)


def test_no_in_place_forms_where_pytorch_has_none():
    x = torch.ones(2)
    for name in ("maximum", "minimum", "fmax", "fmin", "where", "isnan"):
        assert not hasattr(x, name + "_")


def test_clamp_forms():
    x = torch.tensor([-2.0, -0.5, 0.5, 2.0])
    lo, hi = torch.tensor([-1.0, 0.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.25, 3.0])
    assert torch.clamp(x, -1, 1).tolist() == [-1.0, -0.5, 0.5, 1.0]
    assert x.clamp(min=0).tolist() == [0.0, 0.0, 0.5, 2.0]
    assert x.clip(max=0).tolist() == [-2.0, -0.5, 0.0, 0.0]
    assert torch.clamp(x, lo, hi).tolist() == [-1.0, 0.0, 0.25, 2.0]
    assert torch.clamp(x, min=lo).tolist() == [-1.0, 0.0, 0.5, 2.0]
    assert torch.clamp(x, max=hi).tolist() == [-2.0, -0.5, 0.25, 2.0]
    assert torch.clamp_min(x, 0.0).tolist() == [0.0, 0.0, 0.5, 2.0]
    assert x.clamp_min(lo).tolist() == [-1.0, 0.0, 0.5, 2.0]
    assert torch.clamp_max(x, 0.0).tolist() == [-2.0, -0.5, 0.0, 0.0]
    assert torch.clamp(x, 1, -1).tolist() == [-1.0] * 4  # min > max: max wins
    y = x.clone()
    assert y.clamp_(-1, 1) is y and y.tolist() == [-1.0, -0.5, 0.5, 1.0]
    y = x.clone()
    assert torch.clip_(y, lo, hi) is y and y.tolist() == [-1.0, 0.0, 0.25, 2.0]
    y = x.clone()
    y.clamp_min_(0).clamp_max_(1)
    assert y.tolist() == [0.0, 0.0, 0.5, 1.0]
    out = torch.empty(4)
    torch.clamp(x, -1, 1, out=out)
    assert out.tolist() == [-1.0, -0.5, 0.5, 1.0]
    nan = torch.clamp(torch.tensor([NAN, 1.0]), 0, 0.5)
    assert math.isnan(nan[0].item()) and nan[1].item() == 0.5


def test_where_forms():
    cond = torch.tensor([True, False, True])
    x, y = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, -2.0, -3.0])
    assert torch.where(cond, x, y).tolist() == [1.0, -2.0, 3.0]
    assert x.where(cond, y).tolist() == [1.0, -2.0, 3.0]
    assert x.where(cond, 0).tolist() == [1.0, 0.0, 3.0]
    assert torch.where(cond, 1.0, 0.0).tolist() == [1.0, 0.0, 1.0]
    assert torch.where(torch.tensor([[True], [False]]), x, 0.0).shape == (2, 3)
    (idx,) = torch.where(cond)  # one argument: the indices of the true elements
    assert idx.tolist() == [0, 2]
    out = torch.empty(3)
    torch.where(cond, x, y, out=out)
    assert out.tolist() == [1.0, -2.0, 3.0]


def test_div_rounding_modes():
    a, b = torch.tensor([7, -7, 7, -7]), torch.tensor([2, 2, -2, -2])
    assert torch.div(a, b, rounding_mode="trunc").tolist() == [3, -3, -3, 3]
    assert torch.div(a, b, rounding_mode="floor").tolist() == [3, -4, -4, 3]
    assert torch.div(a, b).tolist() == [3.5, -3.5, -3.5, 3.5]
    assert a.div(b, rounding_mode="floor").dtype is torch.int64
    assert torch.divide(a, 2.5, rounding_mode="floor").tolist() == [2.0, -3.0, 2.0, -3.0]
    c = a.clone()
    assert c.div_(2, rounding_mode="floor") is c and c.tolist() == [3, -4, 3, -4]
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        a.clone().div_(2)  # true division of an int tensor in place
    f = torch.tensor([-7.5, 7.5])
    assert torch.div(f, 2, rounding_mode="trunc").tolist() == [-3.0, 3.0]
    out = torch.empty(4, dtype=torch.int64)
    torch.div(a, b, rounding_mode="trunc", out=out)
    assert out.tolist() == [3, -3, -3, 3]
    assert torch.floor_divide(a, b).tolist() == [3, -4, -4, 3]
    assert a.floor_divide(2).tolist() == [3, -4, 3, -4]


def test_misc_function_forms():
    x = torch.tensor([NAN, INF, -INF, 1.5])
    assert torch.nan_to_num(x, nan=0.5, posinf=9.0, neginf=-9.0).tolist() == [0.5, 9.0, -9.0, 1.5]
    y = x.clone()
    assert y.nan_to_num_(1.0) is y and y[0].item() == 1.0
    a, b = torch.tensor([0.0, 10.0]), torch.tensor([10.0, 20.0])
    assert torch.lerp(a, b, 0.5).tolist() == a.lerp(b, torch.tensor(0.5)).tolist() == [5.0, 15.0]
    assert a.clone().lerp_(b, 1).tolist() == [10.0, 20.0]
    t1, t2 = torch.tensor([1.0, 2.0]), torch.tensor([4.0, 8.0])
    assert torch.addcmul(a, t1, t2, value=0.5).tolist() == [2.0, 18.0]
    assert torch.addcdiv(a, t1, t2, value=2).tolist() == [0.5, 10.5]
    assert a.clone().addcmul_(t1, t2).tolist() == [4.0, 26.0]
    assert a.clone().addcdiv_(t1, t2).tolist() == [0.25, 10.25]
    m = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    expected = (0.5 * np.ones((2, 2)) + 2 * m.numpy() @ m.numpy()).tolist()
    assert torch.addmm(torch.ones(2, 2), m, m, beta=0.5, alpha=2).tolist() == expected
    assert torch.ones(2).addmm(m, m).tolist() == (1 + m.numpy() @ m.numpy()).tolist()
    c = torch.ones(2, 2)
    assert c.addmm_(m, m) is c and c.tolist() == (1 + m.numpy() @ m.numpy()).tolist()
    nan_input = torch.full((2, 2), NAN)
    assert torch.addmm(nan_input, m, m, beta=0).tolist() == (m.numpy() @ m.numpy()).tolist()


def test_nan_and_inf_tests():
    x = torch.tensor([NAN, INF, -INF, 1.0])
    assert torch.isnan(x).tolist() == [True, False, False, False]
    assert x.isinf().tolist() == [False, True, True, False]
    assert torch.isfinite(x).tolist() == [False, False, False, True]
    assert torch.isposinf(x).tolist() == [False, True, False, False]
    assert x.isneginf().tolist() == [False, False, True, False]
    assert torch.isfinite(torch.tensor([1, 2])).tolist() == [True, True]


# --------------------------------------------------------------------------------- operators

def test_bitwise_and_logical_operators():
    a, b = torch.tensor([12, 10, -3]), torch.tensor([6, 3, 5])
    t, f = torch.tensor([True, True, False]), torch.tensor([True, False, False])
    assert (a & b).tolist() == [4, 2, 5]
    assert (a | b).tolist() == [14, 11, -3]
    assert (a ^ b).tolist() == [10, 9, -8]
    assert (~a).tolist() == [-13, -11, 2]
    assert (3 & a).tolist() == [0, 2, 1] and (1 | a).tolist() == [13, 11, -3]
    assert (5 ^ a).tolist() == [9, 15, -8]
    assert (t & f).tolist() == [True, False, False] and (~t).tolist() == [False, False, True]
    assert (t ^ True).dtype is torch.bool and (t & 1).dtype is torch.int64
    assert (torch.tensor([1], dtype=torch.int8) & 300).tolist() == [0]  # 300 wraps to int8
    assert torch.bitwise_and(a, b).tolist() == [4, 2, 5]
    assert torch.bitwise_not(t).tolist() == [False, False, True]
    c = a.clone()
    c &= b
    c |= 1
    c ^= 2
    assert c.tolist() == [7, 1, 7]
    assert torch.logical_and(t, f).tolist() == [True, False, False]
    assert torch.logical_or(torch.tensor([0.0, 0.5]), torch.tensor([0, 0])).tolist() == \
        [False, True]
    assert torch.logical_xor(t, f).tolist() == [False, True, False]
    assert torch.logical_not(torch.tensor([0.0, NAN])).tolist() == [True, False]
    x = torch.tensor([1.0, 0.0])
    assert x.logical_and_(torch.tensor([1.0, 1.0])) is x and x.tolist() == [1.0, 0.0]
    assert x.logical_not_().tolist() == [0.0, 1.0]


def test_floordiv_and_mod_operators_follow_python_signs():
    a = torch.tensor([7, -7, 7, -7])
    b = torch.tensor([2, 2, -2, -2])
    pa, pb = [7, -7, 7, -7], [2, 2, -2, -2]
    assert (a // b).tolist() == [x // y for x, y in zip(pa, pb)]
    assert (a % b).tolist() == [x % y for x, y in zip(pa, pb)]
    assert (7 // b).tolist() == [7 // y for y in pb] and (7 % b).tolist() == [7 % y for y in pb]
    f = torch.tensor([7.5, -7.5])
    assert (f // 2).tolist() == [3.0, -4.0] and (f % 2).tolist() == [1.5, 0.5]
    assert (7.5 % torch.tensor([2.0, -2.0])).tolist() == [7.5 % 2.0, 7.5 % -2.0]
    c = a.clone()
    c //= 2
    assert c.tolist() == [3, -4, 3, -4]
    c %= 3
    assert c.tolist() == [0, 2, 0, 2]


# -------------------------------------------------------------------------------- dtype rules

DTYPES = [
    (lambda: torch.ceil(torch.tensor([1, 2])), torch.int64),
    (lambda: torch.round(torch.tensor([1, 2], dtype=torch.int32)), torch.int32),
    (lambda: torch.sinh(torch.tensor([1, 2])), torch.float32),
    (lambda: torch.exp2(torch.tensor([True])), torch.float32),
    (lambda: torch.square(torch.tensor([True])), torch.int64),
    (lambda: torch.isnan(torch.tensor([1.0])), torch.bool),
    (lambda: torch.isinf(torch.tensor([1])), torch.bool),
    (lambda: torch.where(torch.tensor([True]), torch.tensor([1]), torch.tensor([1.0])),
     torch.float32),
    (lambda: torch.where(torch.tensor([True]), torch.tensor([1]), 2.5), torch.float32),
    (lambda: torch.where(torch.tensor([True]), torch.tensor([1.0]),
                         torch.tensor(2.0, dtype=torch.float64)), torch.float32),
    (lambda: torch.where(torch.tensor([True]), 1, 0), torch.int64),
    (lambda: torch.maximum(torch.tensor([1]), torch.tensor([1.5])), torch.float32),
    (lambda: torch.maximum(torch.tensor([True]), torch.tensor([False])), torch.bool),
    (lambda: torch.fmod(torch.tensor([5]), 2), torch.int64),
    (lambda: torch.remainder(torch.tensor([5]), 2.5), torch.float32),
    (lambda: torch.atan2(torch.tensor([1]), torch.tensor([2])), torch.float32),
    (lambda: torch.copysign(torch.tensor([1]), -1), torch.float32),
    (lambda: torch.clamp(torch.tensor([1, 5]), 0.5, 2.5), torch.float32),
    (lambda: torch.clamp(torch.tensor([1, 5]), 0, 2), torch.int64),
    (lambda: torch.clamp(torch.tensor([True]), 0, 1), torch.int64),
    (lambda: torch.logical_and(torch.tensor([1.0]), torch.tensor([2])), torch.bool),
    (lambda: torch.tensor([True]) & torch.tensor([3]), torch.int64),
    (lambda: torch.tensor([1], dtype=torch.uint8) & torch.tensor([3], dtype=torch.int8),
     torch.int16),
    (lambda: torch.nan_to_num(torch.tensor([1, 2])), torch.int64),
    (lambda: torch.addcmul(torch.tensor([1.0]), torch.tensor([1]), torch.tensor([2])),
     torch.float32),
    (lambda: torch.tensor([7]) // 2, torch.int64),
    (lambda: torch.tensor([7]) // 2.0, torch.float32),
    (lambda: torch.tensor([7]) % 2, torch.int64),
]


@pytest.mark.parametrize("make,dtype", DTYPES, ids=[str(i) for i in range(len(DTYPES))])
def test_dtype_rules_follow_pytorch(make, dtype):
    assert make().dtype is dtype


# ------------------------------------------------------------------------------------ errors

ERRORS = [
    (lambda: torch.clamp(torch.ones(2)), RuntimeError,
     "At least one of 'min' or 'max' must not be None"),
    (lambda: torch.ones(2).clamp(None, None), RuntimeError, "clamp"),
    (lambda: torch.clamp(torch.ones(2), min=torch.zeros(2), max=2.0), TypeError,
     "both be Tensors or both be numbers"),
    (lambda: torch.ones(2) | torch.ones(2), NotImplementedError,
     "\"bitwise_or_cpu\" not implemented for 'Float'"),
    (lambda: torch.tensor([1]) & 1.5, NotImplementedError,
     "\"bitwise_and_cpu\" not implemented for 'Float'"),
    (lambda: ~torch.ones(2), TypeError,
     r"~ \(operator.invert\) is only implemented on integer and Boolean-type tensors"),
    (lambda: torch.maximum(torch.ones(2), 2.0), TypeError,
     r"maximum\(\): argument 'other' \(position 2\) must be Tensor, not float"),
    (lambda: torch.logical_and(torch.ones(2), 1), TypeError, "must be Tensor, not int"),
    (lambda: torch.where(torch.tensor([1]), torch.ones(1), 0.0), RuntimeError,
     "expected condition to be a boolean tensor, but got a tensor with dtype Long"),
    (lambda: torch.div(torch.ones(2), 2, rounding_mode="round"), RuntimeError,
     "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found 'round'"),
    (lambda: torch.tensor([True]) // torch.tensor([True]), NotImplementedError,
     "\"div_floor_cpu\" not implemented for 'Bool'"),
    (lambda: torch.tensor([1, 2]) // 0, RuntimeError, "ZeroDivisionError"),
    (lambda: torch.tensor([1, 2]) % torch.tensor([1, 0]), RuntimeError, "ZeroDivisionError"),
    (lambda: torch.ceil(torch.tensor([True])), NotImplementedError,
     "\"ceil_vml_cpu\" not implemented for 'Bool'"),
    (lambda: torch.tensor([1]).frac(), NotImplementedError,
     "\"frac_cpu\" not implemented for 'Long'"),
    (lambda: torch.round(torch.tensor([1]), decimals=1), NotImplementedError,
     "\"round_cpu\" not implemented for 'Long'"),
    (lambda: torch.hypot(torch.tensor([1]), torch.tensor([1])), NotImplementedError,
     "\"hypot_cpu\" not implemented for 'Long'"),
    (lambda: torch.lerp(torch.ones(2), torch.ones(2, dtype=torch.float64), 0.5), RuntimeError,
     "expected dtype float for `end` but got dtype double"),
    (lambda: torch.lerp(torch.ones(2), 1.0, 0.5), TypeError, "must be Tensor, not float"),
    (lambda: torch.addmm(torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 4)), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(2x4 and 2x4\)"),
    (lambda: torch.addmm(torch.ones(2, 3), torch.ones(4), torch.ones(4, 3)), RuntimeError,
     "mat1 must be a matrix, got 1-D tensor"),
    (lambda: torch.addmm(torch.ones(2, 3), torch.ones(2, 4, dtype=torch.float64),
                         torch.ones(4, 3)), RuntimeError,
     "mat1 and mat2 must have the same dtype, but got Double and Float"),
    (lambda: torch.addmm(torch.ones(4, 3), torch.ones(2, 4), torch.ones(4, 3)), RuntimeError,
     r"The expanded size of the tensor \(2\) must match the existing size \(4\)"),
    (lambda: torch.addcdiv(torch.tensor([1]), torch.tensor([1]), torch.tensor([2])),
     RuntimeError, "Integer division with addcdiv is no longer supported"),
    (lambda: torch.tensor([1, 2]).sinh_(), RuntimeError,
     "result type Float can't be cast to the desired output type"),
    (lambda: torch.tensor([True]).square_(), RuntimeError,
     "result type Long can't be cast to the desired output type Bool"),
]


@pytest.mark.parametrize("make,kind,message", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_follow_pytorch(make, kind, message):
    with pytest.raises(kind, match=message):
        make()


def test_logical_ops_accept_floats():
    x = torch.tensor([0.0, 1.5, NAN])
    assert torch.logical_and(x, x).tolist() == [False, True, True]
    assert torch.logical_not(x).tolist() == [True, False, False]


def test_in_place_on_a_leaf_is_refused_and_leaves_it_unchanged():
    x = torch.tensor([-2.0, 0.5, 2.0], requires_grad=True)
    for call in (lambda: x.clamp_(-1, 1), lambda: x.floor_(), lambda: x.lerp_(x.detach(), 0.5),
                 lambda: x.nan_to_num_(), lambda: x.round_(decimals=1)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            call()
    assert x.detach().tolist() == [-2.0, 0.5, 2.0]
    y = torch.tensor([1, 2])
    with pytest.raises(RuntimeError):
        y.clamp_(0.5, 1.5)  # float result into an int tensor: refused, y unchanged
    assert y.tolist() == [1, 2]


# --------------------------------------------------------------------------------- gradients

def _grads(fn, *values):
    ts = [torch.tensor(v, requires_grad=True) for v in values]
    fn(*ts).sum().backward()
    return [t.grad.tolist() for t in ts]


def test_gradients_as_pytorch_defines_them():
    # maximum/minimum split ties in half; fmax gives ties to the first input
    assert _grads(torch.maximum, [1.0, 2.0, 3.0], [1.0, 5.0, 2.0]) == \
        [[0.5, 0.0, 1.0], [0.5, 1.0, 0.0]]
    assert _grads(torch.fmax, [1.0, 2.0, 3.0], [1.0, 5.0, 2.0]) == \
        [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    # clamp passes the gradient where min <= x <= max, bounds included
    assert _grads(lambda x: x.clamp(1.0, 2.0), [1.0, 2.0, 3.0, 0.0]) == [[1.0, 1.0, 0.0, 0.0]]
    assert _grads(torch.clamp, [1.0, 2.0, 3.0], [1.0, 2.5, 3.0], [1.0, 2.0, 4.0]) == \
        [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    # rounding has zero gradients, frac passes it through
    assert _grads(lambda x: x.floor() + x.ceil() + x.round() + x.trunc() + x.sign(),
                  [0.3, -1.7]) == [[0.0, 0.0]]
    assert _grads(torch.frac, [0.3, -1.7]) == [[1.0, 1.0]]
    assert _grads(lambda a, b: torch.div(a, b, rounding_mode="floor"), [5.5], [2.0]) == \
        [[0.0], [0.0]]
    assert _grads(lambda x: torch.where(x > 0, x, 0.0), [1.0, -1.0]) == [[1.0, 0.0]]
    assert _grads(torch.remainder, [5.5, -7.5], [2.0, 2.0]) == [[1.0, 1.0], [-2.0, 4.0]]
    assert _grads(torch.nan_to_num, [NAN, INF, 1.0]) == [[0.0, 0.0, 1.0]]
    assert _grads(torch.atan2, [0.0], [0.0]) == [[0.0], [-0.0]]  # 0, not NaN, at the origin


def test_grad_fn_names():
    x = torch.tensor([0.5, 1.5], requires_grad=True)
    names = {
        "PowBackward0": x.square(), "Log1PBackward0": x.log1p(), "RoundBackward1":
        x.round(decimals=1), "ClampBackward0": x.clamp(x.detach(), x.detach() + 1),
        "ClampMinBackward0": x.clamp_min(0), "ClampMinBackward1": x.clamp_min(x.detach()),
        "FmodBackward0": x.fmod(2), "FmodBackward1": x.fmod(x.detach()),
        "CopysignBackward0": x.copysign(x.detach()), "CopysignBackward1": x.copysign(-1),
        "LerpBackward0": x.lerp(x.detach(), 0.5), "LerpBackward1": x.lerp(x.detach(), x.detach()),
        "DivBackward2": x.div(2, rounding_mode="floor"), "DivBackward0": x / 2,
        "AddmmBackward0": torch.addmm(x, x.detach().view(2, 1), x.detach().view(1, 2)),
    }
    for name, t in names.items():
        assert t.grad_fn.name() == name


# --------------------------------------------------------------------------------- tracing

def test_operators_and_clamp_trace_to_graph_ops():
    def f(x, lo):
        return torch.where(x > 0, x // 2 + x % 3, x.clamp(lo, lo + 2).clamp(min=-0.5))

    x, lo = torch.tensor([-3.0, 4.5, 7.0]), torch.tensor([-1.0, 0.0, 0.0])
    traced = torch.jit.trace(f, (x, lo))
    ops = [n.op.name for n in traced.graph.all_nodes()]  # fused bodies included
    assert {"where", "div", "remainder", "clamp_tensor", "clamp"} <= set(ops)
    np.testing.assert_allclose(traced(x, lo).numpy(), f(x, lo).numpy())
