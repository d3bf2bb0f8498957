"""Type promotion as PyTorch does it: weak Python scalars, zero-dim tensors below dimensioned
ones, integers becoming the default float for true division and float math. The expected dtypes
were read off PyTorch 2.13."""

from __future__ import annotations

import pytest

import dualgraph as dg

CASES = [
    # (left, right, expected)
    (lambda: dg.ones(3, dtype=dg.int32), lambda: 2.5, dg.float32),
    (lambda: dg.ones(3, dtype=dg.int32), lambda: 2, dg.int32),
    (lambda: dg.ones(3), lambda: 2.0, dg.float32),
    (lambda: dg.ones(3), lambda: dg.tensor(1.0, dtype=dg.float64), dg.float32),
    (lambda: dg.ones(3, dtype=dg.int32), lambda: dg.tensor(1, dtype=dg.int64), dg.int32),
    (lambda: dg.ones(3, dtype=dg.int32), lambda: dg.tensor(1.0, dtype=dg.float64), dg.float64),
    (lambda: dg.ones(2, dtype=dg.bool), lambda: 1, dg.int64),
    (lambda: dg.ones(2, dtype=dg.bool), lambda: dg.tensor(1.5, dtype=dg.float64), dg.float64),
    (lambda: dg.ones(2, dtype=dg.uint8), lambda: dg.ones(2, dtype=dg.int8), dg.int16),
    (lambda: dg.ones(2, dtype=dg.float16), lambda: dg.ones(2, dtype=dg.int64), dg.float16),
    (lambda: dg.ones(2), lambda: dg.ones(2, dtype=dg.float64), dg.float64),
]


@pytest.mark.parametrize("left,right,expected", CASES)
def test_add_promotes_like_pytorch(left, right, expected):
    assert (left() + right()).dtype is expected
    assert (right() + left()).dtype is expected


def test_true_division_of_integers_gives_the_default_float():
    assert (dg.tensor([1, 2]) / dg.tensor([2, 4])).tolist() == [0.5, 0.5]
    assert (dg.tensor([1, 2]) / 2).dtype is dg.float32


def test_float_math_on_integers_and_comparisons():
    assert dg.tensor([1, 2]).exp().dtype is dg.float32
    assert (dg.tensor([1, 2]) > 1.5).dtype is dg.bool
    assert dg.tensor([1, 2]).sum().dtype is dg.int64
    assert dg.tensor([1, 2], dtype=dg.int32).sum().dtype is dg.int64


def test_default_dtype_governs_python_floats():
    dg.set_default_dtype(dg.float64)
    try:
        assert dg.tensor([1.5]).dtype is dg.float64
        assert (dg.tensor([1, 2]) * 0.5).dtype is dg.float64
        assert dg.get_default_dtype() is dg.float64
    finally:
        dg.set_default_dtype(dg.float32)
    with pytest.raises(TypeError, match="floating"):
        dg.set_default_dtype(dg.int64)


def test_in_place_results_must_cast_to_the_destination():
    x = dg.ones(2, dtype=dg.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        x.add_(1.5)
    y = dg.ones(2)
    y.add_(dg.ones(2, dtype=dg.float64))  # double into float is allowed
    assert y.dtype is dg.float32 and y.tolist() == [2.0, 2.0]
