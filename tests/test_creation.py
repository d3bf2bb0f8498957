"""Tensor creation, randomness and type conversion, written afresh against PyTorch 2.13.

Deterministic results are compared with the strings PyTorch prints (hard-coded here, obtained by
running torch 2.13); random ones by shape, dtype, range and moments over a few thousand draws,
and by reproducibility under `manual_seed` and `Generator` objects. Random ops stay random inside
traced graphs, and a seeded traced call draws what a seeded eager call draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualgraph as torch  # the tutorials' spelling
from dualgraph.jit.tracer import TraceError

# --------------------------------------------------------- printed forms, as PyTorch prints them
# (expression, repr of its value under PyTorch 2.13)

CONSTRUCTORS = [
    ('torch.tensor([5.5, 3])',
     'tensor([5.5000, 3.0000])'),
    ('torch.tensor([1, 2])',
     'tensor([1, 2])'),
    ('torch.tensor([True, False])',
     'tensor([ True, False])'),
    ('torch.tensor([1, 2.5, True])',
     'tensor([1.0000, 2.5000, 1.0000])'),
    ('torch.tensor(np.array([1.5], dtype=np.float64))',
     'tensor([1.5000], dtype=torch.float64)'),
    ('torch.tensor(np.array([1], dtype=np.int32))',
     'tensor([1], dtype=torch.int32)'),
    ('torch.tensor(np.float64(1.5))',
     'tensor(1.5000, dtype=torch.float64)'),
    ('torch.tensor([np.float64(1.5)])',
     'tensor([1.5000], dtype=torch.float64)'),
    ('torch.tensor([np.float32(1.5), 2])',
     'tensor([1.5000, 2.0000])'),
    ('torch.tensor([np.int32(1), 2])',
     'tensor([1, 2])'),
    ('torch.tensor([])',
     'tensor([])'),
    ('torch.tensor([[], []])',
     'tensor([], size=(2, 0))'),
    ('torch.tensor(2.5)',
     'tensor(2.5000)'),
    ('torch.tensor([[1, 2], [3, 4.5]])',
     'tensor([[1.0000, 2.0000],\n        [3.0000, 4.5000]])'),
    ('torch.tensor(range(3))',
     'tensor([0, 1, 2])'),
    ('torch.tensor([torch.tensor(1), 2.5])',
     'tensor([1.0000, 2.5000])'),
    ('torch.tensor(3.7, dtype=torch.int64)',
     'tensor(3)'),
    ('torch.tensor([-1], dtype=torch.uint8)',
     'tensor([255], dtype=torch.uint8)'),
    ('torch.tensor([1, 2], dtype=torch.float16)',
     'tensor([1., 2.], dtype=torch.float16)'),
    ('torch.as_tensor(np.array([1., 2]))',
     'tensor([1., 2.], dtype=torch.float64)'),
    ('torch.from_numpy(np.array([1, 2], dtype=np.int16))',
     'tensor([1, 2], dtype=torch.int16)'),
    ('torch.Tensor([1, 2, 3])',
     'tensor([1., 2., 3.])'),
    ('torch.Tensor([[1, 2], [3, 4], [5, 6]]).shape',
     'torch.Size([3, 2])'),
    ('torch.Tensor(2, 3).shape',
     'torch.Size([2, 3])'),
    ('torch.Tensor().dtype',
     'torch.float32'),
    ('torch.Tensor(np.array([1]))',
     'tensor([1.])'),
    ('torch.Tensor(torch.tensor([1, 2]))',
     'tensor([1, 2])'),
    ('torch.Tensor((2, 3))',
     'tensor([2., 3.])'),
    ('torch.Tensor(torch.Size([2, 3])).shape',
     'torch.Size([2, 3])'),
    ('torch.FloatTensor([[1.5, 2], [3, 4]])',
     'tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])'),
    ('torch.FloatTensor()',
     'tensor([])'),
    ('torch.LongTensor([1.7, 2])',
     'tensor([1, 2])'),
    ('torch.DoubleTensor([1, 2])',
     'tensor([1., 2.], dtype=torch.float64)'),
    ('torch.HalfTensor([1, 2])',
     'tensor([1., 2.], dtype=torch.float16)'),
    ('torch.ByteTensor([1, 2])',
     'tensor([1, 2], dtype=torch.uint8)'),
    ('torch.CharTensor([1, 2])',
     'tensor([1, 2], dtype=torch.int8)'),
    ('torch.ShortTensor([1, 2])',
     'tensor([1, 2], dtype=torch.int16)'),
    ('torch.IntTensor([1, 2])',
     'tensor([1, 2], dtype=torch.int32)'),
    ('torch.BoolTensor([1, 0])',
     'tensor([ True, False])'),
    ('torch.IntTensor(2, 3).dtype',
     'torch.int32'),
    ('torch.FloatTensor',
     "<class 'torch.FloatTensor'>"),
    ('torch.LongTensor',
     "<class 'torch.LongTensor'>"),
    ('torch.LongTensor.dtype',
     'torch.int64'),
    ('isinstance(torch.zeros(1), torch.FloatTensor)',
     'True'),
    ('isinstance(torch.zeros(1), torch.LongTensor)',
     'False'),
]

FILLED = [
    ('torch.zeros(5, 3, dtype=torch.long)',
     'tensor([[0, 0, 0],\n        [0, 0, 0],\n        [0, 0, 0],\n        [0, 0, 0],\n        [0'
     ', 0, 0]])'),
    ('torch.ones(2, 3, dtype=torch.bool)',
     'tensor([[True, True, True],\n        [True, True, True]])'),
    ('torch.zeros(3, 0)',
     'tensor([], size=(3, 0))'),
    ('torch.zeros((2, 3)).shape',
     'torch.Size([2, 3])'),
    ('torch.zeros([2, 3]).shape',
     'torch.Size([2, 3])'),
    ('torch.zeros(size=(2, 3)).shape',
     'torch.Size([2, 3])'),
    ('torch.zeros(np.int64(2))',
     'tensor([0., 0.])'),
    ('torch.ones(torch.tensor(2))',
     'tensor([1., 1.])'),
    ('torch.full((2,), 2.5, dtype=torch.long)',
     'tensor([2, 2])'),
    ('torch.full((2,), 2)',
     'tensor([2, 2])'),
    ('torch.full((2,), True)',
     'tensor([True, True])'),
    ('torch.full((2,), torch.tensor(1.5))',
     'tensor([1.5000, 1.5000])'),
    ('torch.full((2, 2), 1.5, dtype=torch.int8)',
     'tensor([[1, 1],\n        [1, 1]], dtype=torch.int8)'),
    ('torch.full((2,), 1.5, requires_grad=True)',
     'tensor([1.5000, 1.5000], requires_grad=True)'),
    ("torch.full((2,), float('nan'))",
     'tensor([nan, nan])'),
    ('torch.full((), 2)',
     'tensor(2)'),
    ('torch.eye(3)',
     'tensor([[1., 0., 0.],\n        [0., 1., 0.],\n        [0., 0., 1.]])'),
    ('torch.eye(2, 3, dtype=torch.long)',
     'tensor([[1, 0, 0],\n        [0, 1, 0]])'),
    ('torch.eye(2, 0)',
     'tensor([], size=(2, 0))'),
    ('torch.eye(n=2, m=3).shape',
     'torch.Size([2, 3])'),
    ('torch.zeros_like(torch.tensor([1, 2], dtype=torch.int32), dtype=torch.float)',
     'tensor([0., 0.])'),
    ('torch.ones_like(torch.tensor([1, 2], dtype=torch.int32))',
     'tensor([1, 1], dtype=torch.int32)'),
    ('torch.empty_like(torch.tensor([1, 2], dtype=torch.int32)).dtype',
     'torch.int32'),
    ('torch.full_like(torch.zeros(2, dtype=torch.long), 2.5)',
     'tensor([2, 2])'),
    ('torch.zeros(2, out=torch.ones(3))',
     'tensor([0., 0.])'),
    ('torch.zeros(2, out=torch.ones(3, dtype=torch.long))',
     'tensor([0, 0])'),
    ('torch.tensor([1, 2], dtype=torch.int32).new_ones(2, 3)',
     'tensor([[1, 1, 1],\n        [1, 1, 1]], dtype=torch.int32)'),
    ('torch.tensor([1, 2], dtype=torch.int32).new_ones((2, 3))',
     'tensor([[1, 1, 1],\n        [1, 1, 1]], dtype=torch.int32)'),
    ('torch.tensor([1, 2], dtype=torch.int32).new_zeros(2, dtype=torch.float64)',
     'tensor([0., 0.], dtype=torch.float64)'),
    ('torch.tensor([1, 2], dtype=torch.int32).new_full((2,), 3.7)',
     'tensor([3, 3], dtype=torch.int32)'),
    ('torch.tensor([1, 2], dtype=torch.int32).new_empty(2).dtype',
     'torch.int32'),
    ('torch.tensor([1, 2], dtype=torch.int32).new_tensor([1.5, 2.5])',
     'tensor([1, 2], dtype=torch.int32)'),
    ('torch.tensor([1, 2], dtype=torch.int32).new_tensor(np.array([1.5]))',
     'tensor([1], dtype=torch.int32)'),
    ('torch.tensor([1.]).new_ones(2, requires_grad=True)',
     'tensor([1., 1.], requires_grad=True)'),
    ('torch.tensor([1, 2], dtype=torch.int32).new(2, 3).dtype',
     'torch.int32'),
    ('torch.tensor([1., 2.]).zero_()',
     'tensor([0., 0.])'),
    ('torch.tensor([1., 2.]).fill_(3)',
     'tensor([3., 3.])'),
    ('torch.zeros(3, dtype=torch.long).fill_(2.7)',
     'tensor([2, 2, 2])'),
    ('torch.zeros(3, dtype=torch.bool).fill_(2.7)',
     'tensor([True, True, True])'),
    ('torch.zeros(2).fill_(torch.tensor(4.))',
     'tensor([4., 4.])'),
    ('torch.tensor([1., 2.]).clone()',
     'tensor([1., 2.])'),
    ('torch.zeros(3).copy_(torch.tensor([1, 2, 3]))',
     'tensor([1., 2., 3.])'),
]

RANGES = [
    ('torch.arange(5)',
     'tensor([0, 1, 2, 3, 4])'),
    ('torch.arange(1, 4)',
     'tensor([1, 2, 3])'),
    ('torch.arange(1, 2.5, 0.5)',
     'tensor([1.0000, 1.5000, 2.0000])'),
    ('torch.arange(0, 1, 0.1)',
     'tensor([0.0000, 0.1000, 0.2000, 0.3000, 0.4000, 0.5000, 0.6000, 0.7000, 0.8000,\n        0'
     '.9000])'),
    ('torch.arange(torch.tensor(5))',
     'tensor([0, 1, 2, 3, 4])'),
    ('torch.arange(5, 0, -1)',
     'tensor([5, 4, 3, 2, 1])'),
    ('torch.arange(0, 10, 3, dtype=torch.float)',
     'tensor([0., 3., 6., 9.])'),
    ('torch.arange(0.5, 3)',
     'tensor([0.5000, 1.5000, 2.5000])'),
    ('torch.arange(0, 1, 0.3)',
     'tensor([0.0000, 0.3000, 0.6000, 0.9000])'),
    ('torch.arange(1, 10, 1.5, dtype=torch.int64)',
     'tensor([1, 2, 3, 4, 5, 6, 7, 8, 9])'),
    ('torch.arange(0.5, 4, 1, dtype=torch.int64)',
     'tensor([0, 1, 2, 3])'),
    ('torch.arange(-1.5, 4)',
     'tensor([-1.5000, -0.5000,  0.5000,  1.5000,  2.5000,  3.5000])'),
    ('torch.arange(3, out=torch.ones(1))',
     'tensor([0., 1., 2.])'),
    ('torch.arange(0, 1, 0.1).tolist()',
     '[0.0, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896, 0.4000000059604645, 0'
     '.5, 0.6000000238418579, 0.699999988079071, 0.800000011920929, 0.8999999761581421]'),
    ('torch.arange(-1, 1, 0.3, dtype=torch.float64).tolist()',
     '[-1.0, -0.7, -0.4, -0.10000000000000003, 0.19999999999999996, 0.49999999999999994, 0.79999'
     '99999999999]'),
    ('torch.arange(-9.2, -6, 0.1, dtype=torch.float64).tolist()',
     '[-9.2, -9.1, -9.0, -8.899999999999999, -8.799999999999999, -8.7, -8.6, -8.499999999999998,'
     ' -8.399999999999999, -8.299999999999999, -8.2, -8.099999999999998, -7.999999999999999, -7.'
     '8999999999999995, -7.799999999999999, -7.699999999999999, -7.6, -7.5, -7.3999999999999995,'
     ' -7.3, -7.199999999999999, -7.1, -6.999999999999999, -6.8999999999999995, -6.7999999999999'
     '99, -6.699999999999999, -6.599999999999999, -6.499999999999999, -6.3999999999999995, -6.3,'
     ' -6.199999999999999, -6.1]'),
    ('torch.arange(0.3, 5, 0.35).tolist()',
     '[0.30000001192092896, 0.6499999761581421, 1.0, 1.350000023841858, 1.7000000476837158, 2.04'
     '9999952316284, 2.4000000953674316, 2.75, 3.0999999046325684, 3.450000047683716, 3.79999995'
     '2316284, 4.150000095367432, 4.5, 4.849999904632568]'),
    ('torch.linspace(0, 10, 5)',
     'tensor([ 0.0000,  2.5000,  5.0000,  7.5000, 10.0000])'),
    ('torch.linspace(0, 10, 5, dtype=torch.int64)',
     'tensor([ 0,  2,  5,  7, 10])'),
    ('torch.linspace(0, 1, 1)',
     'tensor([0.])'),
    ('torch.linspace(0, 1, 0)',
     'tensor([])'),
    ('torch.linspace(3, 10, steps=5)',
     'tensor([ 3.0000,  4.7500,  6.5000,  8.2500, 10.0000])'),
    ('torch.linspace(-10, 10, steps=5)',
     'tensor([-10.,  -5.,   0.,   5.,  10.])'),
    ('torch.linspace(1, 0, 5)',
     'tensor([1.0000, 0.7500, 0.5000, 0.2500, 0.0000])'),
    ('torch.linspace(0, 1, 3, requires_grad=True)',
     'tensor([0.0000, 0.5000, 1.0000], requires_grad=True)'),
    ('torch.linspace(torch.tensor(0.), torch.tensor(1.), 3)',
     'tensor([0.0000, 0.5000, 1.0000])'),
    ('torch.linspace(-3.3, 7.1, 11).tolist()',
     '[-3.299999952316284, -2.259999990463257, -1.2200000286102295, -0.18000006675720215, 0.8599'
     '998950958252, 1.9000000953674316, 2.940000057220459, 3.9800000190734863, 5.019999980926514'
     ', 6.059999942779541, 7.099999904632568]'),
    ('torch.linspace(0, 1, 7, dtype=torch.float64).tolist()',
     '[0.0, 0.16666666666666666, 0.3333333333333333, 0.5, 0.6666666666666667, 0.8333333333333334'
     ', 1.0]'),
    ('torch.linspace(0.5, 10.5, 5, dtype=torch.int64)',
     'tensor([ 0,  2,  5,  7, 10])'),
    ('torch.logspace(-10, 10, steps=5)',
     'tensor([1.0000e-10, 1.0000e-05, 1.0000e+00, 1.0000e+05, 1.0000e+10])'),
    ('torch.logspace(0.1, 1.0, steps=5)',
     'tensor([ 1.2589,  2.1135,  3.5481,  5.9566, 10.0000])'),
    ('torch.logspace(0.1, 1.0, steps=3, base=2)',
     'tensor([1.0718, 1.4641, 2.0000])'),
    ('torch.logspace(0, 3, steps=4, dtype=torch.long)',
     'tensor([   1,   10,  100, 1000])'),
    ('torch.logspace(0.1, 1.0, steps=5).tolist()',
     '[1.258925437927246, 2.1134889125823975, 3.5481340885162354, 5.9566216468811035, 10.0]'),
    ('torch.logspace(-3.7, 2.2, 9).tolist()',
     '[0.00019952621369156986, 0.0010901844361796975, 0.005956620909273624, 0.03254617750644684,'
     ' 0.17782793939113617, 0.971627950668335, 5.308844566345215, 29.00681495666504, 158.4893341'
     '064453]'),
]

CONVERSIONS = [
    ('torch.tensor([1.5, -2.7, 3.0]).float()',
     'tensor([ 1.5000, -2.7000,  3.0000])'),
    ('torch.tensor([1.5, -2.7, 3.0]).double()',
     'tensor([ 1.5000, -2.7000,  3.0000], dtype=torch.float64)'),
    ('torch.tensor([1.5, -2.7, 3.0]).half()',
     'tensor([ 1.5000, -2.6992,  3.0000], dtype=torch.float16)'),
    ('torch.tensor([1.5, -2.7, 3.0]).long()',
     'tensor([ 1, -2,  3])'),
    ('torch.tensor([1.5, -2.7, 3.0]).int()',
     'tensor([ 1, -2,  3], dtype=torch.int32)'),
    ('torch.tensor([1.5, -2.7, 3.0]).short()',
     'tensor([ 1, -2,  3], dtype=torch.int16)'),
    ('torch.tensor([1.5, -2.7, 3.0]).char()',
     'tensor([ 1, -2,  3], dtype=torch.int8)'),
    ('torch.tensor([1.5, -2.7, 3.0]).byte()',
     'tensor([  1, 254,   3], dtype=torch.uint8)'),
    ('torch.tensor([1.5, -2.7, 3.0]).bool()',
     'tensor([True, True, True])'),
    ('torch.tensor([1.5, -2.7, 3.0]).type()',
     "'torch.FloatTensor'"),
    ('torch.tensor([1]).type()',
     "'torch.LongTensor'"),
    ('torch.tensor([True]).type()',
     "'torch.BoolTensor'"),
    ('torch.tensor([1.5]).half().type()',
     "'torch.HalfTensor'"),
    ('torch.tensor([1.5, -2.7]).type(torch.int32)',
     'tensor([ 1, -2], dtype=torch.int32)'),
    ("torch.tensor([1.5, -2.7]).type('torch.IntTensor')",
     'tensor([ 1, -2], dtype=torch.int32)'),
    ('torch.tensor([1.5, -2.7]).type(torch.DoubleTensor)',
     'tensor([ 1.5000, -2.7000], dtype=torch.float64)'),
    ('torch.tensor([1.5, -2.7]).type_as(torch.zeros(1, dtype=torch.long))',
     'tensor([ 1, -2])'),
    ('torch.tensor([1.5, -2.7]).to(torch.float64)',
     'tensor([ 1.5000, -2.7000], dtype=torch.float64)'),
    ('torch.tensor([1.5, -2.7]).to(torch.zeros(1, dtype=torch.int8))',
     'tensor([ 1, -2], dtype=torch.int8)'),
    ("torch.tensor([1.5, -2.7]).to('cpu', torch.int16)",
     'tensor([ 1, -2], dtype=torch.int16)'),
    ("torch.tensor([1.5, -2.7]).to(dtype=torch.int16, device='cpu')",
     'tensor([ 1, -2], dtype=torch.int16)'),
    ('torch.tensor([300.7]).byte()',
     'tensor([44], dtype=torch.uint8)'),
    ('torch.tensor([1, 0, 2]).bool()',
     'tensor([ True, False,  True])'),
]

DTYPES = [
    ('torch.result_type(torch.tensor([1]), 1.0)',
     'torch.float32'),
    ('torch.result_type(torch.tensor([1], dtype=torch.int8), torch.tensor(1000))',
     'torch.int8'),
    ('torch.result_type(torch.tensor([1], dtype=torch.uint8), '
     'torch.tensor([1], dtype=torch.int8))',
     'torch.int16'),
    ('torch.result_type(2, 3.0)',
     'torch.float32'),
    ('torch.result_type(2, True)',
     'torch.int64'),
    ('torch.result_type(torch.tensor(1.0, dtype=torch.float64), torch.tensor([1], dtype=torch.flo'
     'at16))',
     'torch.float16'),
    ('torch.promote_types(torch.int32, torch.float32)',
     'torch.float32'),
    ('torch.promote_types(torch.uint8, torch.int8)',
     'torch.int16'),
    ('torch.promote_types(torch.bool, torch.int8)',
     'torch.int8'),
    ('torch.promote_types(torch.float16, torch.int64)',
     'torch.float16'),
    ('torch.can_cast(torch.double, torch.float)',
     'True'),
    ('torch.can_cast(torch.float, torch.int)',
     'False'),
    ('torch.can_cast(torch.int, torch.bool)',
     'False'),
    ('torch.can_cast(torch.bool, torch.uint8)',
     'True'),
    ('torch.is_floating_point(torch.zeros(1))',
     'True'),
    ('torch.is_floating_point(torch.zeros(1, dtype=torch.long))',
     'False'),
    ('torch.finfo(torch.float16)',
     'finfo(resolution=0.001, min=-65504, max=65504, eps=0.000976562, smallest_normal=6.10352e-0'
     '5, tiny=6.10352e-05, dtype=float16)'),
    ('torch.finfo(torch.float32)',
     'finfo(resolution=1e-06, min=-3.40282e+38, max=3.40282e+38, eps=1.19209e-07, smallest_norma'
     'l=1.17549e-38, tiny=1.17549e-38, dtype=float32)'),
    ('torch.finfo(torch.float64)',
     'finfo(resolution=1e-15, min=-1.79769e+308, max=1.79769e+308, eps=2.22045e-16, smallest_nor'
     'mal=2.22507e-308, tiny=2.22507e-308, dtype=float64)'),
    ('torch.finfo()',
     'finfo(resolution=1e-06, min=-3.40282e+38, max=3.40282e+38, eps=1.19209e-07, smallest_norma'
     'l=1.17549e-38, tiny=1.17549e-38, dtype=float32)'),
    ('torch.finfo(torch.float).eps',
     '1.1920928955078125e-07'),
    ('torch.finfo(torch.float32).max',
     '3.4028234663852886e+38'),
    ('torch.finfo(torch.float32).tiny',
     '1.1754943508222875e-38'),
    ('torch.finfo(torch.float64).bits',
     '64'),
    ('torch.finfo(torch.float16).min',
     '-65504.0'),
    ('torch.finfo(torch.float16).resolution',
     '0.001'),
    ('torch.finfo(torch.float32).dtype',
     "'float32'"),
    ('torch.iinfo(torch.uint8)',
     'iinfo(min=0, max=255, dtype=uint8)'),
    ('torch.iinfo(torch.int8)',
     'iinfo(min=-128, max=127, dtype=int8)'),
    ('torch.iinfo(torch.int16)',
     'iinfo(min=-32768, max=32767, dtype=int16)'),
    ('torch.iinfo(torch.int32)',
     'iinfo(min=-2.14748e+09, max=2.14748e+09, dtype=int32)'),
    ('torch.iinfo(torch.int64)',
     'iinfo(min=-9.22337e+18, max=9.22337e+18, dtype=int64)'),
    ('torch.iinfo(torch.int64).max',
     '9223372036854775807'),
    ('torch.iinfo(torch.int8).bits',
     '8'),
    ('torch.iinfo(torch.int32).min',
     '-2147483648'),
    ('torch.finfo(torch.float32) == torch.finfo(torch.float)',
     'True'),
]


def _value(expr: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return repr(eval(expr, {"torch": torch, "np": np}))


@pytest.mark.parametrize("expr,expected", CONSTRUCTORS + FILLED + RANGES + CONVERSIONS + DTYPES)
def test_printed_like_pytorch(expr, expected):
    assert _value(expr) == expected


# ----------------------------------------------------------------------- the tutorials' code

def test_seed_001_creation():
    x = torch.empty(5, 3)
    assert x.shape == (5, 3) and x.dtype == torch.float32
    x = torch.rand(5, 3)
    assert x.dtype == torch.float32 and 0 <= x.min().item() and x.max().item() < 1
    assert repr(torch.zeros(5, 3, dtype=torch.long)) == (
        "tensor([[0, 0, 0],\n        [0, 0, 0],\n        [0, 0, 0],\n        [0, 0, 0],\n"
        "        [0, 0, 0]])")
    x = torch.tensor([5.5, 3])
    assert repr(x) == "tensor([5.5000, 3.0000])"
    x = x.new_ones(5, 3, dtype=torch.double)
    assert repr(x) == ("tensor([[1., 1., 1.],\n        [1., 1., 1.],\n        [1., 1., 1.],\n"
                       "        [1., 1., 1.],\n        [1., 1., 1.]], dtype=torch.float64)")
    x = torch.randn_like(x, dtype=torch.float)
    assert x.dtype == torch.float32 and str(x.size()) == "torch.Size([5, 3])"
    y = torch.rand(5, 3)
    result = torch.empty(5, 3)
    torch.add(x, y, out=result)
    np.testing.assert_allclose(result.numpy(), x.numpy() + y.numpy(), rtol=1e-6)
    expected = y.numpy() + x.numpy()
    y.add_(x)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)


def test_seed_002_tensor_types_and_creation_table():
    assert torch.Tensor().dtype == torch.float32
    with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
        torch.set_default_tensor_type("torch.DoubleTensor")
    try:
        assert torch.Tensor().dtype == torch.float64 and torch.rand(2).dtype == torch.float64
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.set_default_tensor_type("torch.FloatTensor")
    assert torch.Tensor().dtype == torch.float32 and torch.get_default_dtype() == torch.float32
    assert repr(torch.Tensor([1, 2, 3])) == "tensor([1., 2., 3.])"
    assert torch.Tensor(np.random.randn(3)).dtype == torch.float32
    assert str(torch.Tensor([[1, 2], [3, 4], [5, 6]]).shape) == "torch.Size([3, 2])"
    # the table of creation functions: ones, zeros, eye, arange, linspace, rand/randn, normal,
    # randperm
    assert torch.ones(2, 3).tolist() == [[1.0] * 3] * 2 and torch.zeros(2).tolist() == [0.0] * 2
    assert torch.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert torch.arange(1, 6, 2).tolist() == [1, 3, 5]
    assert torch.linspace(1, 10, 3).tolist() == [1.0, 5.5, 10.0]
    assert torch.rand(2, 3).shape == (2, 3) and torch.randn(2, 3).shape == (2, 3)
    assert torch.normal(torch.zeros(3), torch.ones(3)).shape == (3,)
    assert sorted(torch.randperm(5).tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("name,dtype", [
    ("FloatTensor", "float32"), ("DoubleTensor", "float64"), ("HalfTensor", "float16"),
    ("ByteTensor", "uint8"), ("CharTensor", "int8"), ("ShortTensor", "int16"),
    ("IntTensor", "int32"), ("LongTensor", "int64"), ("BoolTensor", "bool")])
def test_legacy_type_names_round_trip(name, dtype):
    cls = getattr(torch, name)
    assert repr(cls) == f"<class 'torch.{name}'>" and cls.dtype is getattr(torch, dtype)
    x = torch.zeros(2, dtype=cls.dtype)
    assert x.type() == f"torch.{name}" and isinstance(x, cls)
    assert torch.ones(2, dtype=torch.float64).type(f"torch.{name}").dtype is cls.dtype
    assert torch.ones(2, dtype=torch.float64).type(cls).dtype is cls.dtype
    assert cls(3).shape == (3,) and cls(torch.Size([2, 1])).shape == (2, 1)


def test_cuda_type_names_need_cuda():
    x = torch.ones(2)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            x.type("torch.cuda.FloatTensor")
    else:
        y = x.type("torch.cuda.FloatTensor")
        assert y.type() == "torch.cuda.FloatTensor" and y.type_as(x).device == x.device


def test_constructor_dtype_rules_follow_the_default_dtype():
    torch.set_default_dtype(torch.float64)
    try:
        assert torch.tensor([5.5, 3]).dtype == torch.float64
        assert torch.tensor([np.float32(1.5), 2]).dtype == torch.float32  # an explicit dtype
        assert torch.tensor([1, 2]).dtype == torch.int64
        assert torch.Tensor([1, 2]).dtype == torch.float64
        assert torch.zeros(2).dtype == torch.float64 and torch.rand(2).dtype == torch.float64
        assert torch.arange(2.0).dtype == torch.float64 and torch.full((1,), 2).dtype == torch.int64
    finally:
        torch.set_default_dtype(torch.float32)


def test_tensor_copies_and_from_numpy_shares():
    a = np.array([1.0, 2.0])
    t, s = torch.tensor(a), torch.from_numpy(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and s.tolist() == [9.0, 2.0]
    assert torch.as_tensor(a).tolist() == [9.0, 2.0]
    with pytest.warns(UserWarning, match="sourceTensor.detach\\(\\).clone\\(\\)"):
        c = torch.tensor(s)
    assert c.dtype == torch.float64 and c.tolist() == [9.0, 2.0]
    x = torch.ones(2)
    assert torch.as_tensor(x) is x and torch.Tensor(x) is x


# ------------------------------------------------------------------------------ random draws

N = 4000


def _moments(t):
    a = t.double().numpy().ravel()
    return a.mean(), a.std()


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_rand_is_uniform_on_zero_one(dtype):
    x = torch.rand(N, dtype=dtype)
    assert x.dtype is dtype and x.shape == (N,)
    assert 0 <= x.min().item() and x.max().item() < 1
    mean, std = _moments(x)
    assert abs(mean - 0.5) < 0.02 and abs(std - 12 ** -0.5) < 0.02


def test_randn_and_normal_have_the_asked_moments():
    mean, std = _moments(torch.randn(N))
    assert abs(mean) < 0.06 and abs(std - 1) < 0.05
    mean, std = _moments(torch.normal(2.0, 3.0, size=(N,)))
    assert abs(mean - 2) < 0.2 and abs(std - 3) < 0.15
    m = torch.full((N,), -1.0)
    mean, std = _moments(torch.normal(m, 0.5))
    assert abs(mean + 1) < 0.05 and abs(std - 0.5) < 0.03
    mean, std = _moments(torch.normal(1.0, torch.full((N,), 2.0)))
    assert abs(mean - 1) < 0.1 and abs(std - 2) < 0.1
    assert torch.normal(torch.zeros(2, 1, dtype=torch.float64), torch.ones(3)).shape == (2, 3)
    assert torch.normal(torch.zeros(2, dtype=torch.float64), 1.0).dtype == torch.float64


def test_randint_randperm_bernoulli_multinomial():
    x = torch.randint(-3, 4, (N,))
    assert x.dtype == torch.int64 and set(x.tolist()) == set(range(-3, 4))
    assert torch.randint(5, (2, 3)).shape == (2, 3) and torch.randint(5, (3,)).max().item() < 5
    assert torch.randint(0, 2, (4,), dtype=torch.bool).dtype == torch.bool
    assert torch.randint(low=1, high=3, size=(5,)).min().item() >= 1
    p = torch.randperm(50)
    assert p.dtype == torch.int64 and sorted(p.tolist()) == list(range(50))
    b = torch.bernoulli(torch.full((N,), 0.3))
    assert set(b.tolist()) <= {0.0, 1.0} and abs(b.mean().item() - 0.3) < 0.03
    assert torch.bernoulli(torch.tensor([0.0, 1.0])).tolist() == [0.0, 1.0]
    w = torch.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]])
    draws = torch.multinomial(w, 2000, replacement=True)
    assert draws.shape == (2, 2000) and draws.dtype == torch.int64
    counts = np.bincount(draws[0].numpy(), minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 2000 - 0.75) < 0.04
    assert set(draws[1].tolist()) == {0}
    no_repeat = torch.multinomial(torch.ones(6), 6)
    assert sorted(no_repeat.tolist()) == list(range(6))
    assert torch.multinomial(torch.tensor([0.0, 1.0, 0.0]), 1).tolist() == [1]


def test_in_place_fillers():
    x = torch.empty(N)
    assert x.uniform_(-2, 3) is x and -2 <= x.min().item() and x.max().item() < 3
    assert abs(x.mean().item() - 0.5) < 0.1
    mean, std = _moments(x.normal_(5.0, 0.5))
    assert abs(mean - 5) < 0.05 and abs(std - 0.5) < 0.03
    mean, _ = _moments(x.exponential_(4.0))
    assert x.min().item() >= 0 and abs(mean - 0.25) < 0.02
    assert set(x.random_(3).tolist()) == {0.0, 1.0, 2.0}
    assert set(x.random_(-2, 0).tolist()) == {-2.0, -1.0}
    assert set(x.bernoulli_(0.5).tolist()) == {0.0, 1.0}
    ints = torch.zeros(N, dtype=torch.uint8).random_()
    assert ints.dtype == torch.uint8 and ints.max().item() > 200
    assert set(torch.zeros(50, dtype=torch.bool).random_().tolist()) == {False, True}
    assert torch.zeros(N, dtype=torch.int16).random_().min().item() >= 0
    assert x.fill_(2.5).tolist() == [2.5] * N and x.zero_().tolist() == [0.0] * N
    view = torch.zeros(2, 3)
    view[0].fill_(7)  # through a view: the base sees it
    assert view.tolist() == [[7.0] * 3, [0.0] * 3]


def test_manual_seed_and_generators_reproduce():
    torch.manual_seed(123)
    a = torch.rand(5), torch.randn(3), torch.randint(0, 100, (4,)), torch.randperm(6)
    torch.manual_seed(123)
    b = torch.rand(5), torch.randn(3), torch.randint(0, 100, (4,)), torch.randperm(6)
    assert all(x.tolist() == y.tolist() for x, y in zip(a, b))
    assert torch.initial_seed() == 123
    g = torch.Generator().manual_seed(7)
    first = torch.rand(4, generator=g)
    torch.manual_seed(0)
    before = torch.rand(2)
    g.manual_seed(7)
    torch.manual_seed(0)
    assert torch.rand(4, generator=g).tolist() == first.tolist()  # g's own stream ...
    assert torch.rand(2).tolist() == before.tolist()  # ... leaves the default one alone
    state = torch.get_rng_state()
    c = torch.randn(3)
    torch.set_rng_state(state)
    assert torch.randn(3).tolist() == c.tolist()
    g.manual_seed(1)
    y = torch.empty(3).uniform_(generator=g)
    g.manual_seed(1)
    assert torch.empty(3).uniform_(generator=g).tolist() == y.tolist()
    assert torch.manual_seed(5) is torch.default_generator


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (CuPy)")
def test_gpu_draws_equal_cpu_draws():
    for make in (lambda d: torch.rand(3, 4, device=d), lambda d: torch.randn(5, device=d),
                 lambda d: torch.randint(0, 9, (6,), device=d),
                 lambda d: torch.zeros(4, device=d).normal_(1.0, 2.0)):
        torch.manual_seed(11)
        cpu = make("cpu")
        torch.manual_seed(11)
        gpu = make("cuda")
        assert gpu.device.type == "cuda" and gpu.cpu().tolist() == cpu.tolist()


# ----------------------------------------------------------------------- randomness in graphs

def _noisy(x):
    return x + torch.rand(x.shape[0], 3) + torch.zeros(x.shape[0], 3) * torch.randn(x.shape)


def test_traced_random_ops_stay_random_and_follow_the_seed():
    traced = torch.jit.trace(_noisy, torch.zeros(4, 3), dynamic_dims={0: "B"})
    ops = [n.op.name for n in traced.graph.nodes]
    assert "rand" in ops and "randn" in ops and "full" in ops and "constant" not in ops
    x = torch.zeros(6, 3)  # another batch size: the sizes stayed symbolic
    first, second = traced(x), traced(x)
    assert first.shape == (6, 3) and first.tolist() != second.tolist()
    torch.manual_seed(42)
    traced_out = traced(x)
    torch.manual_seed(42)
    assert traced_out.tolist() == _noisy(x).tolist()
    torch.manual_seed(42)
    reference = torch.jit.run_reference(traced.graph, [x])[0]  # the node-by-node interpreter
    assert reference.tolist() == traced_out.tolist()


def test_traced_fillers_and_tensor_random_ops(tmp_path):
    def f(x):
        y = x.clone()
        y.uniform_(-1, 1)
        return y, torch.normal(x, 1.0), torch.bernoulli(torch.full_like(x, 0.5)), \
            torch.randperm(x.shape[0]), torch.randint(0, 5, (x.shape[0],)), torch.zeros_like(x)

    x = torch.zeros(4, 3)
    traced = torch.jit.trace(f, x, dynamic_dims={0: "B"})
    traced.save(tmp_path / "f.dgm")
    loaded = torch.jit.load(tmp_path / "f.dgm")
    x = torch.ones(5, 3)
    results = []
    for fn in (traced, loaded, f):
        torch.manual_seed(3)
        results.append([t.tolist() for t in fn(x)])
    assert results[0] == results[1] == results[2]
    assert traced(x)[0].tolist() != traced(x)[0].tolist()


def test_sizes_from_a_dynamic_batch_stay_symbolic():
    def f(x):
        n = x.shape[0]
        return (x + torch.linspace(0, 1, n) + torch.eye(n)[0] + x.new_ones(n)
                + torch.empty_like(x).zero_(), torch.arange(1, n).float())

    traced = torch.jit.trace(f, torch.zeros(4), dynamic_dims={0: "B"})
    assert "size=('B',)" in str(traced.graph) and "end='B'" in str(traced.graph)
    x = torch.zeros(5)
    out, steps = traced(x)
    assert out.tolist() == [2.0, 1.25, 1.5, 1.75, 2.0] and steps.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert [t.tolist() for t in torch.jit.run_reference(traced.graph, [x])] == \
        [out.tolist(), steps.tolist()]


def test_a_generator_object_cannot_be_traced():
    g = torch.Generator()
    with pytest.raises(TraceError, match="generator"):
        torch.jit.trace(lambda x: x + torch.rand(3, generator=g), torch.zeros(3))


# ---------------------------------------------------------------------------------- autograd

def test_fillers_write_in_place_for_autograd():
    x = torch.ones(3, requires_grad=True)
    y = x * 3
    y.uniform_()
    assert y.grad_fn.name() == "UniformBackward0"
    (y * 2).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]  # overwritten: zero gradient, as in PyTorch
    v = torch.tensor(2.0, requires_grad=True)
    y = torch.zeros(3, requires_grad=True) * 1
    y.fill_(v)
    assert y.grad_fn.name() == "FillBackward3"
    y.sum().backward()
    assert v.grad.item() == 3.0
    names = [torch.ones(2, requires_grad=True).mul(1).zero_().grad_fn.name(),
             torch.ones(2, requires_grad=True).mul(1).fill_(1).grad_fn.name(),
             torch.ones(2, requires_grad=True).mul(1).random_().grad_fn.name(),
             torch.ones(2, requires_grad=True).mul(1).normal_().grad_fn.name(),
             torch.ones(2, requires_grad=True).mul(1).bernoulli_(0.5).grad_fn.name()]
    assert names == ["ZeroBackward0", "FillBackward2", "RandomBackward2", "NormalBackward0",
                     "BernoulliBackward2"]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        torch.zeros(2, requires_grad=True).uniform_()


def test_normal_passes_the_gradient_to_the_mean():
    mean = torch.zeros(3, requires_grad=True)
    std = torch.ones(3, requires_grad=True)
    out = torch.normal(mean, std)
    assert out.grad_fn.name() == "NormalBackward3"
    out.sum().backward()
    assert mean.grad.tolist() == [1.0] * 3 and std.grad.tolist() == [0.0] * 3


def test_requires_grad_at_creation():
    for t in (torch.zeros(2, requires_grad=True), torch.rand(2, requires_grad=True),
              torch.full((2,), 1.5, requires_grad=True), torch.linspace(0, 1, 3,
                                                                        requires_grad=True)):
        assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        torch.zeros(2, dtype=torch.long, requires_grad=True)


# ------------------------------------------------------------------------------------ errors

ERRORS = [
    ("torch.randint(5, 5, (3,))", RuntimeError,
     "randint(): random_ expects 'from' to be less than 'to', but got from=5 >= to=5"),
    ("torch.rand(-1, 2)", RuntimeError,
     "rand(): Trying to create tensor with negative dimension -1: \\[-1, 2\\]"),
    ("torch.zeros(2, -3)", RuntimeError, "zeros(): Trying to create tensor with negative"),
    ("torch.zeros(2.5, 2)", TypeError, "zeros(): argument 'size' must be tuple of ints"),
    ("torch.rand(2, dtype=torch.long)", NotImplementedError,
     "rand(): \"check_uniform_bounds\" not implemented for 'Long'"),
    ("torch.randn(2, dtype=torch.int32)", NotImplementedError, "randn(): "),
    ("torch.randperm(-1)", RuntimeError, "randperm(): Trying to create tensor with negative"),
    ("torch.eye(-1)", RuntimeError, "eye(): n must be greater or equal to 0, got -1"),
    ("torch.linspace(0, 1, -1)", RuntimeError, "linspace(): number of steps must be non-negative"),
    ("torch.arange(5, 0)", RuntimeError,
     "arange(): upper bound and lower bound inconsistent with step sign"),
    ("torch.arange(0, 5, 0)", RuntimeError, "arange(): step must be nonzero"),
    ("torch.full(2, 1.5)", TypeError, "full(): argument 'size'"),
    ("torch.full((2,), 300, dtype=torch.uint8)", RuntimeError,
     "full(): value cannot be converted to type uint8_t without overflow"),
    ("torch.normal(torch.zeros(2), -1.0)", RuntimeError,
     "normal(): normal expects std >= 0.0, but found std -1"),
    ("torch.normal(torch.zeros(2), torch.ones(3))", RuntimeError, "normal(): The size of tensor"),
    ("torch.normal(1.0, 2.0)", TypeError, "normal(): .*size"),
    ("torch.bernoulli(torch.tensor([0.5, 1.5]))", RuntimeError, "bernoulli(): Expected p_in"),
    ("torch.zeros(3).bernoulli_(1.5)", RuntimeError, "bernoulli_ expects p to be in \\[0, 1\\]"),
    ("torch.multinomial(torch.tensor([0., 1., 0.]), 4)", RuntimeError,
     "multinomial(): cannot sample n_sample > prob_dist.size\\(-1\\) samples"),
    ("torch.multinomial(torch.tensor([-1., 1.]), 1)", RuntimeError, "multinomial(): probability"),
    ("torch.zeros(3, dtype=torch.long).uniform_()", NotImplementedError, "uniform_(): "),
    ("torch.zeros(3, dtype=torch.uint8).random_(300)", RuntimeError,
     "random_(): to - 1 is out of bounds for unsigned char"),
    ("torch.zeros(3).exponential_(0)", RuntimeError, "exponential_(): exponential_ expects"),
    ("torch.zeros(3).fill_(torch.tensor([1., 2.]))", RuntimeError,
     "fill_(): fill_ only supports 0-dimension value tensor"),
    ("torch.tensor([[1, 2], [3]])", ValueError,
     "tensor(): expected sequence of length 2 at dim 1 \\(got 1\\)"),
    ("torch.tensor('a')", TypeError, "tensor(): invalid data type 'str'"),
    ("torch.tensor([1, None])", RuntimeError, "tensor(): Could not infer dtype of NoneType"),
    ("torch.from_numpy([1, 2])", TypeError, "expected np.ndarray \\(got list\\)"),
    ("torch.Tensor(2.5)", TypeError, "new\\(\\): data must be a sequence \\(got float\\)"),
    ("torch.FloatTensor(torch.tensor([1, 2]))", TypeError,
     "expected torch.FloatTensor \\(got torch.LongTensor\\)"),
    ("torch.ones(2).type('torch.int32')", ValueError, "type(): invalid type: 'torch.int32'"),
    ("torch.set_default_tensor_type('torch.LongTensor')", TypeError,
     "only floating-point types are supported as the default type"),
    ("torch.finfo(torch.int32)", TypeError, "torch.finfo\\(\\) requires a floating point"),
    ("torch.iinfo(torch.bool)", TypeError, "torch.bool is not supported by torch.iinfo"),
    ("torch.is_floating_point(1.0)", TypeError, "is_floating_point(): argument 'input'"),
    ("torch.ones(2, dtype=torch.int32).new_full(2, 3.7)", TypeError, "new_full(): argument 'size'"),
]


@pytest.mark.parametrize("expr,kind,message", ERRORS, ids=[e for e, _, _ in ERRORS])
def test_errors_name_the_op(expr, kind, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(kind, match=message.replace("(): ", "\\(\\): ")):
            eval(expr, {"torch": torch, "np": np})


def test_a_failed_fill_leaves_the_tensor_unchanged():
    x = torch.tensor([1.0, 2.0, 3.0])
    for bad in (lambda: x.uniform_(2, 1), lambda: x.normal_(0, -1), lambda: x.random_(5, 5),
                lambda: x.fill_(torch.ones(2))):
        with pytest.raises(RuntimeError):
            bad()
        assert x.tolist() == [1.0, 2.0, 3.0]
    assert torch.get_default_dtype() == torch.float32
