"""Printing as PyTorch 2.13 prints: `repr`/`str` of tensors under every print option, and the reprs
of `Size`, dtypes and devices.

Every expected string below was produced by PyTorch 2.13 (CPU) from the same values: each case
builds its tensor from explicit numbers (literals or fixed NumPy arrays, never random draws), so
both libraries hold identical data. PyTorch itself is not imported here: CI does not install it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dualgraph as dg


def _case(case_id: str, *values: object) -> object:
    return pytest.param(*values, id=case_id)


@pytest.fixture(autouse=True)
def _restore_printing_defaults():
    """Print options and the default dtype are global: every test starts and ends with PyTorch's
    defaults, even when it fails."""
    dg.set_printoptions(profile="default")
    dg.set_default_dtype(dg.float32)
    yield
    dg.set_printoptions(profile="default")
    dg.set_default_dtype(dg.float32)


def _printed(t: dg.Tensor) -> str:
    """`repr(t)`, checking that `str` agrees and that printing raises no warning (a NumPy overflow
    warning would become an error under `-W error`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = repr(t)
        assert str(t) == text
    return text


# ------------------------------------------------------------------------ default print options

CASES = [
    # zero-dim
    _case("scalar_float", lambda: dg.tensor(3.5),
          "tensor(3.5000)"),
    _case("scalar_float_integral", lambda: dg.tensor(2.),
          "tensor(2.)"),
    _case("scalar_float_negative", lambda: dg.tensor(-0.125),
          "tensor(-0.1250)"),
    _case("scalar_float_small", lambda: dg.tensor(1e-5),
          "tensor(1.0000e-05)"),
    _case("scalar_float_large", lambda: dg.tensor(123456789.),
          "tensor(1.2346e+08)"),
    _case("scalar_nan", lambda: dg.tensor(float('nan')),
          "tensor(nan)"),
    _case("scalar_neg_inf", lambda: dg.tensor(float('-inf')),
          "tensor(-inf)"),
    _case("scalar_int", lambda: dg.tensor(7),
          "tensor(7)"),
    _case("scalar_int_negative", lambda: dg.tensor(-42),
          "tensor(-42)"),
    _case("scalar_bool", lambda: dg.tensor(True),
          "tensor(True)"),
    _case("scalar_int32", lambda: dg.tensor(5, dtype=dg.int32),
          "tensor(5, dtype=torch.int32)"),
    _case("scalar_float64", lambda: dg.tensor(0.1, dtype=dg.float64),
          "tensor(0.1000, dtype=torch.float64)"),
    # 1-D floats
    _case("four_decimals",
          lambda: dg.tensor(np.array([0.1, 0.25, 1.33333, 2.0], dtype=np.float32)),
          "tensor([0.1000, 0.2500, 1.3333, 2.0000])"),
    _case("rounding_float32",
          lambda: dg.tensor(np.array([0.00015, 0.99995, 1.23456], dtype=np.float32)),
          "tensor([1.5000e-04, 9.9995e-01, 1.2346e+00])"),
    _case("integral_floats", lambda: dg.tensor([1., 2.]),
          "tensor([1., 2.])"),
    _case("integral_floats_wide", lambda: dg.tensor([-1., 10., 100., 999.]),
          "tensor([ -1.,  10., 100., 999.])"),
    _case("integral_floats_ratio_sci", lambda: dg.tensor([1., 1001.]),
          "tensor([1.0000e+00, 1.0010e+03])"),
    _case("integral_floats_over_1e8", lambda: dg.tensor([1e9, 2e9]),
          "tensor([1.0000e+09, 2.0000e+09])"),
    _case("integral_floats_at_1e8", lambda: dg.tensor([1e8, 1e6]),
          "tensor([100000000.,   1000000.])"),
    _case("sci_small_and_one", lambda: dg.tensor([1e-5, 1.0]),
          "tensor([1.0000e-05, 1.0000e+00])"),
    _case("sci_large", lambda: dg.tensor([1e10]),
          "tensor([1.0000e+10])"),
    _case("sci_large_fraction", lambda: dg.tensor([1.5e10, 2.25]),
          "tensor([1.5000e+10, 2.2500e+00])"),
    _case("sci_ratio_over_1000", lambda: dg.tensor(np.array([0.5, 600.5], dtype=np.float32)),
          "tensor([5.0000e-01, 6.0050e+02])"),
    _case("sci_negative", lambda: dg.tensor(np.array([-1.5e-7, 2.5, -300.], dtype=np.float32)),
          "tensor([-1.5000e-07,  2.5000e+00, -3.0000e+02])"),
    _case("negative_alignment",
          lambda: dg.tensor(np.array([-1.5, 2.25, -30.125, 4.0], dtype=np.float32)),
          "tensor([ -1.5000,   2.2500, -30.1250,   4.0000])"),
    _case("nan_inf_with_finite",
          lambda: dg.tensor([float('nan'), 1.5, float('inf'), -float('inf')]),
          "tensor([   nan, 1.5000,    inf,   -inf])"),
    _case("nan_inf_integral", lambda: dg.tensor([float('nan'), 1., -float('inf'), 20.]),
          "tensor([nan,  1., -inf, 20.])"),
    _case("nan_inf_sci", lambda: dg.tensor([float('nan'), 1e-6, float('inf'), 3.0]),
          "tensor([       nan, 1.0000e-06,        inf, 3.0000e+00])"),
    _case("all_nan", lambda: dg.tensor([float('nan'), float('nan')]),
          "tensor([nan, nan])"),
    _case("all_inf", lambda: dg.tensor([float('inf'), -float('inf')]),
          "tensor([inf, -inf])"),
    _case("all_zero", lambda: dg.zeros(3),
          "tensor([0., 0., 0.])"),
    _case("zeros_signed", lambda: dg.tensor([0., -0., 0.]),
          "tensor([0., -0., 0.])"),
    _case("zero_and_fraction", lambda: dg.tensor([0., 0.5, -0.]),
          "tensor([0.0000, 0.5000, -0.0000])"),
    _case("zero_and_small", lambda: dg.tensor([0., 1e-5]),
          "tensor([0.0000e+00, 1.0000e-05])"),
    _case("float64_extremes", lambda: dg.tensor([1e300, -1e-300, 0.5], dtype=dg.float64),
          "tensor([ 1.0000e+300, -1.0000e-300,   5.0000e-01], dtype=torch.float64)"),
    _case("float32_max_and_tiny",
          lambda: dg.tensor(np.array([3.4028235e38, 1e-45, -1.0], dtype=np.float32)),
          "tensor([ 3.4028e+38,  1.4013e-45, -1.0000e+00])"),
    _case("rounds_up_to_one", lambda: dg.tensor(np.array([0.99999, 0.5], dtype=np.float32)),
          "tensor([1.0000, 0.5000])"),
    _case("negative_zero_fraction", lambda: dg.tensor([-0., 0.25]),
          "tensor([-0.0000, 0.2500])"),
    _case("integral_nan_negative_alignment", lambda: dg.tensor([[float('nan'), -100.], [3., 4.]]),
          "tensor([[  nan, -100.],\n"
          "        [   3.,    4.]])"),
    _case("zero_excluded_from_ratio", lambda: dg.tensor([0., 1e3, 1.5]),
          "tensor([   0.0000, 1000.0000,    1.5000])"),
    _case("boundary_ratio_1000", lambda: dg.tensor([1.5, 1500.]),
          "tensor([   1.5000, 1500.0000])"),
    _case("boundary_min_1e-4", lambda: dg.tensor(np.array([1e-4, 0.5], dtype=np.float64)),
          "tensor([1.0000e-04, 5.0000e-01], dtype=torch.float64)"),
    # integer and bool dtypes
    _case("int64", lambda: dg.tensor([1, -20, 300]),
          "tensor([  1, -20, 300])"),
    _case("int64_large", lambda: dg.tensor([2**40, -7]),
          "tensor([1099511627776,            -7])"),
    _case("int32", lambda: dg.tensor([1, -20, 300], dtype=dg.int32),
          "tensor([  1, -20, 300], dtype=torch.int32)"),
    _case("uint8", lambda: dg.tensor(np.array([0, 7, 255], dtype=np.uint8)),
          "tensor([  0,   7, 255], dtype=torch.uint8)"),
    _case("int8", lambda: dg.tensor(np.array([-128, 0, 127], dtype=np.int8)),
          "tensor([-128,    0,  127], dtype=torch.int8)"),
    _case("int16", lambda: dg.tensor(np.array([-300, 12, 32000], dtype=np.int16)),
          "tensor([ -300,    12, 32000], dtype=torch.int16)"),
    _case("int64_from_numpy", lambda: dg.tensor(np.array([3, 1, 4], dtype=np.int64)),
          "tensor([3, 1, 4])"),
    _case("bool", lambda: dg.tensor([True, False, True]),
          "tensor([ True, False,  True])"),
    _case("bool_2d", lambda: dg.tensor([[True, False], [False, True]]),
          "tensor([[ True, False],\n"
          "        [False,  True]])"),
    # float dtypes
    _case("float64", lambda: dg.tensor(np.array([0.1, 2.5, -3.0])),
          "tensor([ 0.1000,  2.5000, -3.0000], dtype=torch.float64)"),
    _case("float64_integral", lambda: dg.tensor([1., 2.], dtype=dg.float64),
          "tensor([1., 2.], dtype=torch.float64)"),
    _case("float16", lambda: dg.tensor(np.array([0.1, 2.5, -3.0], dtype=np.float16)),
          "tensor([ 0.1000,  2.5000, -3.0000], dtype=torch.float16)"),
    _case("float16_integral", lambda: dg.tensor([1., 2.], dtype=dg.float16),
          "tensor([1., 2.], dtype=torch.float16)"),
    _case("float16_max", lambda: dg.tensor([65504., 1.], dtype=dg.float16),
          "tensor([6.5504e+04, 1.0000e+00], dtype=torch.float16)"),
    # more dims
    _case("matrix_2d", lambda: dg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 4),
          "tensor([[0.0000, 0.2500, 0.5000],\n"
          "        [0.7500, 1.0000, 1.2500]])"),
    _case("matrix_2d_int", lambda: dg.tensor(np.array([[1, -2, 3], [40, 5, -600]])),
          "tensor([[   1,   -2,    3],\n"
          "        [  40,    5, -600]])"),
    _case("matrix_2d_one_row", lambda: dg.tensor([[1.5, 2.5, 3.5]]),
          "tensor([[1.5000, 2.5000, 3.5000]])"),
    _case("matrix_2d_one_col", lambda: dg.tensor([[1.5], [2.5], [-3.5]]),
          "tensor([[ 1.5000],\n"
          "        [ 2.5000],\n"
          "        [-3.5000]])"),
    _case("tensor_3d", lambda: dg.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10.5),
          "tensor([[[-10.5000,  -9.5000,  -8.5000,  -7.5000],\n"
          "         [ -6.5000,  -5.5000,  -4.5000,  -3.5000],\n"
          "         [ -2.5000,  -1.5000,  -0.5000,   0.5000]],\n"
          "\n"
          "        [[  1.5000,   2.5000,   3.5000,   4.5000],\n"
          "         [  5.5000,   6.5000,   7.5000,   8.5000],\n"
          "         [  9.5000,  10.5000,  11.5000,  12.5000]]])"),
    _case("tensor_4d", lambda: dg.tensor(np.arange(16, dtype=np.int64).reshape(2, 2, 2, 2)),
          "tensor([[[[ 0,  1],\n"
          "          [ 2,  3]],\n"
          "\n"
          "         [[ 4,  5],\n"
          "          [ 6,  7]]],\n"
          "\n"
          "\n"
          "        [[[ 8,  9],\n"
          "          [10, 11]],\n"
          "\n"
          "         [[12, 13],\n"
          "          [14, 15]]]])"),
    _case("tensor_4d_float",
          lambda: dg.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) * 0.5),
          "tensor([[[[ 0.0000,  0.5000],\n"
          "          [ 1.0000,  1.5000]],\n"
          "\n"
          "         [[ 2.0000,  2.5000],\n"
          "          [ 3.0000,  3.5000]],\n"
          "\n"
          "         [[ 4.0000,  4.5000],\n"
          "          [ 5.0000,  5.5000]]],\n"
          "\n"
          "\n"
          "        [[[ 6.0000,  6.5000],\n"
          "          [ 7.0000,  7.5000]],\n"
          "\n"
          "         [[ 8.0000,  8.5000],\n"
          "          [ 9.0000,  9.5000]],\n"
          "\n"
          "         [[10.0000, 10.5000],\n"
          "          [11.0000, 11.5000]]]])"),
    _case("size_one_dims", lambda: dg.tensor(np.array([[[7.25]]], dtype=np.float32)),
          "tensor([[[7.2500]]])"),
    # wrapping at 80 columns
    _case("wide_rows_wrap", lambda: dg.tensor(np.arange(90, dtype=np.float32).reshape(3, 30) / 7),
          "tensor([[ 0.0000,  0.1429,  0.2857,  0.4286,  0.5714,  0.7143,  0.8571,  1.0000,"
          "\n"
          "          1.1429,  1.2857,  1.4286,  1.5714,  1.7143,  1.8571,  2.0000,  2.1429,"
          "\n"
          "          2.2857,  2.4286,  2.5714,  2.7143,  2.8571,  3.0000,  3.1429,  3.2857,"
          "\n"
          "          3.4286,  3.5714,  3.7143,  3.8571,  4.0000,  4.1429],\n"
          "        [ 4.2857,  4.4286,  4.5714,  4.7143,  4.8571,  5.0000,  5.1429,  5.2857,"
          "\n"
          "          5.4286,  5.5714,  5.7143,  5.8571,  6.0000,  6.1429,  6.2857,  6.4286,"
          "\n"
          "          6.5714,  6.7143,  6.8571,  7.0000,  7.1429,  7.2857,  7.4286,  7.5714,"
          "\n"
          "          7.7143,  7.8571,  8.0000,  8.1429,  8.2857,  8.4286],\n"
          "        [ 8.5714,  8.7143,  8.8571,  9.0000,  9.1429,  9.2857,  9.4286,  9.5714,"
          "\n"
          "          9.7143,  9.8571, 10.0000, 10.1429, 10.2857, 10.4286, 10.5714, 10.7143,"
          "\n"
          "         10.8571, 11.0000, 11.1429, 11.2857, 11.4286, 11.5714, 11.7143, 11.8571,"
          "\n"
          "         12.0000, 12.1429, 12.2857, 12.4286, 12.5714, 12.7143]])"),
    _case("wide_vector_wrap", lambda: dg.tensor(np.arange(40, dtype=np.float32) * 1.5),
          "tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n"
          "        12.0000, 13.5000, 15.0000, 16.5000, 18.0000, 19.5000, 21.0000, 22.5000,\n"
          "        24.0000, 25.5000, 27.0000, 28.5000, 30.0000, 31.5000, 33.0000, 34.5000,\n"
          "        36.0000, 37.5000, 39.0000, 40.5000, 42.0000, 43.5000, 45.0000, 46.5000,\n"
          "        48.0000, 49.5000, 51.0000, 52.5000, 54.0000, 55.5000, 57.0000, 58.5000])"),
    _case("wide_int_vector_wrap", lambda: dg.tensor(np.arange(100, 160)),
          "tensor([100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113,\n"
          "        114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,\n"
          "        128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141,\n"
          "        142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155,\n"
          "        156, 157, 158, 159])"),
    _case("wide_3d_wrap", lambda: dg.tensor(np.arange(60, dtype=np.float32).reshape(2, 2, 15) / 3),
          "tensor([[[ 0.0000,  0.3333,  0.6667,  1.0000,  1.3333,  1.6667,  2.0000,\n"
          "           2.3333,  2.6667,  3.0000,  3.3333,  3.6667,  4.0000,  4.3333,\n"
          "           4.6667],\n"
          "         [ 5.0000,  5.3333,  5.6667,  6.0000,  6.3333,  6.6667,  7.0000,\n"
          "           7.3333,  7.6667,  8.0000,  8.3333,  8.6667,  9.0000,  9.3333,\n"
          "           9.6667]],\n"
          "\n"
          "        [[10.0000, 10.3333, 10.6667, 11.0000, 11.3333, 11.6667, 12.0000,\n"
          "          12.3333, 12.6667, 13.0000, 13.3333, 13.6667, 14.0000, 14.3333,\n"
          "          14.6667],\n"
          "         [15.0000, 15.3333, 15.6667, 16.0000, 16.3333, 16.6667, 17.0000,\n"
          "          17.3333, 17.6667, 18.0000, 18.3333, 18.6667, 19.0000, 19.3333,\n"
          "          19.6667]]])"),
    _case("wrap_with_suffix", lambda: dg.tensor(np.arange(12, dtype=np.float64) / 3),
          "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
          "        3.0000, 3.3333, 3.6667], dtype=torch.float64)"),
    # summarized (more than 1000 elements)
    _case("arange_2000", lambda: dg.arange(2000.),
          "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
          "        1.9990e+03])"),
    _case("arange_1001_int", lambda: dg.arange(1001),
          "tensor([   0,    1,    2,  ...,  998,  999, 1000])"),
    _case("arange_1000_not_summarized_int", lambda: dg.arange(1000).reshape(10, 100)[:2],
          "tensor([[  0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,\n"
          "          14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,\n"
          "          28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,\n"
          "          42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  52,  53,  54,  55,\n"
          "          56,  57,  58,  59,  60,  61,  62,  63,  64,  65,  66,  67,  68,  69,\n"
          "          70,  71,  72,  73,  74,  75,  76,  77,  78,  79,  80,  81,  82,  83,\n"
          "          84,  85,  86,  87,  88,  89,  90,  91,  92,  93,  94,  95,  96,  97,\n"
          "          98,  99],\n"
          "        [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113,\n"
          "         114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,\n"
          "         128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141,\n"
          "         142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155,\n"
          "         156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169,\n"
          "         170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183,\n"
          "         184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197,\n"
          "         198, 199]])"),
    _case("matrix_50x50", lambda: dg.tensor(np.arange(2500, dtype=np.float32).reshape(50, 50) / 8),
          "tensor([[0.0000e+00, 1.2500e-01, 2.5000e-01,  ..., 5.8750e+00, 6.0000e+00,\n"
          "         6.1250e+00],\n"
          "        [6.2500e+00, 6.3750e+00, 6.5000e+00,  ..., 1.2125e+01, 1.2250e+01,\n"
          "         1.2375e+01],\n"
          "        [1.2500e+01, 1.2625e+01, 1.2750e+01,  ..., 1.8375e+01, 1.8500e+01,\n"
          "         1.8625e+01],\n"
          "        ...,\n"
          "        [2.9375e+02, 2.9388e+02, 2.9400e+02,  ..., 2.9962e+02, 2.9975e+02,\n"
          "         2.9988e+02],\n"
          "        [3.0000e+02, 3.0012e+02, 3.0025e+02,  ..., 3.0588e+02, 3.0600e+02,\n"
          "         3.0612e+02],\n"
          "        [3.0625e+02, 3.0638e+02, 3.0650e+02,  ..., 3.1212e+02, 3.1225e+02,\n"
          "         3.1238e+02]])"),
    _case("matrix_3x400", lambda: dg.tensor(np.arange(1200, dtype=np.float32).reshape(3, 400) / 3),
          "tensor([[0.0000e+00, 3.3333e-01, 6.6667e-01,  ..., 1.3233e+02, 1.3267e+02,\n"
          "         1.3300e+02],\n"
          "        [1.3333e+02, 1.3367e+02, 1.3400e+02,  ..., 2.6567e+02, 2.6600e+02,\n"
          "         2.6633e+02],\n"
          "        [2.6667e+02, 2.6700e+02, 2.6733e+02,  ..., 3.9900e+02, 3.9933e+02,\n"
          "         3.9967e+02]])"),
    _case("matrix_400x3", lambda: dg.tensor(np.arange(1200, dtype=np.int64).reshape(400, 3)),
          "tensor([[   0,    1,    2],\n"
          "        [   3,    4,    5],\n"
          "        [   6,    7,    8],\n"
          "        ...,\n"
          "        [1191, 1192, 1193],\n"
          "        [1194, 1195, 1196],\n"
          "        [1197, 1198, 1199]])"),
    _case("tensor_3d_summarized",
          lambda: dg.tensor(np.arange(2000, dtype=np.float32).reshape(10, 10, 20) - 999.),
          "tensor([[[-999., -998., -997.,  ..., -982., -981., -980.],\n"
          "         [-979., -978., -977.,  ..., -962., -961., -960.],\n"
          "         [-959., -958., -957.,  ..., -942., -941., -940.],\n"
          "         ...,\n"
          "         [-859., -858., -857.,  ..., -842., -841., -840.],\n"
          "         [-839., -838., -837.,  ..., -822., -821., -820.],\n"
          "         [-819., -818., -817.,  ..., -802., -801., -800.]],\n"
          "\n"
          "        [[-799., -798., -797.,  ..., -782., -781., -780.],\n"
          "         [-779., -778., -777.,  ..., -762., -761., -760.],\n"
          "         [-759., -758., -757.,  ..., -742., -741., -740.],\n"
          "         ...,\n"
          "         [-659., -658., -657.,  ..., -642., -641., -640.],\n"
          "         [-639., -638., -637.,  ..., -622., -621., -620.],\n"
          "         [-619., -618., -617.,  ..., -602., -601., -600.]],\n"
          "\n"
          "        [[-599., -598., -597.,  ..., -582., -581., -580.],\n"
          "         [-579., -578., -577.,  ..., -562., -561., -560.],\n"
          "         [-559., -558., -557.,  ..., -542., -541., -540.],\n"
          "         ...,\n"
          "         [-459., -458., -457.,  ..., -442., -441., -440.],\n"
          "         [-439., -438., -437.,  ..., -422., -421., -420.],\n"
          "         [-419., -418., -417.,  ..., -402., -401., -400.]],\n"
          "\n"
          "        ...,\n"
          "\n"
          "        [[ 401.,  402.,  403.,  ...,  418.,  419.,  420.],\n"
          "         [ 421.,  422.,  423.,  ...,  438.,  439.,  440.],\n"
          "         [ 441.,  442.,  443.,  ...,  458.,  459.,  460.],\n"
          "         ...,\n"
          "         [ 541.,  542.,  543.,  ...,  558.,  559.,  560.],\n"
          "         [ 561.,  562.,  563.,  ...,  578.,  579.,  580.],\n"
          "         [ 581.,  582.,  583.,  ...,  598.,  599.,  600.]],\n"
          "\n"
          "        [[ 601.,  602.,  603.,  ...,  618.,  619.,  620.],\n"
          "         [ 621.,  622.,  623.,  ...,  638.,  639.,  640.],\n"
          "         [ 641.,  642.,  643.,  ...,  658.,  659.,  660.],\n"
          "         ...,\n"
          "         [ 741.,  742.,  743.,  ...,  758.,  759.,  760.],\n"
          "         [ 761.,  762.,  763.,  ...,  778.,  779.,  780.],\n"
          "         [ 781.,  782.,  783.,  ...,  798.,  799.,  800.]],\n"
          "\n"
          "        [[ 801.,  802.,  803.,  ...,  818.,  819.,  820.],\n"
          "         [ 821.,  822.,  823.,  ...,  838.,  839.,  840.],\n"
          "         [ 841.,  842.,  843.,  ...,  858.,  859.,  860.],\n"
          "         ...,\n"
          "         [ 941.,  942.,  943.,  ...,  958.,  959.,  960.],\n"
          "         [ 961.,  962.,  963.,  ...,  978.,  979.,  980.],\n"
          "         [ 981.,  982.,  983.,  ...,  998.,  999., 1000.]]])"),
    _case("summarized_format_from_edges",
          # the format is chosen from the edges shown, not from the 1e-7s hidden by `...`
          lambda: dg.tensor(np.concatenate([np.ones(3), np.full(1000, 1e-7), np.ones(3)])
                            .astype(np.float32)),
          "tensor([1., 1., 1.,  ..., 1., 1., 1.])"),
    _case("summarized_float64", lambda: dg.tensor(np.linspace(0., 1., 1500)),
          "tensor([0.0000e+00, 6.6711e-04, 1.3342e-03,  ..., 9.9867e-01, 9.9933e-01,\n"
          "        1.0000e+00], dtype=torch.float64)"),
    # empty
    _case("empty", lambda: dg.tensor([]),
          "tensor([])"),
    _case("empty_0x3", lambda: dg.zeros((0, 3)),
          "tensor([], size=(0, 3))"),
    _case("empty_2x0x3", lambda: dg.zeros((2, 0, 3)),
          "tensor([], size=(2, 0, 3))"),
    _case("empty_int64", lambda: dg.tensor([], dtype=dg.int64),
          "tensor([], dtype=torch.int64)"),
    _case("empty_int64_2d", lambda: dg.zeros((3, 0), dtype=dg.int64),
          "tensor([], size=(3, 0), dtype=torch.int64)"),
    _case("empty_bool", lambda: dg.tensor([], dtype=dg.bool),
          "tensor([], dtype=torch.bool)"),
    _case("empty_float64", lambda: dg.tensor([], dtype=dg.float64),
          "tensor([], dtype=torch.float64)"),
    _case("empty_requires_grad", lambda: dg.zeros((0, 3), requires_grad=True),
          "tensor([], size=(0, 3), requires_grad=True)"),
    # autograd suffixes
    _case("requires_grad_leaf", lambda: dg.tensor([1., 2.], requires_grad=True),
          "tensor([1., 2.], requires_grad=True)"),
    _case("requires_grad_scalar", lambda: dg.tensor(1.5, requires_grad=True),
          "tensor(1.5000, requires_grad=True)"),
    _case("empty_1x0", lambda: dg.zeros((1, 0)),
          "tensor([], size=(1, 0))"),
    _case("empty_scalar_shape_0", lambda: dg.zeros(0),
          "tensor([])"),
    _case("requires_grad_float64",
          lambda: dg.tensor([1., 2.5], dtype=dg.float64, requires_grad=True),
          "tensor([1.0000, 2.5000], dtype=torch.float64, requires_grad=True)"),
    _case("grad_fn_mul", lambda: dg.tensor([1., 2.], requires_grad=True) * 2,
          "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    _case("grad_fn_add", lambda: dg.tensor([[1., 2.], [3., 4.]], requires_grad=True) + 1,
          "tensor([[2., 3.],\n"
          "        [4., 5.]], grad_fn=<AddBackward0>)"),
    _case("grad_fn_sum", lambda: dg.tensor([1.5, 2.], requires_grad=True).sum(),
          "tensor(3.5000, grad_fn=<SumBackward0>)"),
    _case("grad_fn_mean", lambda: dg.ones(3, 4, requires_grad=True).mean(),
          "tensor(1., grad_fn=<MeanBackward0>)"),
    _case("grad_fn_float64_suffix_order",
          lambda: dg.tensor([1., 2.5], dtype=dg.float64, requires_grad=True) * 3,
          "tensor([3.0000, 7.5000], dtype=torch.float64, grad_fn=<MulBackward0>)"),
    _case("grad_fn_suffix_wraps",
          lambda: dg.tensor(np.arange(12, dtype=np.float64) / 3, requires_grad=True) * 1,
          "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
          "        3.0000, 3.3333, 3.6667], dtype=torch.float64, grad_fn=<MulBackward0>)"),
    _case("transposed", lambda: dg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 2).t(),
          "tensor([[0.0000, 1.5000],\n"
          "        [0.5000, 2.0000],\n"
          "        [1.0000, 2.5000]])"),
    _case("strided_slice", lambda: dg.tensor(np.arange(10, dtype=np.float32) / 4)[::3],
          "tensor([0.0000, 0.7500, 1.5000, 2.2500])"),
    _case("row_of_matrix", lambda: dg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 2)[1],
          "tensor([1.5000, 2.0000, 2.5000])"),
    _case("element_of_matrix",
          lambda: dg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 2)[1, 2],
          "tensor(2.5000)"),
    _case("legacy_Tensor", lambda: dg.Tensor([[1, 2]]),
          "tensor([[1., 2.]])"),
    _case("uint8_2d", lambda: dg.tensor(np.array([[0, 9], [200, 17]], dtype=np.uint8)),
          "tensor([[  0,   9],\n"
          "        [200,  17]], dtype=torch.uint8)"),
    _case("bool_summarized", lambda: dg.tensor(np.arange(1500) % 3 == 0),
          "tensor([ True, False, False,  ...,  True, False, False])"),
    _case("float16_summarized", lambda: dg.tensor(np.arange(1500, dtype=np.float16)),
          "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.4970e+03, 1.4980e+03,\n"
          "        1.4990e+03], dtype=torch.float16)"),
    _case("int32_summarized", lambda: dg.tensor(np.arange(2000, dtype=np.int32).reshape(40, 50)),
          "tensor([[   0,    1,    2,  ...,   47,   48,   49],\n"
          "        [  50,   51,   52,  ...,   97,   98,   99],\n"
          "        [ 100,  101,  102,  ...,  147,  148,  149],\n"
          "        ...,\n"
          "        [1850, 1851, 1852,  ..., 1897, 1898, 1899],\n"
          "        [1900, 1901, 1902,  ..., 1947, 1948, 1949],\n"
          "        [1950, 1951, 1952,  ..., 1997, 1998, 1999]], dtype=torch.int32)"),
    _case("detached", lambda: (dg.tensor([1., 2.], requires_grad=True) * 2).detach(),
          "tensor([2., 4.])"),
]


@pytest.mark.parametrize("make,expected", CASES)
def test_repr_matches_pytorch(make, expected):
    assert _printed(make()) == expected


# -------------------------------------------------------------------------------- print options

OPTION_CASES = [
    # (options given to set_printoptions, tensor, PyTorch's repr under those options)
    _case("precision_2", {"precision": 2},
          lambda: dg.tensor(np.array([0.1, 0.25, 1.33333, 2.0], dtype=np.float32)),
          "tensor([0.10, 0.25, 1.33, 2.00])"),
    _case("precision_2_sci", {"precision": 2}, lambda: dg.tensor([1e-5, 1.0]),
          "tensor([1.00e-05, 1.00e+00])"),
    _case("precision_0", {"precision": 0}, lambda: dg.tensor([0.4, 1.6, 2.5]),
          "tensor([0, 2, 2])"),
    _case("precision_8_float64", {"precision": 8}, lambda: dg.tensor([1/3, 2/3], dtype=dg.float64),
          "tensor([0.33333333, 0.66666667], dtype=torch.float64)"),
    _case("sci_mode_false", {"sci_mode": False}, lambda: dg.tensor([1e-5, 1.0]),
          "tensor([0.0000, 1.0000])"),
    _case("sci_mode_false_large", {"sci_mode": False}, lambda: dg.tensor([1e10, 2.5]),
          "tensor([10000000000.0000,           2.5000])"),
    _case("sci_mode_false_plain", {"sci_mode": False}, lambda: dg.tensor([1.5, 2.25]),
          "tensor([1.5000, 2.2500])"),
    _case("sci_mode_false_integral", {"sci_mode": False}, lambda: dg.tensor([1., 2e9]),
          "tensor([         1., 2000000000.])"),
    _case("sci_mode_true_int64_ignored", {"sci_mode": True}, lambda: dg.tensor([1, 20]),
          "tensor([ 1, 20])"),
    _case("precision_10_float64", {"precision": 10},
          lambda: dg.tensor([1/3, 2.], dtype=dg.float64),
          "tensor([0.3333333333, 2.0000000000], dtype=torch.float64)"),
    _case("precision_2_integral", {"precision": 2}, lambda: dg.tensor([1., 2.]),
          "tensor([1., 2.])"),
    _case("sci_mode_true", {"sci_mode": True}, lambda: dg.tensor([1.5, 2.25]),
          "tensor([1.5000e+00, 2.2500e+00])"),
    _case("sci_mode_true_integral", {"sci_mode": True}, lambda: dg.tensor([1., 20.]),
          "tensor([1.0000e+00, 2.0000e+01])"),
    _case("sci_mode_true_nan", {"sci_mode": True}, lambda: dg.tensor([float('nan'), 20.5]),
          "tensor([       nan, 2.0500e+01])"),
    _case("profile_full_1001", {"profile": 'full'}, lambda: dg.arange(1001),
          "tensor([   0,    1,    2,    3,    4,    5,    6,    7,    8,    9,   10,   11,\n"
          "          12,   13,   14,   15,   16,   17,   18,   19,   20,   21,   22,   23,\n"
          "          24,   25,   26,   27,   28,   29,   30,   31,   32,   33,   34,   35,\n"
          "          36,   37,   38,   39,   40,   41,   42,   43,   44,   45,   46,   47,\n"
          "          48,   49,   50,   51,   52,   53,   54,   55,   56,   57,   58,   59,\n"
          "          60,   61,   62,   63,   64,   65,   66,   67,   68,   69,   70,   71,\n"
          "          72,   73,   74,   75,   76,   77,   78,   79,   80,   81,   82,   83,\n"
          "          84,   85,   86,   87,   88,   89,   90,   91,   92,   93,   94,   95,\n"
          "          96,   97,   98,   99,  100,  101,  102,  103,  104,  105,  106,  107,\n"
          "         108,  109,  110,  111,  112,  113,  114,  115,  116,  117,  118,  119,\n"
          "         120,  121,  122,  123,  124,  125,  126,  127,  128,  129,  130,  131,\n"
          "         132,  133,  134,  135,  136,  137,  138,  139,  140,  141,  142,  143,\n"
          "         144,  145,  146,  147,  148,  149,  150,  151,  152,  153,  154,  155,\n"
          "         156,  157,  158,  159,  160,  161,  162,  163,  164,  165,  166,  167,\n"
          "         168,  169,  170,  171,  172,  173,  174,  175,  176,  177,  178,  179,\n"
          "         180,  181,  182,  183,  184,  185,  186,  187,  188,  189,  190,  191,\n"
          "         192,  193,  194,  195,  196,  197,  198,  199,  200,  201,  202,  203,\n"
          "         204,  205,  206,  207,  208,  209,  210,  211,  212,  213,  214,  215,\n"
          "         216,  217,  218,  219,  220,  221,  222,  223,  224,  225,  226,  227,\n"
          "         228,  229,  230,  231,  232,  233,  234,  235,  236,  237,  238,  239,\n"
          "         240,  241,  242,  243,  244,  245,  246,  247,  248,  249,  250,  251,\n"
          "         252,  253,  254,  255,  256,  257,  258,  259,  260,  261,  262,  263,\n"
          "         264,  265,  266,  267,  268,  269,  270,  271,  272,  273,  274,  275,\n"
          "         276,  277,  278,  279,  280,  281,  282,  283,  284,  285,  286,  287,\n"
          "         288,  289,  290,  291,  292,  293,  294,  295,  296,  297,  298,  299,\n"
          "         300,  301,  302,  303,  304,  305,  306,  307,  308,  309,  310,  311,\n"
          "         312,  313,  314,  315,  316,  317,  318,  319,  320,  321,  322,  323,\n"
          "         324,  325,  326,  327,  328,  329,  330,  331,  332,  333,  334,  335,\n"
          "         336,  337,  338,  339,  340,  341,  342,  343,  344,  345,  346,  347,\n"
          "         348,  349,  350,  351,  352,  353,  354,  355,  356,  357,  358,  359,\n"
          "         360,  361,  362,  363,  364,  365,  366,  367,  368,  369,  370,  371,\n"
          "         372,  373,  374,  375,  376,  377,  378,  379,  380,  381,  382,  383,\n"
          "         384,  385,  386,  387,  388,  389,  390,  391,  392,  393,  394,  395,\n"
          "         396,  397,  398,  399,  400,  401,  402,  403,  404,  405,  406,  407,\n"
          "         408,  409,  410,  411,  412,  413,  414,  415,  416,  417,  418,  419,\n"
          "         420,  421,  422,  423,  424,  425,  426,  427,  428,  429,  430,  431,\n"
          "         432,  433,  434,  435,  436,  437,  438,  439,  440,  441,  442,  443,\n"
          "         444,  445,  446,  447,  448,  449,  450,  451,  452,  453,  454,  455,\n"
          "         456,  457,  458,  459,  460,  461,  462,  463,  464,  465,  466,  467,\n"
          "         468,  469,  470,  471,  472,  473,  474,  475,  476,  477,  478,  479,\n"
          "         480,  481,  482,  483,  484,  485,  486,  487,  488,  489,  490,  491,\n"
          "         492,  493,  494,  495,  496,  497,  498,  499,  500,  501,  502,  503,\n"
          "         504,  505,  506,  507,  508,  509,  510,  511,  512,  513,  514,  515,\n"
          "         516,  517,  518,  519,  520,  521,  522,  523,  524,  525,  526,  527,\n"
          "         528,  529,  530,  531,  532,  533,  534,  535,  536,  537,  538,  539,\n"
          "         540,  541,  542,  543,  544,  545,  546,  547,  548,  549,  550,  551,\n"
          "         552,  553,  554,  555,  556,  557,  558,  559,  560,  561,  562,  563,\n"
          "         564,  565,  566,  567,  568,  569,  570,  571,  572,  573,  574,  575,\n"
          "         576,  577,  578,  579,  580,  581,  582,  583,  584,  585,  586,  587,\n"
          "         588,  589,  590,  591,  592,  593,  594,  595,  596,  597,  598,  599,\n"
          "         600,  601,  602,  603,  604,  605,  606,  607,  608,  609,  610,  611,\n"
          "         612,  613,  614,  615,  616,  617,  618,  619,  620,  621,  622,  623,\n"
          "         624,  625,  626,  627,  628,  629,  630,  631,  632,  633,  634,  635,\n"
          "         636,  637,  638,  639,  640,  641,  642,  643,  644,  645,  646,  647,\n"
          "         648,  649,  650,  651,  652,  653,  654,  655,  656,  657,  658,  659,\n"
          "         660,  661,  662,  663,  664,  665,  666,  667,  668,  669,  670,  671,\n"
          "         672,  673,  674,  675,  676,  677,  678,  679,  680,  681,  682,  683,\n"
          "         684,  685,  686,  687,  688,  689,  690,  691,  692,  693,  694,  695,\n"
          "         696,  697,  698,  699,  700,  701,  702,  703,  704,  705,  706,  707,\n"
          "         708,  709,  710,  711,  712,  713,  714,  715,  716,  717,  718,  719,\n"
          "         720,  721,  722,  723,  724,  725,  726,  727,  728,  729,  730,  731,\n"
          "         732,  733,  734,  735,  736,  737,  738,  739,  740,  741,  742,  743,\n"
          "         744,  745,  746,  747,  748,  749,  750,  751,  752,  753,  754,  755,\n"
          "         756,  757,  758,  759,  760,  761,  762,  763,  764,  765,  766,  767,\n"
          "         768,  769,  770,  771,  772,  773,  774,  775,  776,  777,  778,  779,\n"
          "         780,  781,  782,  783,  784,  785,  786,  787,  788,  789,  790,  791,\n"
          "         792,  793,  794,  795,  796,  797,  798,  799,  800,  801,  802,  803,\n"
          "         804,  805,  806,  807,  808,  809,  810,  811,  812,  813,  814,  815,\n"
          "         816,  817,  818,  819,  820,  821,  822,  823,  824,  825,  826,  827,\n"
          "         828,  829,  830,  831,  832,  833,  834,  835,  836,  837,  838,  839,\n"
          "         840,  841,  842,  843,  844,  845,  846,  847,  848,  849,  850,  851,\n"
          "         852,  853,  854,  855,  856,  857,  858,  859,  860,  861,  862,  863,\n"
          "         864,  865,  866,  867,  868,  869,  870,  871,  872,  873,  874,  875,\n"
          "         876,  877,  878,  879,  880,  881,  882,  883,  884,  885,  886,  887,\n"
          "         888,  889,  890,  891,  892,  893,  894,  895,  896,  897,  898,  899,\n"
          "         900,  901,  902,  903,  904,  905,  906,  907,  908,  909,  910,  911,\n"
          "         912,  913,  914,  915,  916,  917,  918,  919,  920,  921,  922,  923,\n"
          "         924,  925,  926,  927,  928,  929,  930,  931,  932,  933,  934,  935,\n"
          "         936,  937,  938,  939,  940,  941,  942,  943,  944,  945,  946,  947,\n"
          "         948,  949,  950,  951,  952,  953,  954,  955,  956,  957,  958,  959,\n"
          "         960,  961,  962,  963,  964,  965,  966,  967,  968,  969,  970,  971,\n"
          "         972,  973,  974,  975,  976,  977,  978,  979,  980,  981,  982,  983,\n"
          "         984,  985,  986,  987,  988,  989,  990,  991,  992,  993,  994,  995,\n"
          "         996,  997,  998,  999, 1000])"),
    _case("sci_mode_true_zeros", {"sci_mode": True}, lambda: dg.tensor([0., -0.]),
          "tensor([0., -0.])"),
    _case("sci_mode_true_all_nan", {"sci_mode": True},
          lambda: dg.tensor([float('nan'), float('inf')]),
          "tensor([nan, inf])"),
    _case("profile_short", {"profile": 'short'},
          lambda: dg.tensor(np.arange(2000, dtype=np.float32) / 3),
          "tensor([0.00e+00, 3.33e-01,  ..., 6.66e+02, 6.66e+02])"),
    _case("profile_short_small", {"profile": 'short'}, lambda: dg.tensor([0.123456, 7.5]),
          "tensor([0.12, 7.50])"),
    _case("profile_default_after_full", {"profile": 'default'}, lambda: dg.arange(2000.),
          "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
          "        1.9990e+03])"),
    _case("threshold_5", {"threshold": 5}, lambda: dg.arange(10.),
          "tensor([0., 1., 2.,  ..., 7., 8., 9.])"),
    _case("threshold_5_matrix", {"threshold": 5}, lambda: dg.tensor(np.arange(48).reshape(8, 6)),
          "tensor([[ 0,  1,  2,  3,  4,  5],\n"
          "        [ 6,  7,  8,  9, 10, 11],\n"
          "        [12, 13, 14, 15, 16, 17],\n"
          "        ...,\n"
          "        [30, 31, 32, 33, 34, 35],\n"
          "        [36, 37, 38, 39, 40, 41],\n"
          "        [42, 43, 44, 45, 46, 47]])"),
    _case("edgeitems_1", {"edgeitems": 1}, lambda: dg.arange(2000),
          "tensor([   0,  ..., 1999])"),
    _case("edgeitems_1_matrix", {"edgeitems": 1},
          lambda: dg.tensor(np.arange(2500, dtype=np.float32).reshape(50, 50)),
          "tensor([[   0.,  ...,   49.],\n"
          "        ...,\n"
          "        [2450.,  ..., 2499.]])"),
    _case("edgeitems_0", {"edgeitems": 0}, lambda: dg.arange(2000),
          "tensor([...], size=(2000,))"),
    _case("edgeitems_0_matrix", {"edgeitems": 0},
          lambda: dg.tensor(np.arange(2500, dtype=np.float32).reshape(50, 50)),
          "tensor([...], size=(50, 50))"),
    _case("edgeitems_0_3d", {"edgeitems": 0},
          lambda: dg.tensor(np.arange(2000, dtype=np.float32).reshape(10, 10, 20)),
          "tensor([...], size=(10, 10, 20))"),
    _case("edgeitems_0_int32", {"edgeitems": 0}, lambda: dg.arange(2000).int(),
          "tensor([...], size=(2000,), dtype=torch.int32)"),
    _case("edgeitems_0_scalar", {"edgeitems": 0}, lambda: dg.tensor(1.5),
          "tensor(1.5000, size=())"),
    _case("edgeitems_0_empty", {"edgeitems": 0}, lambda: dg.zeros((0, 3)),
          "tensor([], size=(0, 3))"),
    _case("edgeitems_0_grad", {"edgeitems": 0}, lambda: dg.arange(2000.).requires_grad_(),
          "tensor([...], size=(2000,), requires_grad=True)"),
    _case("threshold_0", {"threshold": 0}, lambda: dg.tensor([1.5, 2.5]),
          "tensor([1.5000, 2.5000])"),
    _case("threshold_0_long", {"threshold": 0},
          lambda: dg.tensor(np.arange(8, dtype=np.float32) / 2),
          "tensor([0.0000, 0.5000, 1.0000,  ..., 2.5000, 3.0000, 3.5000])"),
    _case("edgeitems_0_small", {"edgeitems": 0}, lambda: dg.tensor([1.5, 2.5]),
          "tensor([1.5000, 2.5000], size=(2,))"),
    _case("linewidth_40", {"linewidth": 40},
          lambda: dg.tensor(np.arange(20, dtype=np.float32) / 3),
          "tensor([0.0000, 0.3333, 0.6667, 1.0000,\n"
          "        1.3333, 1.6667, 2.0000, 2.3333,\n"
          "        2.6667, 3.0000, 3.3333, 3.6667,\n"
          "        4.0000, 4.3333, 4.6667, 5.0000,\n"
          "        5.3333, 5.6667, 6.0000, 6.3333])"),
    _case("linewidth_40_suffix", {"linewidth": 40},
          lambda: dg.tensor(np.arange(6, dtype=np.float32) / 3, requires_grad=True),
          "tensor([0.0000, 0.3333, 0.6667, 1.0000,\n"
          "        1.3333, 1.6667],\n"
          "       requires_grad=True)"),
    _case("linewidth_1", {"linewidth": 1}, lambda: dg.tensor([1, 2, 3]),
          "tensor([1,\n"
          "        2,\n"
          "        3])"),
    _case("linewidth_200", {"linewidth": 200},
          lambda: dg.tensor(np.arange(60, dtype=np.float32) / 3),
          "tensor([ 0.0000,  0.3333,  0.6667,  1.0000,  1.3333,  1.6667,  2.0000,  2.3333, "
          " 2.6667,  3.0000,  3.3333,  3.6667,  4.0000,  4.3333,  4.6667,  5.0000,  5.3333,"
          "  5.6667,  6.0000,  6.3333,  6.6667,\n"
          "         7.0000,  7.3333,  7.6667,  8.0000,  8.3333,  8.6667,  9.0000,  9.3333, "
          " 9.6667, 10.0000, 10.3333, 10.6667, 11.0000, 11.3333, 11.6667, 12.0000, 12.3333,"
          " 12.6667, 13.0000, 13.3333, 13.6667,\n"
          "        14.0000, 14.3333, 14.6667, 15.0000, 15.3333, 15.6667, 16.0000, 16.3333, "
          "16.6667, 17.0000, 17.3333, 17.6667, 18.0000, 18.3333, 18.6667, 19.0000, 19.3333,"
          " 19.6667])"),
]


@pytest.mark.parametrize("options,make,expected", OPTION_CASES)
def test_repr_under_print_options_matches_pytorch(options, make, expected):
    dg.set_printoptions(**options)
    assert _printed(make()) == expected


def test_profile_full_then_default_restores_summarizing():
    dg.set_printoptions(profile="full")
    assert "..." not in _printed(dg.arange(2000.))
    dg.set_printoptions(profile="default")
    assert _printed(dg.arange(2000.)) == (
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
        "        1.9990e+03])")


def test_options_persist_across_calls_but_sci_mode_resets():
    t = dg.tensor([1e-5, 1.0])
    dg.set_printoptions(sci_mode=False)
    assert _printed(t) == "tensor([0.0000, 1.0000])"
    dg.set_printoptions(precision=2)  # like PyTorch: sci_mode not given means back to automatic
    assert _printed(t) == "tensor([1.00e-05, 1.00e+00])"
    dg.set_printoptions(linewidth=40)  # the precision set before stays
    assert _printed(dg.tensor(np.arange(20, dtype=np.float32) / 3)) == (
        "tensor([0.00, 0.33, 0.67, 1.00, 1.33,\n"
        "        1.67, 2.00, 2.33, 2.67, 3.00,\n"
        "        3.33, 3.67, 4.00, 4.33, 4.67,\n"
        "        5.00, 5.33, 5.67, 6.00, 6.33])")
    dg.set_printoptions(profile="full")  # a profile sets precision and linewidth back too
    assert _printed(t) == "tensor([1.0000e-05, 1.0000e+00])"
    assert _printed(dg.tensor(np.arange(20, dtype=np.float32) / 3)) == (
        "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
        "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n"
        "        6.0000, 6.3333])")


# --------------------------------------------------------------------- float64 as default dtype

DEFAULT_F64_CASES = [
    _case("default_f64_float64", lambda: dg.tensor([1.5, 2.25]),
          "tensor([1.5000, 2.2500])"),
    _case("default_f64_float32", lambda: dg.tensor([1.5, 2.25], dtype=dg.float32),
          "tensor([1.5000, 2.2500], dtype=torch.float32)"),
    _case("default_f64_scalar", lambda: dg.tensor(0.1),
          "tensor(0.1000)"),
    _case("default_f64_empty", lambda: dg.tensor([]),
          "tensor([])"),
    _case("default_f64_empty_float32", lambda: dg.tensor([], dtype=dg.float32),
          "tensor([], dtype=torch.float32)"),
    _case("default_f64_grad", lambda: dg.tensor([1., 2.], requires_grad=True) * 2,
          "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    _case("default_f64_int", lambda: dg.tensor([1, 2]),
          "tensor([1, 2])"),
]


@pytest.mark.parametrize("make,expected", DEFAULT_F64_CASES)
def test_repr_with_float64_as_default_dtype(make, expected):
    """The dtype suffix names whatever is not the default: float64 loses it, float32 gains it."""
    dg.set_default_dtype(dg.float64)
    assert _printed(make()) == expected


# ------------------------------------------------------------------- Size, dtype, device, format

OTHER_CASES = [
    _case("size", lambda: repr(dg.Size([5, 3])),
          "torch.Size([5, 3])"),
    _case("size_str", lambda: str(dg.Size([5, 3])),
          "torch.Size([5, 3])"),
    _case("size_empty", lambda: repr(dg.Size([])),
          "torch.Size([])"),
    _case("size_one", lambda: repr(dg.Size([7])),
          "torch.Size([7])"),
    _case("shape", lambda: repr(dg.zeros(2, 3, 4).shape),
          "torch.Size([2, 3, 4])"),
    _case("shape_scalar", lambda: repr(dg.tensor(1.).shape),
          "torch.Size([])"),
    _case("size_method", lambda: repr(dg.zeros(2, 3).size()),
          "torch.Size([2, 3])"),
    _case("size_slice", lambda: repr(dg.zeros(2, 3, 4).shape[1:]),
          "torch.Size([3, 4])"),
    _case("dtype_float32", lambda: repr(dg.float32),
          "torch.float32"),
    _case("dtype_str", lambda: str(dg.float32),
          "torch.float32"),
    _case("dtype_float64", lambda: repr(dg.float64),
          "torch.float64"),
    _case("dtype_float16", lambda: repr(dg.float16),
          "torch.float16"),
    _case("dtype_int64", lambda: repr(dg.int64),
          "torch.int64"),
    _case("dtype_int32", lambda: repr(dg.int32),
          "torch.int32"),
    _case("dtype_uint8", lambda: repr(dg.uint8),
          "torch.uint8"),
    _case("dtype_bool", lambda: repr(dg.bool),
          "torch.bool"),
    _case("dtype_alias_long", lambda: repr(dg.long),
          "torch.int64"),
    _case("dtype_alias_double", lambda: repr(dg.double),
          "torch.float64"),
    _case("dtype_alias_half", lambda: repr(dg.half),
          "torch.float16"),
    _case("tensor_dtype", lambda: repr(dg.tensor([1, 2]).dtype),
          "torch.int64"),
    _case("device_cpu", lambda: repr(dg.device('cpu')),
          "device(type='cpu')"),
    _case("device_cpu_str", lambda: str(dg.device('cpu')),
          "cpu"),
    _case("tensor_device", lambda: repr(dg.zeros(2).device),
          "device(type='cpu')"),
    _case("device_cuda1", lambda: repr(dg.device('cuda:1')),
          "device(type='cuda', index=1)"),
    _case("device_cuda1_str", lambda: str(dg.device('cuda:1')),
          "cuda:1"),
    _case("device_cuda0", lambda: repr(dg.device('cuda:0')),
          "device(type='cuda', index=0)"),
    _case("device_cuda_int", lambda: repr(dg.device('cuda', 2)),
          "device(type='cuda', index=2)"),
    _case("format_scalar", lambda: f'{dg.tensor(2.5):.2f}',
          "2.50"),
    _case("format_no_spec", lambda: f'{dg.tensor([1., 2.])}',
          "tensor([1., 2.])"),
    _case("str_equals_repr", lambda: str(dg.tensor([[1.5, -2.], [3., 4.]])),
          "tensor([[ 1.5000, -2.0000],\n"
          "        [ 3.0000,  4.0000]])"),
]


@pytest.mark.parametrize("text,expected", OTHER_CASES)
def test_other_reprs_match_pytorch(text, expected):
    assert text() == expected


# ------------------------------------------------------------------------------------------ GPU

# Not produced by PyTorch here (its CPU build makes no CUDA tensors): these follow its rule that
# the device suffix comes first and names the index, as `device='cuda:0'`.
@pytest.mark.gpu
@pytest.mark.skipif(not dg.cuda.is_available(), reason="needs CuPy and a GPU")
def test_cuda_tensors_name_their_device():
    assert _printed(dg.tensor([1., 2.], device="cuda")) == "tensor([1., 2.], device='cuda:0')"
    assert _printed(dg.tensor([1, 2], device="cuda:0")) == "tensor([1, 2], device='cuda:0')"
    assert _printed(dg.tensor([1.5], dtype=dg.float64, device="cuda", requires_grad=True)) == (
        "tensor([1.5000], device='cuda:0', dtype=torch.float64, requires_grad=True)")
    assert _printed(dg.zeros((0, 3), device="cuda")) == (
        "tensor([], device='cuda:0', size=(0, 3))")


def test_plain_cuda_device_keeps_no_index_like_pytorch():
    d = dg.device("cuda")
    assert repr(d) == "device(type='cuda')" and str(d) == "cuda"
    assert d.placement() is dg.device("cuda:0")  # where tensors asked for 'cuda' land
