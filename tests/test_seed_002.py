"""Seed 002, the longest first-day tutorial, table by table: the package overview, the tensor types,
the creation functions, the reduction / element-wise / comparison tables, the linear-algebra
table, indexing and slicing, `view` vs `reshape`, Tensor and Storage, and autograd (`Variable`,
`requires_grad`, `grad_fn`, `backward(gradient=...)`, `is_leaf`, `retain_grad`, a hand-written
sigmoid). Written afresh with the tutorial's spelling, `import dualgraph as t`: every call is
checked against NumPy on seeded random inputs, dtypes and printed strings as PyTorch 2.13 gives
them. Where the tutorial's prose and PyTorch disagree (it says `reshape` always copies), PyTorch's
behaviour is what is tested."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import dualgraph as t
from dualgraph.autograd import Variable


def data(seed, *shape, kind="normal"):
    """Seeded float32 NumPy input: normal, positive (0.5..2.5), unit (-0.95..0.95), wide (-5..5)
    or small non-negative integers (int64)."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal(shape).astype(np.float32)
    if kind == "positive":
        return rng.uniform(0.5, 2.5, shape).astype(np.float32)
    if kind == "unit":
        return rng.uniform(-0.95, 0.95, shape).astype(np.float32)
    if kind == "wide":
        return rng.uniform(-5, 5, shape).astype(np.float32)
    if kind == "int":
        return rng.integers(0, 4, shape).astype(np.int64)
    raise ValueError(kind)


def close(got, expected, rtol=1e-5, atol=1e-6):
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


# ================================================================== the package overview table

def test_packages_of_the_overview_table_import():
    import dualgraph.autograd
    import dualgraph.nn
    import dualgraph.optim
    import dualgraph.utils
    assert t.autograd is dualgraph.autograd and t.nn is dualgraph.nn
    assert t.optim is dualgraph.optim and t.utils is dualgraph.utils
    assert not hasattr(t, "legacy")  # torch.legacy is gone from PyTorch 2.13 too


# ========================================================================== the tensor types

TYPES = [  # (CPU class, dtype, Tensor.type() string, repr of Class([1, 2]))
    ("FloatTensor", "float32", "tensor([1., 2.])"),
    ("DoubleTensor", "float64", "tensor([1., 2.], dtype=torch.float64)"),
    ("HalfTensor", "float16", "tensor([1., 2.], dtype=torch.float16)"),
    ("ByteTensor", "uint8", "tensor([1, 2], dtype=torch.uint8)"),
    ("CharTensor", "int8", "tensor([1, 2], dtype=torch.int8)"),
    ("ShortTensor", "int16", "tensor([1, 2], dtype=torch.int16)"),
    ("IntTensor", "int32", "tensor([1, 2], dtype=torch.int32)"),
    ("LongTensor", "int64", "tensor([1, 2])"),
]


@pytest.mark.parametrize("cls,dtype,text", TYPES, ids=[c for c, _, _ in TYPES])
def test_legacy_tensor_classes(cls, dtype, text):
    made = getattr(t, cls)([1, 2])
    assert made.dtype == getattr(t, dtype)
    assert made.type() == "torch." + cls
    assert repr(made) == text
    assert isinstance(made, getattr(t, cls)) and isinstance(made, t.Tensor)
    assert made.tolist() == [1, 2]
    assert getattr(t, cls)(2, 3).shape == (2, 3)  # sizes make an uninitialised tensor
    assert t.tensor([1, 2], dtype=getattr(t, dtype)).type() == "torch." + cls


def test_legacy_classes_are_distinguished_by_isinstance():
    assert isinstance(t.ones(2), t.FloatTensor) and not isinstance(t.ones(2), t.LongTensor)
    assert isinstance(t.ones(2, dtype=t.long), t.LongTensor)
    assert t.LongTensor([1.7, -2.2]).tolist() == [1, -2]  # truncated, as PyTorch does


@pytest.mark.parametrize("method,dtype", [
    ("float", "float32"), ("double", "float64"), ("half", "float16"), ("byte", "uint8"),
    ("char", "int8"), ("short", "int16"), ("int", "int32"), ("long", "int64"), ("bool", "bool")])
def test_cast_methods_for_each_type(method, dtype):
    x = data(1, 5, kind="wide")
    got = getattr(t.tensor(x), method)()
    assert got.dtype == getattr(t, dtype)
    expected = x.astype(np.float16 if dtype == "float16" else dtype)
    if dtype == "uint8":  # negative floats to uint8 are undefined; PyTorch and NumPy may differ
        x = np.abs(x)
        got, expected = t.tensor(x).byte(), x.astype(np.uint8)
    assert got.numpy().tolist() == expected.tolist()


def test_type_method_converts_by_name_or_dtype():
    x = t.tensor(data(2, 3))
    assert x.type() == "torch.FloatTensor"
    assert x.type(t.int64).dtype == t.int64
    assert x.type("torch.IntTensor").dtype == t.int32
    assert x.type(t.DoubleTensor).dtype == t.float64
    assert str(t.float32) == "torch.float32" and repr(t.int64) == "torch.int64"
    assert t.float is t.float32 and t.double is t.float64 and t.half is t.float16
    assert t.long is t.int64 and t.int is t.int32 and t.short is t.int16


def test_default_tensor_is_an_empty_float32():
    assert t.Tensor().dtype == t.float32
    assert t.Tensor().shape == (0,)
    assert repr(t.Tensor()) == "tensor([])"


def test_set_default_tensor_type_switches_and_restores():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # deprecated since PyTorch 2.1, still works
        try:
            t.set_default_tensor_type("torch.DoubleTensor")
            assert t.Tensor().dtype == t.float64
            assert t.get_default_dtype() == t.float64
            assert t.rand(2).dtype == t.float64 and t.ones(1).dtype == t.float64
            assert repr(t.tensor([1.5])) == "tensor([1.5000])"  # the default is not printed
            assert repr(t.tensor([1.5], dtype=t.float32)) == "tensor([1.5000], dtype=torch.float32)"
            assert t.tensor([1]).dtype == t.int64  # ints are not affected
        finally:
            t.set_default_tensor_type("torch.FloatTensor")
        assert t.Tensor().dtype == t.float32 and t.get_default_dtype() == t.float32
        t.set_default_tensor_type(t.DoubleTensor)  # the class works as well as its name
        try:
            assert t.Tensor().dtype == t.float64
        finally:
            t.set_default_tensor_type(t.FloatTensor)
        assert t.Tensor().dtype == t.float32
        with pytest.raises(TypeError, match="only floating-point types are supported as the "
                                            "default type"):
            t.set_default_tensor_type("torch.IntTensor")
        assert t.get_default_dtype() == t.float32


def test_set_default_dtype():
    try:
        t.set_default_dtype(t.float64)
        assert t.tensor([1.5]).dtype == t.float64 and t.arange(3.).dtype == t.float64
        assert t.Tensor([1]).dtype == t.float64 and t.tensor([1]).dtype == t.int64
    finally:
        t.set_default_dtype(t.float32)
    assert t.get_default_dtype() == t.float32


def test_tensor_from_a_list_and_from_numpy():
    assert repr(t.Tensor([1, 2, 3])) == "tensor([1., 2., 3.])"
    x = np.random.default_rng(3).standard_normal(3)  # float64, as np.random.randn gives
    made = t.Tensor(x)
    assert made.dtype == t.float32  # Tensor() always makes the default type
    assert made.numpy().tolist() == x.astype(np.float32).tolist()
    assert t.tensor(x).dtype == t.float64  # tensor() keeps NumPy's dtype
    shape = t.Tensor([[1, 2], [3, 4], [5, 6]]).shape
    assert shape == (3, 2) and repr(shape) == "torch.Size([3, 2])"
    assert isinstance(shape, tuple) and shape == t.Size([3, 2])


# ===================================================================== the creation functions

def test_ones_and_zeros_take_sizes_in_every_spelling():
    for sizes in [(2, 3), ((2, 3),), ([2, 3],), (t.Size([2, 3]),)]:
        one, zero = t.ones(*sizes), t.zeros(*sizes)
        assert one.shape == zero.shape == (2, 3)
        assert one.dtype == zero.dtype == t.float32
        assert one.numpy().tolist() == np.ones((2, 3)).tolist()
        assert zero.numpy().tolist() == np.zeros((2, 3)).tolist()
    assert repr(t.ones(2, 3)) == "tensor([[1., 1., 1.],\n        [1., 1., 1.]])"
    assert repr(t.zeros(2, 2, dtype=t.int32)) == ("tensor([[0, 0],\n        [0, 0]], "
                                                  "dtype=torch.int32)")
    assert t.ones(()).shape == () and t.zeros(0).shape == (0,)


def test_eye():
    assert t.eye(4).numpy().tolist() == np.eye(4).tolist() and t.eye(4).dtype == t.float32
    assert t.eye(2, 3).numpy().tolist() == np.eye(2, 3).tolist()
    assert t.eye(3, dtype=t.int64).dtype == t.int64
    assert repr(t.eye(3)) == ("tensor([[1., 0., 0.],\n        [0., 1., 0.],\n"
                              "        [0., 0., 1.]])")
    assert repr(t.eye(2, 3)) == "tensor([[1., 0., 0.],\n        [0., 1., 0.]])"


@pytest.mark.parametrize("args,dtype", [
    ((1, 10, 2), "int64"), ((5,), "int64"), ((10, 0, -3), "int64"), ((0, 1, 0.25), "float32"),
    ((1., 4.), "float32"), ((0, 5, 1.5), "float32"), ((0.5, 2), "float32")])
def test_arange(args, dtype):
    got = t.arange(*args)
    assert got.dtype == getattr(t, dtype)
    close(got, np.arange(*args))


def test_arange_and_linspace_print_like_pytorch():
    assert repr(t.arange(1, 10, 2)) == "tensor([1, 3, 5, 7, 9])"
    assert repr(t.arange(0, 1, 0.25)) == "tensor([0.0000, 0.2500, 0.5000, 0.7500])"
    assert repr(t.arange(10, 0, -3)) == "tensor([10,  7,  4,  1])"
    assert repr(t.linspace(0, 1, 5)) == "tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])"
    assert repr(t.linspace(-1, 1, steps=4)) == "tensor([-1.0000, -0.3333,  0.3333,  1.0000])"
    assert repr(t.linspace(3, 10, steps=5)) == ("tensor([ 3.0000,  4.7500,  6.5000,  8.2500, "
                                                "10.0000])")


@pytest.mark.parametrize("start,end,steps", [(0, 1, 5), (-1, 1, 4), (3, 10, 5), (2.5, -2.5, 7),
                                              (0, 1, 1)])
def test_linspace(start, end, steps):
    got = t.linspace(start, end, steps)
    assert got.dtype == t.float32 and got.shape == (steps,)
    close(got, np.linspace(start, end, steps))
    assert t.linspace(start, end, steps, dtype=t.float64).dtype == t.float64


def test_rand_and_randn():
    t.manual_seed(0)
    u, n = t.rand(200, 100), t.randn(200, 100)
    assert u.shape == n.shape == (200, 100) and u.dtype == n.dtype == t.float32
    un, nn = u.numpy(), n.numpy()
    assert un.min() >= 0 and un.max() < 1
    assert abs(un.mean() - 0.5) < 0.01 and abs(un.std() - (1 / 12) ** 0.5) < 0.01
    assert abs(nn.mean()) < 0.02 and abs(nn.std() - 1) < 0.02
    assert t.rand((2, 3)).shape == (2, 3) and t.randn(4).shape == (4,)
    assert t.rand(2, dtype=t.float64).dtype == t.float64
    t.manual_seed(7)
    first = t.rand(5).tolist()
    t.manual_seed(7)
    assert t.rand(5).tolist() == first  # seeding makes draws repeat


def test_normal_in_its_forms():
    t.manual_seed(1)
    means, stds = t.full((20000,), 3.0), t.full((20000,), 0.5)
    draw = t.normal(means, stds)  # tensor mean, tensor std
    assert draw.shape == (20000,) and draw.dtype == t.float32
    assert abs(draw.numpy().mean() - 3) < 0.02 and abs(draw.numpy().std() - 0.5) < 0.02
    draw = t.normal(-2.0, 4.0, size=(20000,))  # float mean, float std, size
    assert draw.shape == (20000,) and draw.dtype == t.float32
    assert abs(draw.numpy().mean() + 2) < 0.1 and abs(draw.numpy().std() - 4) < 0.1
    assert t.normal(t.zeros(2, 3), 1.0).shape == (2, 3)  # tensor mean, float std
    assert t.normal(2.0, t.ones(4)).shape == (4,)  # float mean, tensor std
    assert t.normal(t.arange(4.), 0.0).tolist() == [0.0, 1.0, 2.0, 3.0]  # std 0 is the mean


def test_randperm():
    t.manual_seed(2)
    p = t.randperm(10)
    assert p.dtype == t.int64 and p.shape == (10,)
    assert sorted(p.tolist()) == list(range(10))
    assert t.randperm(5, dtype=t.int32).dtype == t.int32
    assert repr(t.randperm(0)) == "tensor([], dtype=torch.int64)"
    draws = {tuple(t.randperm(4).tolist()) for _ in range(60)}
    assert len(draws) > 5  # it is random


# ================================================================================ the math

A2 = [[1, 2], [3, 4]]
B2 = [[5, 6], [7, 8]]


def test_add_and_subtract_print_like_pytorch():
    a, b = t.Tensor(A2), t.Tensor(B2)
    assert repr(a + b) == "tensor([[ 6.,  8.],\n        [10., 12.]])"
    assert repr(a - b) == "tensor([[-4., -4.],\n        [-4., -4.]])"
    assert repr(a.mean(dim=0)) == "tensor([2., 3.])"
    assert repr(a.pow(2)) == "tensor([[ 1.,  4.],\n        [ 9., 16.]])"
    assert repr(a.sigmoid()) == "tensor([[0.7311, 0.8808],\n        [0.9526, 0.9820]])"
    x, y = data(10, 3, 4), data(11, 3, 4)
    close(t.tensor(x) + t.tensor(y), x + y)
    close(t.tensor(x) - t.tensor(y), x - y)


def lower_median(a, axis=None):
    """PyTorch's median: the lower of the two middle values, not their mean."""
    if axis is None:
        a, axis = a.ravel(), 0
    return np.take(np.sort(a, axis=axis), (a.shape[axis] - 1) // 2, axis=axis)


# ---- the reduction table: mean / sum / median / mode, norm / dist, std / var, cumsum / cumprod

X34 = data(20, 3, 4)
Y34 = data(21, 3, 4)
P34 = data(22, 3, 4, kind="positive")
I38 = data(23, 3, 8, kind="int")

REDUCTIONS = [  # (id, call, NumPy reference, dtype)
    ("mean", lambda: t.tensor(X34).mean(), lambda: X34.mean(), "float32"),
    ("mean_dim0", lambda: t.tensor(X34).mean(dim=0), lambda: X34.mean(0), "float32"),
    ("mean_fn_keepdim", lambda: t.mean(t.tensor(X34), 1, keepdim=True),
     lambda: X34.mean(1, keepdims=True), "float32"),
    ("mean_f64", lambda: t.tensor(X34.astype(np.float64)).mean(), lambda: X34.mean(), "float64"),
    ("sum", lambda: t.tensor(X34).sum(), lambda: X34.sum(), "float32"),
    ("sum_fn_dim", lambda: t.sum(t.tensor(X34), dim=1), lambda: X34.sum(1), "float32"),
    ("sum_dims", lambda: t.tensor(X34).sum((0, 1)), lambda: X34.sum(), "float32"),
    ("sum_int", lambda: t.tensor(I38).sum(), lambda: I38.sum(), "int64"),
    ("sum_uint8", lambda: t.tensor(I38.astype(np.uint8)).sum(), lambda: I38.sum(), "int64"),
    ("sum_bool", lambda: (t.tensor(X34) > 0).sum(), lambda: (X34 > 0).sum(), "int64"),
    ("sum_dtype", lambda: t.tensor(I38).sum(dtype=t.float32), lambda: I38.sum(), "float32"),
    ("median", lambda: t.tensor(X34).median(), lambda: lower_median(X34), "float32"),
    ("median_even", lambda: t.median(t.tensor([4., 1., 3., 2.])), lambda: 2.0, "float32"),
    ("median_int", lambda: t.tensor(I38).median(), lambda: lower_median(I38), "int64"),
    ("norm", lambda: t.tensor(X34).norm(), lambda: np.sqrt((X34 ** 2).sum()), "float32"),
    ("norm_fn_p1", lambda: t.norm(t.tensor(X34), p=1), lambda: np.abs(X34).sum(), "float32"),
    ("norm_inf", lambda: t.tensor(X34).norm(p=float("inf")), lambda: np.abs(X34).max(),
     "float32"),
    ("norm_fro", lambda: t.tensor(X34).norm(p="fro"), lambda: np.linalg.norm(X34), "float32"),
    ("norm_dim", lambda: t.tensor(X34).norm(dim=1), lambda: np.linalg.norm(X34, axis=1),
     "float32"),
    ("dist", lambda: t.dist(t.tensor(X34), t.tensor(Y34)),
     lambda: np.linalg.norm((X34 - Y34).ravel()), "float32"),
    ("dist_p1", lambda: t.tensor(X34).dist(t.tensor(Y34), p=1), lambda: np.abs(X34 - Y34).sum(),
     "float32"),
    ("dist_p3", lambda: t.tensor(X34).dist(t.tensor(Y34), 3),
     lambda: (np.abs(X34 - Y34) ** 3).sum() ** (1 / 3), "float32"),
    ("std", lambda: t.tensor(X34).std(), lambda: X34.std(ddof=1), "float32"),
    ("std_fn_dim", lambda: t.std(t.tensor(X34), dim=0), lambda: X34.std(0, ddof=1), "float32"),
    ("std_biased", lambda: t.tensor(X34).std(unbiased=False), lambda: X34.std(), "float32"),
    ("std_correction", lambda: t.tensor(X34).std(dim=1, correction=0), lambda: X34.std(1),
     "float32"),
    ("var", lambda: t.tensor(X34).var(), lambda: X34.var(ddof=1), "float32"),
    ("var_fn_keepdim", lambda: t.var(t.tensor(X34), 1, keepdim=True),
     lambda: X34.var(1, ddof=1, keepdims=True), "float32"),
    ("cumsum", lambda: t.tensor(X34).cumsum(dim=1), lambda: X34.cumsum(1), "float32"),
    ("cumsum_fn", lambda: t.cumsum(t.tensor(X34), 0), lambda: X34.cumsum(0), "float32"),
    ("cumsum_int", lambda: t.tensor(I38).cumsum(1), lambda: I38.cumsum(1), "int64"),
    ("cumsum_uint8", lambda: t.tensor(I38.astype(np.uint8)).cumsum(0), lambda: I38.cumsum(0),
     "int64"),
    ("cumprod", lambda: t.tensor(P34).cumprod(1), lambda: P34.cumprod(1), "float32"),
    ("cumprod_fn", lambda: t.cumprod(t.tensor(I38), dim=1), lambda: I38.cumprod(1), "int64"),
]


@pytest.mark.parametrize("call,reference,dtype", [r[1:] for r in REDUCTIONS],
                         ids=[r[0] for r in REDUCTIONS])
def test_reduction_table(call, reference, dtype):
    got = call()
    assert got.dtype == getattr(t, dtype)
    expected = np.asarray(reference())
    assert tuple(got.shape) == expected.shape
    close(got, expected, rtol=2e-5)


def test_median_along_a_dim_returns_values_and_indices():
    x = data(24, 4, 7)
    got = t.tensor(x).median(dim=1)
    assert type(got).__name__ == "median" and got.values is got[0] and got.indices is got[1]
    assert got.values.dtype == t.float32 and got.indices.dtype == t.int64
    close(got.values, lower_median(x, 1))
    close(np.take_along_axis(x, got.indices.numpy()[:, None], 1)[:, 0], got.values.numpy())
    kept = t.median(t.tensor(x), 0, keepdim=True)
    assert kept.values.shape == (1, 7)
    close(kept.values, lower_median(x, 0)[None])
    assert repr(t.tensor([[1., 5., 3.], [4., 2., 0.]]).median(dim=1)) == (
        "torch.return_types.median(\nvalues=tensor([3., 2.]),\nindices=tensor([2, 1]))")


def numpy_mode(row):
    """The most frequent value (the smallest of a tie) and the index of its last occurrence."""
    counts = np.bincount(row)
    value = int(np.argmax(counts))
    return value, int(np.nonzero(row == value)[0][-1])


def test_mode():
    got = t.tensor(I38).mode()  # along the last dim
    assert got.values.dtype == t.int64 and got.indices.dtype == t.int64
    expected = [numpy_mode(row) for row in I38]
    assert got.values.tolist() == [v for v, _ in expected]
    assert got.indices.tolist() == [i for _, i in expected]
    cols = t.mode(t.tensor(I38), 0)
    assert cols.values.tolist() == [numpy_mode(col)[0] for col in I38.T]
    assert repr(t.tensor([[1, 5, 1], [4, 2, 2]]).mode()) == (
        "torch.return_types.mode(\nvalues=tensor([1, 2]),\nindices=tensor([2, 2]))")
    assert t.tensor([3, 1, 2, 3, 1]).mode().values.item() == 1  # a tie gives the smallest


def test_reductions_print_like_pytorch():
    m = t.tensor([[1., 2.], [3., 4.]])
    assert repr(m.sum()) == "tensor(10.)"
    assert repr(t.tensor([[1, 2], [3, 4]]).sum(1)) == "tensor([3, 7])"
    assert repr(m.std()) == "tensor(1.2910)"
    assert repr(m.var(0)) == "tensor([2., 2.])"
    assert repr(m.norm()) == "tensor(5.4772)"
    assert repr(m.cumprod(0)) == "tensor([[1., 2.],\n        [3., 8.]])"
    assert repr(t.tensor([1, 2, 3, 4]).cumsum(0)) == "tensor([ 1,  3,  6, 10])"
    assert repr(t.tensor([1., 2.]).dist(t.tensor([4., 6.]))) == "tensor(5.)"
    assert repr(t.tensor([4., 1., 3., 2.]).median()) == "tensor(2.)"
    assert repr(t.tensor([1., 2.], dtype=t.float64).sum()) == "tensor(3., dtype=torch.float64)"


def test_reductions_refuse_integer_inputs_where_pytorch_does():
    ints = t.tensor(I38)
    with pytest.raises(RuntimeError, match="mean"):
        ints.mean()
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        ints.std()
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        ints.var()
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor"):
        ints.norm()
    with pytest.raises(TypeError):
        ints.cumsum()  # dim is required


# ---- the element-wise tables: abs / sqrt / div / exp / fmod / log / pow, cos / sin / asin /
# ---- atan2 / cosh, ceil / round / floor / trunc, clamp, sigmoid / tanh

UNARY = [  # (name, NumPy reference, input kind, dtype of an int64 input)
    ("abs", np.abs, "normal", "int64"),
    ("sqrt", np.sqrt, "positive", "float32"),
    ("exp", np.exp, "normal", "float32"),
    ("log", np.log, "positive", "float32"),
    ("cos", np.cos, "normal", "float32"),
    ("sin", np.sin, "normal", "float32"),
    ("asin", np.arcsin, "unit", "float32"),
    ("cosh", np.cosh, "normal", "float32"),
    ("ceil", np.ceil, "wide", "int64"),
    ("round", np.round, "wide", "int64"),
    ("floor", np.floor, "wide", "int64"),
    ("trunc", np.trunc, "wide", "int64"),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), "normal", "float32"),
    ("tanh", np.tanh, "normal", "float32"),
]


@pytest.mark.parametrize("name,reference,kind,int_dtype", UNARY, ids=[u[0] for u in UNARY])
def test_elementwise_table_unary(name, reference, kind, int_dtype):
    x = data(30, 3, 5, kind=kind)
    expected = reference(x.astype(np.float64))
    for got in (getattr(t, name)(t.tensor(x)), getattr(t.tensor(x), name)()):
        assert got.dtype == t.float32 and got.shape == (3, 5)
        close(got, expected)
    if name not in ("cos", "sin"):  # cos_ and sin_ are not in dualgraph yet
        inplace = t.tensor(x)
        assert getattr(inplace, name + "_")() is inplace
        close(inplace, expected)
    out = t.empty(3, 5)
    assert getattr(t, name)(t.tensor(x), out=out) is out
    close(out, expected)
    assert getattr(t.tensor(x.astype(np.float64)), name)().dtype == t.float64
    ints = np.array([[3, 1, 4], [1, 5, 2]]) if name != "asin" else np.array([[0, 1], [-1, 0]])
    got = getattr(t.tensor(ints), name)()
    assert got.dtype == getattr(t, int_dtype)
    close(got, reference(ints.astype(np.float64)), rtol=1e-5)


def test_round_is_half_to_even_and_takes_decimals():
    assert t.tensor([0.5, 1.5, 2.5, -0.5, -1.5]).round().tolist() == [0., 2., 2., -0., -2.]
    x = data(31, 6, kind="wide")
    close(t.round(t.tensor(x), decimals=2), np.round(x, 2), atol=1e-5)


def test_div():
    x, y = data(32, 3, 4), data(33, 3, 4, kind="positive")
    close(t.div(t.tensor(x), t.tensor(y)), x / y)
    close(t.tensor(x).div(2.5), x / 2.5)
    close(t.tensor(x) / t.tensor(y), x / y)
    ints = np.array([[-7, 7], [5, 9]])
    got = t.tensor(ints).div(2)
    assert got.dtype == t.float32  # true division of ints gives floats
    close(got, ints / 2)
    floor = t.div(t.tensor(ints), 2, rounding_mode="floor")
    assert floor.dtype == t.int64 and floor.tolist() == (ints // 2).tolist()
    trunc = t.tensor(ints).div(2, rounding_mode="trunc")
    assert trunc.dtype == t.int64 and trunc.tolist() == np.trunc(ints / 2).astype(int).tolist()
    assert repr(t.tensor([5, 7]).div(2)) == "tensor([2.5000, 3.5000])"


def test_fmod_keeps_the_sign_of_the_dividend():
    x = data(34, 3, 4, kind="wide")
    close(t.fmod(t.tensor(x), 1.5), np.fmod(x, 1.5))
    close(t.tensor(x).fmod(-1.5), np.fmod(x, -1.5))
    y = data(35, 3, 4, kind="positive")
    close(t.fmod(t.tensor(x), t.tensor(y)), np.fmod(x, y))
    ints = np.array([7, -7, 8, -9])
    got = t.tensor(ints).fmod(3)
    assert got.dtype == t.int64 and got.tolist() == np.fmod(ints, 3).tolist()
    assert t.tensor(ints).fmod(2.5).dtype == t.float32
    assert repr(t.tensor([7, -7]).fmod(3)) == "tensor([ 1, -1])"


def test_pow():
    x, e = data(36, 3, 4), data(37, 3, 4)
    p = data(38, 3, 4, kind="positive")
    close(t.tensor(x).pow(2), x.astype(np.float64) ** 2)
    close(t.pow(t.tensor(x), 3), x.astype(np.float64) ** 3)
    close(t.pow(t.tensor(p), t.tensor(e)), p.astype(np.float64) ** e, rtol=1e-4)
    close(t.tensor(p) ** 0.5, np.sqrt(p))
    close(t.pow(2, t.tensor(e)), 2.0 ** e.astype(np.float64), rtol=1e-5)
    ints = np.array([[3, 1], [2, 5]])
    assert t.tensor(ints).pow(2).dtype == t.int64
    assert t.tensor(ints).pow(2).tolist() == (ints ** 2).tolist()
    assert t.tensor(ints).pow(0.5).dtype == t.float32
    assert (2 ** t.tensor(ints)).tolist() == (2 ** ints).tolist()
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        t.tensor(ints).pow(-1)


def test_atan2():
    y, x = data(39, 3, 4), data(40, 3, 4)
    close(t.atan2(t.tensor(y), t.tensor(x)), np.arctan2(y, x))
    close(t.tensor(y).atan2(t.tensor(x)), np.arctan2(y, x))
    assert t.atan2(t.tensor([1, -1]), t.tensor([1, 1])).dtype == t.float32
    assert repr(t.atan2(t.tensor([1., -1.]), t.tensor([1., 1.]))) == "tensor([ 0.7854, -0.7854])"


def test_clamp_input_min_max():
    x = data(41, 3, 5)
    close(t.clamp(t.tensor(x), -0.5, 0.5), np.clip(x, -0.5, 0.5))
    close(t.tensor(x).clamp(min=0), np.maximum(x, 0))
    close(t.clamp(t.tensor(x), max=0.1), np.minimum(x, 0.1))
    lo, hi = data(42, 3, 5) - 1, data(43, 3, 5) + 1
    close(t.clamp(t.tensor(x), min=t.tensor(lo), max=t.tensor(hi)),
          np.minimum(np.maximum(x, lo), hi))
    ints = t.tensor([[3, 1, 4], [1, 5, 9]])
    assert ints.clamp(2, 4).dtype == t.int64 and ints.clamp(2, 4).tolist() == [[3, 2, 4],
                                                                              [2, 4, 4]]
    assert ints.clamp(2.5, 4).dtype == t.float32  # a float bound promotes
    y = t.tensor(x)
    assert y.clamp_(-0.5, 0.5) is y
    close(y, np.clip(x, -0.5, 0.5))
    assert repr(t.clamp(t.tensor([-2., 0.5, 3.]), -1, 1)) == "tensor([-1.0000,  0.5000,  1.0000])"


ELEMENTWISE_PRINTED = [
    ("t.tensor([-1.5, 0.5, 2.5]).abs()", lambda: t.tensor([-1.5, 0.5, 2.5]).abs(),
     "tensor([1.5000, 0.5000, 2.5000])"),
    ("t.tensor([4, 9]).sqrt()", lambda: t.tensor([4, 9]).sqrt(), "tensor([2., 3.])"),
    ("t.tensor([1, 2]).exp()", lambda: t.tensor([1, 2]).exp(), "tensor([2.7183, 7.3891])"),
    ("log", lambda: t.tensor([1., 2.7183]).log(), "tensor([0.0000, 1.0000])"),
    ("sin", lambda: t.tensor([0., 1.5708]).sin(), "tensor([0., 1.])"),
    ("cos", lambda: t.tensor([0., 3.1416]).cos(), "tensor([ 1., -1.])"),
    ("asin", lambda: t.tensor([0.5, 1.0]).asin(), "tensor([0.5236, 1.5708])"),
    ("cosh", lambda: t.tensor([0., 1.]).cosh(), "tensor([1.0000, 1.5431])"),
    ("round", lambda: t.tensor([0.5, 1.5, 2.5, -0.5]).round(), "tensor([0., 2., 2., -0.])"),
    ("ceil", lambda: t.tensor([-1.5, 1.2]).ceil(), "tensor([-1.,  2.])"),
    ("floor", lambda: t.tensor([-1.5, 1.7]).floor(), "tensor([-2.,  1.])"),
    ("trunc", lambda: t.tensor([-1.7, 1.7]).trunc(), "tensor([-1.,  1.])"),
    ("tanh", lambda: t.tensor([0., 1.]).tanh(), "tensor([0.0000, 0.7616])"),
]


@pytest.mark.parametrize("make,text", [p[1:] for p in ELEMENTWISE_PRINTED],
                         ids=[p[0] for p in ELEMENTWISE_PRINTED])
def test_elementwise_prints_like_pytorch(make, text):
    assert repr(make()) == text


# ---- comparison: gt / lt / ge / le / eq / ne, max / min, topk, sort

@pytest.mark.parametrize("name,op,reference", [
    ("gt", lambda a, b: a > b, np.greater), ("lt", lambda a, b: a < b, np.less),
    ("ge", lambda a, b: a >= b, np.greater_equal), ("le", lambda a, b: a <= b, np.less_equal),
    ("eq", lambda a, b: a == b, np.equal), ("ne", lambda a, b: a != b, np.not_equal)])
def test_comparisons(name, op, reference):
    x, y = data(50, 3, 4, kind="int"), data(51, 3, 4, kind="int")
    expected = reference(x, y).tolist()
    for got in (getattr(t, name)(t.tensor(x), t.tensor(y)), getattr(t.tensor(x), name)(t.tensor(y)),
                op(t.tensor(x), t.tensor(y))):
        assert got.dtype == t.bool and got.tolist() == expected
    assert getattr(t.tensor(x), name)(2).tolist() == reference(x, 2).tolist()
    f = data(52, 3, 4)
    assert getattr(t, name)(t.tensor(f), 0.25).tolist() == reference(f, np.float32(0.25)).tolist()


def test_max_and_min():
    x, y = data(53, 3, 5), data(54, 3, 5)
    assert t.tensor(x).max().item() == x.max() and t.min(t.tensor(x)).item() == x.min()
    assert t.tensor(x).max().dtype == t.float32
    got = t.max(t.tensor(x), dim=1)
    assert got.values.tolist() == x.max(1).tolist() and got.indices.tolist() == x.argmax(1).tolist()
    assert got.indices.dtype == t.int64
    got = t.tensor(x).min(0)
    assert got.values.tolist() == x.min(0).tolist() and got.indices.tolist() == x.argmin(0).tolist()
    assert t.tensor(x).max(1, keepdim=True).values.shape == (3, 1)
    assert t.max(t.tensor(x), t.tensor(y)).tolist() == np.maximum(x, y).tolist()
    assert t.min(t.tensor(x), t.tensor(y)).tolist() == np.minimum(x, y).tolist()
    assert repr(t.tensor([[1., 5.], [4., 2.]]).max(dim=1)) == (
        "torch.return_types.max(\nvalues=tensor([5., 4.]),\nindices=tensor([1, 0]))")
    assert repr(t.max(t.tensor([1., 5.]), t.tensor([4., 2.]))) == "tensor([4., 5.])"


def test_topk_and_sort():
    x = data(55, 3, 6)
    got = t.topk(t.tensor(x), 2)
    order = np.argsort(-x, axis=1)[:, :2]
    assert got.indices.tolist() == order.tolist()
    assert got.values.tolist() == np.take_along_axis(x, order, 1).tolist()
    low = t.tensor(x).topk(2, dim=0, largest=False)
    assert low.indices.tolist() == np.argsort(x, axis=0)[:2].tolist()
    s = t.sort(t.tensor(x))
    assert s.values.tolist() == np.sort(x, 1).tolist()
    assert s.indices.tolist() == np.argsort(x, 1).tolist() and s.indices.dtype == t.int64
    d = t.tensor(x).sort(dim=0, descending=True)
    assert d.values.tolist() == np.sort(x, 0)[::-1].tolist()
    assert repr(t.tensor([3., 1., 2.]).sort()) == (
        "torch.return_types.sort(\nvalues=tensor([1., 2., 3.]),\nindices=tensor([1, 2, 0]))")
    assert repr(t.tensor([3., 1., 2.]).topk(2)) == (
        "torch.return_types.topk(\nvalues=tensor([3., 2.]),\nindices=tensor([0, 2]))")
    assert repr(t.tensor([1, 5, 3]) > 2) == "tensor([False,  True,  True])"


# ======================================================================= the linear algebra

def test_trace():
    s = data(60, 4, 4)
    assert t.tensor(s).trace().dtype == t.float32
    close(t.tensor(s).trace(), np.trace(s))
    r = data(61, 3, 5)
    close(t.trace(t.tensor(r)), np.trace(r))  # rectangular: the main diagonal
    ints = t.tensor([[3, 1, 4], [1, 5, 9]])
    assert ints.trace().dtype == t.int64 and ints.trace().item() == 8
    assert t.tensor([[3, 1], [1, 5]], dtype=t.uint8).trace().dtype == t.int64
    assert repr(t.tensor([[1., 2.], [3., 4.]]).trace()) == "tensor(5.)"


def test_diag():
    v, m = data(62, 4), data(63, 4, 5)
    assert t.diag(t.tensor(v)).numpy().tolist() == np.diag(v).tolist()
    assert t.tensor(m).diag().numpy().tolist() == np.diag(m).tolist()
    assert t.diag(t.tensor(m), 1).numpy().tolist() == np.diag(m, 1).tolist()
    assert t.diag(t.tensor(m), diagonal=-2).numpy().tolist() == np.diag(m, -2).tolist()
    assert t.diag(t.tensor(v), -1).numpy().tolist() == np.diag(v, -1).tolist()
    assert t.diag(t.tensor([1, 2])).dtype == t.int64
    assert repr(t.diag(t.tensor([1, 2]))) == "tensor([[1, 0],\n        [0, 2]])"
    assert repr(t.diag(t.tensor([[1, 2], [3, 4]]))) == "tensor([1, 4])"


@pytest.mark.parametrize("k", [0, 1, -1, 3])
def test_triu_and_tril(k):
    m = data(64, 4, 5)
    assert t.triu(t.tensor(m), k).numpy().tolist() == np.triu(m, k).tolist()
    assert t.tensor(m).tril(diagonal=k).numpy().tolist() == np.tril(m, k).tolist()
    assert t.tensor(m).triu(k).dtype == t.float32
    assert t.tril(t.tensor([[1, 2], [3, 4]]), k).dtype == t.int64
    x = t.tensor(m)
    assert x.triu_(k) is x and x.numpy().tolist() == np.triu(m, k).tolist()


def test_triu_and_tril_print_like_pytorch():
    assert repr(t.triu(t.ones(3, 3))) == ("tensor([[1., 1., 1.],\n        [0., 1., 1.],\n"
                                          "        [0., 0., 1.]])")
    assert repr(t.tril(t.ones(3, 3), -1)) == ("tensor([[0., 0., 0.],\n        [1., 0., 0.],\n"
                                              "        [1., 1., 0.]])")


def test_mm_and_matmul():
    a, b = t.Tensor(A2), t.Tensor(B2)
    text = "tensor([[23., 34.],\n        [31., 46.]])"
    assert repr(b.mm(a)) == repr(b.matmul(a)) == text
    assert repr((b.mm(a), b.matmul(a))) == f"({text}, {text})"
    x, y = data(65, 3, 4), data(66, 4, 2)
    for got in (t.mm(t.tensor(x), t.tensor(y)), t.tensor(x).mm(t.tensor(y)),
                t.matmul(t.tensor(x), t.tensor(y)), t.tensor(x) @ t.tensor(y)):
        assert got.dtype == t.float32 and got.shape == (3, 2)
        close(got, x.astype(np.float64) @ y, rtol=1e-5)
    close(t.tensor(x).matmul(t.tensor(y[:, 0])), x.astype(np.float64) @ y[:, 0])  # matrix @ vector
    batch = data(67, 2, 3, 4)
    close(t.matmul(t.tensor(batch), t.tensor(y)), batch.astype(np.float64) @ y)  # broadcasts
    ints = np.array([[1, 2], [3, 4]])
    assert t.tensor(ints).mm(t.tensor(ints)).dtype == t.int64
    assert t.tensor(ints).mm(t.tensor(ints)).tolist() == (ints @ ints).tolist()
    with pytest.raises(RuntimeError):
        t.ones(2, 3).mm(t.ones(2, 3))


def test_t_transposes():
    m = data(68, 3, 5)
    got = t.tensor(m).t()
    assert got.shape == (5, 3) and got.numpy().tolist() == m.T.tolist()
    assert t.t(t.tensor(m)).numpy().tolist() == m.T.tolist()
    assert t.tensor([1, 2]).t().tolist() == [1, 2]  # 1-D stays as it is
    assert repr(t.tensor([[1, 2], [3, 4]]).t()) == "tensor([[1, 3],\n        [2, 4]])"
    assert got.stride() == (1, 5) and not got.is_contiguous()  # a view, not a copy


def test_inverse():
    s = data(69, 4, 4) + 4 * np.eye(4, dtype=np.float32)
    inv = t.tensor(s).inverse()
    assert inv.dtype == t.float32
    close(inv, np.linalg.inv(s.astype(np.float64)), rtol=1e-4, atol=1e-5)
    close(t.inverse(t.tensor(s)) @ t.tensor(s), np.eye(4), atol=1e-5)
    assert t.tensor(s.astype(np.float64)).inverse().dtype == t.float64
    assert repr(t.tensor([[1., 2.], [3., 4.]]).inverse()) == (
        "tensor([[-2.0000,  1.0000],\n        [ 1.5000, -0.5000]])")
    with pytest.raises(RuntimeError, match="singular"):
        t.zeros(2, 2).inverse()


def test_svd_returns_u_s_and_v_not_vh():
    a = data(70, 5, 3)
    u, s, v = t.svd(t.tensor(a))
    assert (u.shape, s.shape, v.shape) == ((5, 3), (3,), (3, 3))
    assert u.dtype == s.dtype == v.dtype == t.float32
    close(s, np.linalg.svd(a, compute_uv=False), rtol=1e-5)
    close(u @ t.diag(s) @ v.t(), a, atol=1e-5)  # A = U diag(S) V^T
    close(u.t() @ u, np.eye(3), atol=1e-5)
    got = t.tensor(a).svd(some=False)
    assert (got.U.shape, got.S.shape, got.V.shape) == ((5, 5), (3,), (3, 3))
    assert repr(t.svd(t.tensor([[2., 0.], [0., 1.]]))) == (
        "torch.return_types.svd(\nU=tensor([[1., 0.],\n        [0., 1.]]),\n"
        "S=tensor([2., 1.]),\nV=tensor([[1., 0.],\n        [0., 1.]]))")


# ================================================================ indexing, slicing, reshaping

def test_indexing_and_slicing_match_numpy():
    c_np = data(80, 5, 4, kind="positive")
    c = t.tensor(c_np)
    assert c[0].numpy().tolist() == c_np[0].tolist() and c[0].shape == (4,)
    assert c[:, 0].numpy().tolist() == c_np[:, 0].tolist()
    assert c[1:3, 2:4].numpy().tolist() == c_np[1:3, 2:4].tolist()
    assert c[-1, -2].item() == c_np[-1, -2] and c[-1, -2].shape == ()
    assert c[::2, 1::2].numpy().tolist() == c_np[::2, 1::2].tolist()
    assert c[..., 1].numpy().tolist() == c_np[..., 1].tolist()
    assert c[:, None].shape == (5, 1, 4)
    assert c[c > 1.5].numpy().tolist() == c_np[c_np > 1.5].tolist()
    assert c[[0, 2]].numpy().tolist() == c_np[[0, 2]].tolist()
    assert c[1:3, 2:4].dtype == t.float32


def test_indexing_a_rand_matrix():
    c = t.rand(5, 4)
    assert c[0].shape == (4,) and c[:, 0].shape == (5,) and c[1:3, 2:4].shape == (2, 2)
    assert c[1:3, 2:4].numpy().tolist() == c.numpy()[1:3, 2:4].tolist()
    assert c.reshape(4, 5).numpy().tolist() == c.view(4, 5).numpy().tolist()
    assert c.view(4, 5).numpy().tolist() == c.numpy().reshape(4, 5).tolist()
    d = t.rand(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        before = d.storage().tolist()
        assert len(before) == 6 and d.storage().dtype == t.float32
        assert d.reshape(2, 3).storage().tolist() == before


def test_indexing_prints_like_pytorch():
    c = t.arange(20.).reshape(5, 4)
    assert repr(c[0]) == "tensor([0., 1., 2., 3.])"
    assert repr(c[:, 0]) == "tensor([ 0.,  4.,  8., 12., 16.])"
    assert repr(c[1:3, 2:4]) == "tensor([[ 6.,  7.],\n        [10., 11.]])"
    assert repr(c[1, 2]) == "tensor(6.)" and c[1, 2].item() == 6.0
    text = ("tensor([[ 0.,  1.,  2.,  3.,  4.],\n        [ 5.,  6.,  7.,  8.,  9.],\n"
            "        [10., 11., 12., 13., 14.],\n        [15., 16., 17., 18., 19.]])")
    assert repr(c.reshape(4, 5)) == repr(c.view(4, 5)) == text


def test_basic_slices_are_views():
    c = t.tensor(data(81, 5, 4))
    block = c[1:3, 2:4]
    assert block.storage_offset() == 6 and block.stride() == (4, 1)
    block[0, 0] = 100.0
    assert c[1, 2].item() == 100.0  # writing the slice writes the tensor


def test_view_and_reshape_give_numpy_order():
    c_np = data(82, 5, 4)
    c = t.tensor(c_np)
    assert c.reshape(4, 5).numpy().tolist() == c_np.reshape(4, 5).tolist()
    assert c.view(4, 5).numpy().tolist() == c_np.reshape(4, 5).tolist()
    assert c.view(-1).shape == (20,) and c.view(2, -1).shape == (2, 10)
    assert c.reshape(-1, 2).shape == (10, 2) and c.reshape((2, 10)).shape == (2, 10)
    assert t.reshape(c, (20,)).numpy().tolist() == c_np.ravel().tolist()


def test_view_shares_memory():
    c = t.tensor(data(83, 5, 4))
    v = c.view(4, 5)
    assert v.data_ptr() == c.data_ptr()
    v[0, 0] = 42.0
    assert c[0, 0].item() == 42.0
    c[4, 3] = -1.0
    assert v[3, 4].item() == -1.0


def test_reshape_returns_a_view_when_it_can():
    """The tutorial says reshape always copies; PyTorch's reshape is a view whenever the strides
    allow one, and copies only when they do not."""
    c = t.tensor(data(84, 5, 4))
    r = c.reshape(4, 5)
    assert r.data_ptr() == c.data_ptr()
    r[0, 0] = 7.0
    assert c[0, 0].item() == 7.0  # contiguous: a view, memory shared
    tr = c.t()
    flat = tr.reshape(20)
    assert flat.data_ptr() != c.data_ptr()
    assert flat.numpy().tolist() == c.numpy().T.ravel().tolist()
    flat[0] = -3.0
    assert c[0, 0].item() == 7.0  # not contiguous: a copy, memory not shared
    with pytest.raises(RuntimeError, match=re.escape(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")):
        tr.view(20)
    assert tr.contiguous().view(20).numpy().tolist() == c.numpy().T.ravel().tolist()


def test_resize_in_place():
    c = t.arange(6.)
    assert c.resize_(2, 3) is c
    assert c.shape == (2, 3) and c.tolist() == [[0., 1., 2.], [3., 4., 5.]]
    assert t.arange(4.).resize_(2).tolist() == [0., 1.]  # shrinking keeps the first elements


# ========================================================================= Tensor and Storage

def test_storage_prints_like_pytorch():
    d = t.tensor([[0.25, 0.5], [0.125, 1.0], [2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TypedStorage is deprecated in PyTorch
        text = (" 0.25\n 0.5\n 0.125\n 1.0\n 2.0\n 3.0\n"
                "[torch.storage.TypedStorage(dtype=torch.float32, device=cpu) of size 6]")
        assert repr(d.storage()) == str(d.storage()) == text
        assert repr(t.tensor([1.1, 2.2]).storage()) == (
            " 1.100000023841858\n 2.200000047683716\n"
            "[torch.storage.TypedStorage(dtype=torch.float32, device=cpu) of size 2]")
        assert repr(t.tensor([1, 2]).storage()) == (
            " 1\n 2\n[torch.storage.TypedStorage(dtype=torch.int64, device=cpu) of size 2]")
        assert repr(t.tensor([], dtype=t.float32).storage()) == (
            " \n[torch.storage.TypedStorage(dtype=torch.float32, device=cpu) of size 0]")


def test_storage_is_kept_when_the_shape_changes():
    d_np = data(90, 3, 2, kind="positive")
    d = t.tensor(d_np)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = d.storage()
        assert len(s) == 6 and s.size() == 6 and s.dtype == t.float32
        assert s.tolist() == d_np.ravel().tolist() and s[1] == d_np.ravel()[1]
        e = d.reshape(2, 3)
        assert repr(e) == repr(t.tensor(d_np.reshape(2, 3)))
        assert e.storage().data_ptr() == s.data_ptr()  # one storage, two shapes
        assert e.storage().tolist() == s.tolist()
        assert repr(e.storage()) == repr(s)
        d[0, 0] = 5.0
        assert e.storage()[0] == 5.0 and e[0, 0].item() == 5.0
    assert d.untyped_storage().nbytes() == 24
    assert d.untyped_storage().data_ptr() == e.untyped_storage().data_ptr()


def test_strides_offsets_and_contiguity():
    d = t.tensor(data(91, 3, 2))
    assert d.stride() == (2, 1) and d.stride(0) == 2 and d.storage_offset() == 0
    assert d.t().stride() == (1, 2)
    assert d[1].storage_offset() == 2 and d[1:, 1].stride() == (2,)
    assert d.is_contiguous() and not d.t().is_contiguous()
    assert d.t().contiguous().is_contiguous()
    assert d.t().contiguous().numpy().tolist() == d.numpy().T.tolist()
    tail = d.view(-1)[2:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert tail.storage_offset() == 2 and len(tail.storage()) == 6
        assert tail.storage().data_ptr() == d.storage().data_ptr()
    assert tail.data_ptr() - d.data_ptr() == 8  # two float32s in


def test_size_numel_dim():
    x = t.ones(2, 3)
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3 and x.shape[0] == 2
    assert x.numel() == 6 and x.dim() == 2 and x.ndim == 2
    assert repr(x.size()) == "torch.Size([2, 3])"


# =========================================================================== autograd

def test_variable_wraps_a_tensor():
    x = Variable(t.ones(3, 4), requires_grad=True)
    assert isinstance(x, t.Tensor) and type(x).__name__ == "Tensor"
    assert x.requires_grad and x.is_leaf
    assert repr(x) == ("tensor([[1., 1., 1., 1.],\n        [1., 1., 1., 1.],\n"
                       "        [1., 1., 1., 1.]], requires_grad=True)")
    plain = Variable(t.ones(2))
    assert not plain.requires_grad and repr(plain) == "tensor([1., 1.])"


def test_requires_grad_at_creation():
    x = t.ones(3, 4, requires_grad=True)
    assert repr(x) == ("tensor([[1., 1., 1., 1.],\n        [1., 1., 1., 1.],\n"
                       "        [1., 1., 1., 1.]], requires_grad=True)")
    assert repr(x.data) == ("tensor([[1., 1., 1., 1.],\n        [1., 1., 1., 1.],\n"
                            "        [1., 1., 1., 1.]])")
    assert not x.data.requires_grad
    assert x.grad is None and x.grad_fn is None
    assert repr(t.ones(2).requires_grad_()) == "tensor([1., 1.], requires_grad=True)"
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype "
                                           "can require gradients"):
        t.ones(2, dtype=t.long, requires_grad=True)


def test_the_tutorials_graph_x_plus_2_cubed_and_averaged():
    x = t.ones(3, 4, requires_grad=True)
    y = x + 2
    assert repr(y) == ("tensor([[3., 3., 3., 3.],\n        [3., 3., 3., 3.],\n"
                       "        [3., 3., 3., 3.]], grad_fn=<AddBackward0>)")
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert str(y.grad_fn) == repr(y.grad_fn)
    assert type(y.grad_fn).__name__ == "AddBackward0" and y.grad_fn.name() == "AddBackward0"
    assert y.requires_grad
    cube = y.pow(3)
    z = t.mean(cube)
    assert repr(z) == "tensor(27., grad_fn=<MeanBackward0>)"
    assert re.fullmatch(r"<MeanBackward0 object at 0x[0-9a-f]+>", repr(z.grad_fn))
    assert z.grad_fn.next_functions[0][0] is cube.grad_fn
    assert cube.grad_fn.name() == "PowBackward0"
    z.backward()
    assert (z.is_leaf, y.is_leaf, x.is_leaf) == (False, False, True)
    assert z.retain_grad() is None and y.retain_grad() is None and x.retain_grad() is None
    assert repr(x.grad) == ("tensor([[2.2500, 2.2500, 2.2500, 2.2500],\n"
                            "        [2.2500, 2.2500, 2.2500, 2.2500],\n"
                            "        [2.2500, 2.2500, 2.2500, 2.2500]])")
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        z.backward()


def test_retain_grad_keeps_the_gradient_of_non_leaves():
    x_np = data(100, 3, 4)
    x = t.tensor(x_np, requires_grad=True)
    y = x * 2 + 1
    z = (y ** 2).mean()
    y.retain_grad()
    z.retain_grad()
    z.backward()
    close(y.grad, 2 * (2 * x_np + 1) / 12)
    close(x.grad, 2 * 2 * (2 * x_np + 1) / 12)
    assert repr(z.grad) == "tensor(1.)"
    w = x * 3
    w.sum().backward()
    with pytest.warns(UserWarning, match="The .grad attribute of a Tensor that is not a leaf"):
        assert w.grad is None


def test_retain_graph_lets_backward_run_twice_and_gradients_accumulate():
    x = t.ones(2, requires_grad=True)
    z = (x * 3).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert repr(x.grad) == "tensor([6., 6.])"
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]
    assert t.ones(2).is_leaf and (t.ones(2) * 2).is_leaf and t.ones(2).grad_fn is None


def sigmoid(x):
    return 1.0 / (1.0 + t.exp(-x))


def sigmoid_derivative(x):
    return sigmoid(x) * (1.0 - sigmoid(x))


def test_hand_written_sigmoid_and_its_derivative():
    x_np = data(101, 3, 4)
    x = t.tensor(x_np, requires_grad=True)
    y = sigmoid(x)
    assert y.grad_fn.name() == "MulBackward0" and y.dtype == t.float32
    s = 1 / (1 + np.exp(-x_np.astype(np.float64)))
    close(y, s)
    y.backward(gradient=t.ones(y.size()))
    assert x.grad.dtype == t.float32 and not x.grad.requires_grad
    close(x.grad, s * (1 - s))
    by_hand = sigmoid_derivative(x)
    assert by_hand.grad_fn.name() == "MulBackward0"
    close(by_hand, x.grad.numpy())
    close(x.sigmoid(), s)


def test_hand_written_sigmoid_on_randn_with_requires_grad():
    t.manual_seed(3)
    x = t.randn(3, 4, requires_grad=True)
    assert x.is_leaf and x.requires_grad and x.dtype == t.float32 and x.grad_fn is None
    assert repr(x).endswith("requires_grad=True)") and repr(x).startswith("tensor([[")
    y = sigmoid(x)
    assert repr(y).endswith("grad_fn=<MulBackward0>)")
    y.backward(gradient=t.ones(y.size()))
    s = 1 / (1 + np.exp(-x.detach().numpy().astype(np.float64)))
    close(x.grad, s * (1 - s))
    close(sigmoid_derivative(x), x.grad.numpy())


def test_hand_written_sigmoid_prints_like_pytorch():
    x = t.tensor([[-0.5, 0.0, 0.25], [1.0, 2.0, -2.0]], requires_grad=True)
    y = sigmoid(x)
    assert repr(y) == ("tensor([[0.3775, 0.5000, 0.5622],\n        [0.7311, 0.8808, 0.1192]], "
                       "grad_fn=<MulBackward0>)")
    y.backward(gradient=t.ones(y.size()))
    assert repr(x.grad) == "tensor([[0.2350, 0.2500, 0.2461],\n        [0.1966, 0.1050, 0.1050]])"
    assert repr(sigmoid_derivative(x)) == ("tensor([[0.2350, 0.2500, 0.2461],\n        "
                                           "[0.1966, 0.1050, 0.1050]], grad_fn=<MulBackward0>)")


def test_backward_of_a_non_scalar_needs_a_gradient():
    y = t.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        y.backward()
    g = data(102, 2)
    y.backward(gradient=t.tensor(g))
    assert y.grad_fn is not None


def test_no_grad_and_detach():
    x = t.tensor(data(103, 3), requires_grad=True)
    with t.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert not x.detach().requires_grad and x.detach().data_ptr() == x.data_ptr()


GRAD_FN_NAMES = [  # every table's op under autograd, as PyTorch 2.13 names its backward node
    ("add", lambda x: x + x, "AddBackward0"), ("sub", lambda x: x - 1, "SubBackward0"),
    ("rsub", lambda x: 1.0 - x, "RsubBackward1"), ("mul", lambda x: 2 * x, "MulBackward0"),
    ("div", lambda x: x / 2, "DivBackward0"), ("neg", lambda x: -x, "NegBackward0"),
    ("mean", lambda x: x.mean(), "MeanBackward0"), ("mean_dim", lambda x: x.mean(0),
                                                    "MeanBackward1"),
    ("sum", lambda x: x.sum(), "SumBackward0"), ("sum_dim", lambda x: x.sum(0), "SumBackward1"),
    ("median", lambda x: x.median(), "MedianBackward0"),
    ("norm", lambda x: x.norm(), "LinalgVectorNormBackward0"),
    ("std", lambda x: x.std(), "StdBackward0"), ("var", lambda x: x.var(), "VarBackward0"),
    ("cumsum", lambda x: x.cumsum(0), "CumsumBackward0"),
    ("abs", lambda x: x.abs(), "AbsBackward0"), ("sqrt", lambda x: x.sqrt(), "SqrtBackward0"),
    ("exp", lambda x: x.exp(), "ExpBackward0"), ("log", lambda x: x.log(), "LogBackward0"),
    ("pow", lambda x: x.pow(3), "PowBackward0"), ("pow_op", lambda x: x ** 2, "PowBackward0"),
    ("sin", lambda x: x.sin(), "SinBackward0"), ("cos", lambda x: x.cos(), "CosBackward0"),
    ("clamp", lambda x: x.clamp(0, 1), "ClampBackward1"),
    ("sigmoid", lambda x: x.sigmoid(), "SigmoidBackward0"),
    ("tanh", lambda x: x.tanh(), "TanhBackward0"), ("max", lambda x: x.max(), "MaxBackward1"),
    ("trace", lambda x: x[:3, :3].trace(), "TraceBackward0"),
    ("triu", lambda x: x.triu(), "TriuBackward0"),
    ("mm", lambda x: x.mm(t.ones(4, 2)), "MmBackward0"),
    ("mv", lambda x: x @ t.ones(4), "MvBackward0"),
    ("view", lambda x: x.view(12), "ViewBackward0"),
    ("reshape", lambda x: x.reshape(12), "ViewBackward0"),
    ("select", lambda x: x[0], "SelectBackward0"),
]


@pytest.mark.parametrize("make,name", [g[1:] for g in GRAD_FN_NAMES],
                         ids=[g[0] for g in GRAD_FN_NAMES])
def test_grad_fn_names(make, name):
    x = t.ones(3, 4, requires_grad=True)
    assert make(x).grad_fn.name() == name


@pytest.mark.parametrize("name,derivative,kind", [
    ("sigmoid", lambda x: (1 / (1 + np.exp(-x))) * (1 - 1 / (1 + np.exp(-x))), "normal"),
    ("tanh", lambda x: 1 - np.tanh(x) ** 2, "normal"), ("exp", np.exp, "normal"),
    ("log", lambda x: 1 / x, "positive"), ("sqrt", lambda x: 0.5 / np.sqrt(x), "positive"),
    ("sin", np.cos, "normal"), ("cos", lambda x: -np.sin(x), "normal"),
    ("cosh", np.sinh, "normal"), ("asin", lambda x: 1 / np.sqrt(1 - x ** 2), "unit"),
    ("abs", np.sign, "normal")])
def test_gradients_of_the_elementwise_table(name, derivative, kind):
    x_np = data(104, 3, 4, kind=kind)
    x = t.tensor(x_np, requires_grad=True)
    getattr(x, name)().sum().backward()
    close(x.grad, derivative(x_np.astype(np.float64)), rtol=1e-4, atol=1e-6)


def cumprod_grad(row):
    """d/dx_j of sum_k prod_{i<=k} x_i."""
    out = np.zeros_like(row)
    for j in range(len(row)):
        out[j] = sum(np.prod(np.delete(row[:k + 1], j)) for k in range(j, len(row)))
    return out


G = data(110, 3, 4).astype(np.float64)
GP = data(111, 3, 4, kind="positive").astype(np.float64)
GS = data(112, 3, 3).astype(np.float64) + 3 * np.eye(3)
GY = data(113, 3, 4).astype(np.float64)


def median_onehot(a):
    flat = a.ravel()
    out = np.zeros_like(flat)
    out[np.argsort(flat)[(flat.size - 1) // 2]] = 1
    return out.reshape(a.shape)


def svd_grad(a):
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return u @ vh


GRADIENTS = [  # (id, input, f(x) -> scalar, NumPy d f / d x)
    ("sum", G, lambda x: x.sum(), lambda a: np.ones_like(a)),
    ("mean", G, lambda x: x.mean(), lambda a: np.full_like(a, 1 / a.size)),
    ("median", G, lambda x: x.median(), median_onehot),
    ("norm", G, lambda x: x.norm(), lambda a: a / np.linalg.norm(a)),
    ("dist", G, lambda x: t.dist(x, t.tensor(GY)), lambda a: (a - GY) / np.linalg.norm(a - GY)),
    ("std", G, lambda x: x.std(), lambda a: (a - a.mean()) / ((a.size - 1) * a.std(ddof=1))),
    ("var", G, lambda x: x.var(), lambda a: 2 * (a - a.mean()) / (a.size - 1)),
    ("cumsum", G, lambda x: x.cumsum(1).sum(), lambda a: np.broadcast_to([4., 3., 2., 1.],
                                                                          a.shape)),
    ("cumprod", GP, lambda x: x.cumprod(1).sum(),
     lambda a: np.stack([cumprod_grad(r) for r in a])),
    ("pow", G, lambda x: x.pow(3).sum(), lambda a: 3 * a ** 2),
    ("div", G, lambda x: x.div(t.tensor(GP)).sum(), lambda a: 1 / GP),
    ("fmod", G, lambda x: x.fmod(0.7).sum(), lambda a: np.ones_like(a)),
    ("atan2", G, lambda x: t.atan2(x, t.tensor(GY)).sum(), lambda a: GY / (a ** 2 + GY ** 2)),
    ("clamp", G, lambda x: x.clamp(-0.5, 0.5).sum(), lambda a: ((a > -0.5) & (a < 0.5)) * 1.0),
    ("round", G, lambda x: x.round().sum(), lambda a: np.zeros_like(a)),
    ("trace", GS, lambda x: x.trace(), lambda a: np.eye(3)),
    ("diag", GS, lambda x: x.diag().sum(), lambda a: np.eye(3)),
    ("triu", G, lambda x: x.triu().sum(), lambda a: np.triu(np.ones_like(a))),
    ("tril", G, lambda x: x.tril(-1).sum(), lambda a: np.tril(np.ones_like(a), -1)),
    ("mm", G, lambda x: x.mm(t.tensor(GY.T)).sum(), lambda a: np.ones((3, 3)) @ GY),
    ("t", G, lambda x: (x.t() * t.tensor(GY.T)).sum(), lambda a: GY),
    ("inverse", GS, lambda x: x.inverse().sum(),
     lambda a: -np.linalg.inv(a).T @ np.ones((3, 3)) @ np.linalg.inv(a).T),
    ("svd", G, lambda x: t.svd(x)[1].sum(), svd_grad),
]


@pytest.mark.parametrize("a,f,reference", [g[1:] for g in GRADIENTS],
                         ids=[g[0] for g in GRADIENTS])
def test_gradients_of_the_reduction_and_linear_algebra_tables(a, f, reference):
    x = t.tensor(a, requires_grad=True)
    f(x).backward()
    assert x.grad.dtype == t.float64
    close(x.grad, reference(a), rtol=1e-6, atol=1e-9)
