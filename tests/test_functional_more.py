"""F.pad, F.interpolate, F.normalize, F.cosine_similarity and F.scaled_dot_product_attention:
values and gradients against numbers captured once from PyTorch 2.13
(tests/data/capture_functional_more.py writes tests/data/functional_more_torch.json), NumPy
references of PyTorch's documented formulas, PyTorch's errors, and trace / script = eager."""

import json
import math
import os

import numpy as np
import pytest

import dualgraph as torch
import dualgraph.nn.functional as F

with open(os.path.join(os.path.dirname(__file__), "data", "functional_more_torch.json")) as f:
    REF = json.load(f)


def inp(shape, dtype=torch.float64):
    """The captured inputs: sin(0.7 i + 0.3) in `shape`."""
    n = int(np.prod(shape))
    return torch.tensor(np.sin(np.arange(n) * 0.7 + 0.3).reshape(shape), dtype=dtype)


def flat(t):
    return np.array(t.detach().tolist(), dtype=np.float64).ravel()


def close(got, want, tol):
    np.testing.assert_allclose(flat(got), np.array(want, dtype=np.float64), rtol=tol, atol=tol)


def weighted_backward(y, dtype=torch.float64):
    (y * (inp(tuple(y.shape), dtype) * 2 + 0.1)).sum().backward()


# ------------------------------------------------------------------------------------------ pad

@pytest.mark.parametrize("case", REF["pad"], ids=lambda c: f"{c[2]}-{c[0]}-{c[1]}")
def test_pad_matches_pytorch(case):
    shape, pads, mode, out_shape, want, want_grad = case
    x = inp(shape).requires_grad_()
    y = F.pad(x, pads, mode=mode, value=1.5 if mode == "constant" else None)
    assert list(y.shape) == out_shape
    close(y, want, 1e-8)
    weighted_backward(y)
    close(x.grad, want_grad, 1e-8)


def test_pad_reflect_is_numpy_reflect():
    x = np.arange(20.0).reshape(1, 4, 5)
    got = F.pad(torch.tensor(x), (2, 3, 1, 2), mode="reflect")
    want = np.pad(x, ((0, 0), (1, 2), (2, 3)), mode="reflect")
    np.testing.assert_array_equal(np.array(got.tolist()), want)
    got = F.pad(torch.tensor(x), (2, 3, 1, 2), mode="replicate")
    np.testing.assert_array_equal(np.array(got.tolist()), np.pad(x, ((0, 0), (1, 2), (2, 3)),
                                                                  mode="edge"))
    got = F.pad(torch.tensor(x), (2, 3, 1, 2), mode="circular")
    np.testing.assert_array_equal(np.array(got.tolist()), np.pad(x, ((0, 0), (1, 2), (2, 3)),
                                                                  mode="wrap"))


def test_pad_constant_keeps_dtype_and_casts_value():
    x = torch.arange(6).reshape(1, 2, 3)
    y = F.pad(x, (1, 1), value=2.5)  # PyTorch casts the fill to the tensor's dtype
    assert y.dtype == torch.int64
    assert y.tolist() == [[[2, 0, 1, 2, 2], [2, 3, 4, 5, 2]]]
    assert F.pad(torch.ones(2, 3), (0, 0, -2, 0)).shape == (0, 3)


def test_pad_errors():
    x = torch.arange(6.0).reshape(1, 2, 3)
    cases = [
        (lambda: F.pad(x, (1,)), RuntimeError, "Padding length must be divisible by 2"),
        (lambda: F.pad(x, (1,) * 8), RuntimeError, "Padding length should be less than or equal "
         "to two times the input dimension but got padding length 8 and input of dimension 3"),
        (lambda: F.pad(x, (3, 0), mode="reflect"), RuntimeError,
         r"Argument #4: Padding size should be less than the corresponding input dimension, but "
         r"got: padding \(3, 0\) at dimension 2 of input \[1, 2, 3\]"),
        (lambda: F.pad(x, (4, 0), mode="circular"), RuntimeError,
         "Padding value causes wrapping around more than once."),
        (lambda: F.pad(x, (1, 1), mode="foo"), NotImplementedError,
         "Unrecognised padding mode foo"),
        (lambda: F.pad(x, (1, 1), mode="reflect", value=2.0), RuntimeError,
         'Padding mode "reflect" doesn\'t take in value argument'),
        (lambda: F.pad(x[0, 0], (1, 1), mode="replicate"), NotImplementedError,
         "Padding size 2 is not supported for 1D input tensor"),
        (lambda: F.pad(x, (-2, -2)), RuntimeError, r"narrow\(\): length must be non-negative"),
        (lambda: F.pad(x, [1, 1.5]), TypeError, "must be tuple of ints, but found element of "
         "type float at pos 1"),
        (lambda: F.pad(x, (1, -4), mode="replicate"), RuntimeError,
         r"input \(W: 3\) is too small. Calculated output W: 0"),
        (lambda: F.pad(torch.ones(2, 2, 2), (-2, -3, -1, -2), mode="reflect"), RuntimeError,
         r"input \(H: 2, W: 2\) is too small. Calculated output H: -1 W: -3"),
        (lambda: F.pad(torch.ones(1, 4, 1), (0, 0, 1, -6), mode="replicate"), RuntimeError,
         r"Trying to create tensor with negative dimension -1: \[1, -1, 1\]"),
        (lambda: F.pad(x, (-3, -1), mode="circular"), RuntimeError,
         "Negative padding value is resulting in an empty dimension"),
        (lambda: F.pad(x, (-2, 2), mode="circular"), RuntimeError,  # PyTorch: undefined values
         r"padding \(-2, 2\) wraps around more than the 1 of 3 entries"),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind, match=message):
            call()
    assert issubclass(NotImplementedError, RuntimeError)  # PyTorch's kind for these two


# ---------------------------------------------------------------------------------- interpolate

@pytest.mark.parametrize("case", REF["interpolate"],
                         ids=lambda c: f"{c[1]['mode']}-{c[0]}-{c[2]}")
def test_interpolate_matches_pytorch(case):
    shape, kw, dtype, out_shape, want, want_grad = case
    dt = getattr(torch, dtype)
    tol = 1e-8 if dtype == "float64" else 2e-6
    x = inp(shape, dt).requires_grad_()
    y = F.interpolate(x, **kw)
    assert list(y.shape) == out_shape and y.dtype == dt
    close(y, want, tol)
    weighted_backward(y, dt)
    close(x.grad, want_grad, tol)


def test_interpolate_dims_whose_size_does_not_change():
    """PyTorch 2.13 (CPU) copies a dim whose output size equals its input size in the linear
    modes, and 2-D nearest at an integer ratio out/in takes in/out, ignoring scale_factor there;
    1-D/3-D nearest and bicubic still use 1/scale_factor (values printed by PyTorch)."""
    col = torch.arange(5.0).reshape(1, 1, 5, 1).expand(1, 1, 5, 4).contiguous()
    assert F.interpolate(col, scale_factor=(1.1, 1.5))[0, 0, :, 0].tolist() == [0, 1, 2, 3, 4]
    assert F.interpolate(col, scale_factor=(1.1, 1.5), mode="bilinear")[0, 0, :, 0].tolist() \
        == [0, 1, 2, 3, 4]
    wide = torch.arange(4.0).reshape(1, 1, 1, 4).expand(1, 1, 3, 4).contiguous()
    assert F.interpolate(wide, scale_factor=(1.5, 2.18))[0, 0, 0].tolist() == \
        [0, 0, 1, 1, 2, 2, 3, 3]
    assert F.interpolate(wide[:, :, 0], scale_factor=2.18).tolist() == \
        [[[0, 0, 0, 1, 1, 2, 2, 3]]]
    eight = torch.arange(8.0).reshape(1, 1, 1, 8)
    assert F.interpolate(eight, scale_factor=(1.0, 1.7))[0, 0, 0].tolist() == \
        [0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 7]
    row = torch.arange(5.0).reshape(1, 1, 5)
    assert F.interpolate(row, scale_factor=1.1).tolist() == [[[0, 0, 1, 2, 3]]]
    assert F.interpolate(row, scale_factor=1.1, mode="linear").tolist() == [[[0, 1, 2, 3, 4]]]
    cubic = F.interpolate(col, scale_factor=(1.1, 1.5), mode="bicubic")[0, 0, :, 0]
    close(cubic, [-0.031062133610248566, 0.8087673783302307, 1.7248315811157227,
                  2.6423752307891846, 3.676067352294922], 2e-6)


def bilinear_reference(x, out_h, out_w):
    """Half-pixel bilinear resize written from the formula (align_corners=False)."""
    h, w = x.shape
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            sy = max((i + 0.5) * h / out_h - 0.5, 0.0)
            sx = max((j + 0.5) * w / out_w - 0.5, 0.0)
            y0, x0 = min(int(sy), h - 1), min(int(sx), w - 1)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            ly, lx = sy - y0, sx - x0
            out[i, j] = ((1 - ly) * ((1 - lx) * x[y0, x0] + lx * x[y0, x1])
                         + ly * ((1 - lx) * x[y1, x0] + lx * x[y1, x1]))
    return out


def test_bilinear_against_formula_and_gradcheck():
    x = np.random.default_rng(1).standard_normal((5, 7))
    got = F.interpolate(torch.tensor(x).reshape(1, 1, 5, 7), size=(8, 4), mode="bilinear")
    np.testing.assert_allclose(np.array(got[0, 0].tolist()), bilinear_reference(x, 8, 4),
                               rtol=1e-12, atol=1e-12)
    t = torch.tensor(x[None, None, :4, :4], requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a: F.interpolate(a, size=(3, 6), mode="bicubic", align_corners=True), (t,))


def test_interpolate_errors():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    cases = [
        (dict(size=(2, 3), mode="nearest", align_corners=True), ValueError,
         "align_corners option can only be set with the interpolating modes"),
        (dict(size=(2, 3), mode="linear"), NotImplementedError,
         "Got 4D input, but linear mode needs 3D input"),
        (dict(size=(2, 3), scale_factor=2), ValueError,
         "only one of size or scale_factor should be defined"),
        (dict(), ValueError, "either size or scale_factor should be defined"),
        (dict(size=(2, 3, 4)), ValueError, r"Input and output must have the same number of "
         r"spatial dimensions, but got input with spatial dimensions of \[3, 4\] and output size "
         r"of \(2, 3, 4\)"),
        (dict(scale_factor=(2, 3, 4)), ValueError, "Input and scale_factor must have the same"),
        (dict(size=(2, 3), mode="foo"), NotImplementedError,
         r"Input Error: Only 3D, 4D and 5D input Tensors supported \(got 4D\)"),
        (dict(size=(2, 3), mode="bilinear", recompute_scale_factor=True), ValueError,
         "recompute_scale_factor is not meaningful with an explicit size."),
        (dict(size=(0, 3), mode="bilinear"), RuntimeError, r"Input and output sizes should be "
         r"greater than 0, but got input \(H: 3, W: 4\) output \(H: 0, W: 3\)"),
        (dict(size=(2, 3), mode="bilinear", antialias=True), ValueError,
         "antialias=True is not supported by dualgraph"),
        (dict(size=3, mode="bilinear", antialias=True), ValueError, "antialias"),
        (dict(size=2.0), TypeError, "expected size to be one of int"),
    ]
    for kw, kind, message in cases:
        with pytest.raises(kind, match=message):
            F.interpolate(x, **kw)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D"):
        F.interpolate(x[0], size=3, mode="bilinear")
    with pytest.raises(NotImplementedError, match=r"not implemented for 'Long'"):
        F.interpolate(torch.arange(12).reshape(1, 1, 3, 4), size=(2, 3), mode="bilinear")
    small = F.interpolate(torch.arange(12).reshape(1, 1, 3, 4), scale_factor=2)  # nearest: ints
    assert small.dtype == torch.int64 and small.shape == (1, 1, 6, 8)


# ------------------------------------------------------------------ normalize, cosine_similarity

@pytest.mark.parametrize("case", REF["normalize"], ids=lambda c: str(c[1]))
def test_normalize_matches_pytorch(case):
    shape, kw, want, want_grad = case
    kw = {k: (math.inf if v == float("inf") else v) for k, v in kw.items()}
    x = inp(shape).requires_grad_()
    y = F.normalize(x, **kw)
    close(y, want, 1e-8)
    (y * (inp(tuple(y.shape)) + 0.1)).sum().backward()
    close(x.grad, want_grad, 1e-8)


def test_normalize_formula_and_errors():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    got = F.normalize(torch.tensor(x))
    np.testing.assert_allclose(np.array(got.tolist()), x / np.maximum(
        np.linalg.norm(x, axis=1, keepdims=True), 1e-12))
    out = torch.empty(2, 2, dtype=torch.float64)
    assert F.normalize(torch.tensor(x), out=out) is out and out.tolist() == got.tolist()
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as "
                                           "input. Got Long"):
        F.normalize(torch.tensor([3, 4]), dim=0)


@pytest.mark.parametrize("case", REF["cosine"], ids=lambda c: f"{c[0]}-{c[1]}")
def test_cosine_similarity_matches_pytorch(case):
    s1, s2, kw, out_shape, want, want_a, want_b = case
    if s2 == "zeros":  # zero vectors: the norm is clamped to eps, the gradient is b_hat / eps
        a, b = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True), inp((2, 3))
        y = F.cosine_similarity(a, b)
        y.sum().backward()
        close(y, want, 1e-8)
        np.testing.assert_allclose(flat(a.grad), want_a, rtol=1e-9)
        return
    a, b = inp(s1).requires_grad_(), (inp(s2) * -1.3 + 0.2).requires_grad_()
    y = F.cosine_similarity(a, b, **kw)
    assert list(y.shape) == out_shape
    close(y, want, 1e-8)
    (y * (inp(tuple(y.shape)) + 0.1)).sum().backward()
    close(a.grad, want_a, 1e-8)
    close(b.grad, want_b, 1e-8)


def test_cosine_similarity_errors():
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.cosine_similarity(torch.ones(3), torch.ones(3))
    with pytest.raises(RuntimeError, match="must match the size"):
        F.cosine_similarity(torch.ones(2, 3), torch.ones(2, 2))
    assert abs(F.cosine_similarity(torch.ones(3), torch.ones(3), dim=0).item() - 1.0) < 1e-6


# ---------------------------------------------------------------- scaled_dot_product_attention

def sdpa_reference(q, k, v, mask=None, is_causal=False, scale=None):
    """PyTorch's documented reference implementation, in NumPy."""
    L, S = q.shape[-2], k.shape[-2]
    s = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    bias = np.zeros((L, S))
    if is_causal:
        bias[~np.tril(np.ones((L, S), dtype=bool))] = -np.inf
    if mask is not None:
        bias = np.where(mask, 0.0, -np.inf) if mask.dtype == bool else bias + mask
    w = q @ np.swapaxes(k, -1, -2) * s + bias
    w = np.exp(w - w.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


def sdpa_inputs(case):
    qs, ks, vs, mask, kw = case[:5]
    q, k = inp(qs).requires_grad_(), (inp(ks) * 0.9 - 0.2).requires_grad_()
    v = (inp(vs) + 0.5).requires_grad_()
    m = None
    if mask == "bool":
        m = torch.tensor(np.arange(qs[-2] * ks[-2]).reshape(qs[-2], ks[-2]) % 3 != 1)
        m[1] = False  # row 1 may attend to nothing
    elif mask == "float":
        m = inp((qs[-2], ks[-2])) * 0.5
        m[0, 1] = float("-inf")
        m[1] = float("-inf")
    return q, k, v, m, kw


@pytest.mark.parametrize("case", REF["sdpa"], ids=lambda c: f"{c[0]}-{c[3]}-{c[4]}")
def test_sdpa_matches_pytorch(case):
    q, k, v, m, kw = sdpa_inputs(case)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw)
    assert list(y.shape) == case[5]
    close(y, case[6], 1e-8)
    weighted_backward(y)
    for t, want in zip((q, k, v), case[7:]):
        close(t.grad, want, 1e-8)


def test_sdpa_against_documented_formula():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 3, 4, 8)), rng.standard_normal((2, 3, 6, 8)), \
        rng.standard_normal((2, 3, 6, 5))
    T = lambda a: torch.tensor(a)  # noqa: E731
    mask = rng.random((4, 6)) > 0.3
    mask[:, 0] = True
    fmask = rng.standard_normal((4, 6))
    for kw, ref_kw in [({}, {}), ({"is_causal": True}, {"is_causal": True}),
                       ({"attn_mask": T(mask)}, {"mask": mask}),
                       ({"attn_mask": T(fmask), "scale": 0.25}, {"mask": fmask, "scale": 0.25})]:
        got = F.scaled_dot_product_attention(T(q), T(k), T(v), **kw)
        np.testing.assert_allclose(np.array(got.tolist()), sdpa_reference(q, k, v, **ref_kw),
                                   rtol=1e-10, atol=1e-12)


def test_sdpa_dropout_zeroes_and_rescales():
    torch.manual_seed(0)
    q = torch.ones(4000, 1, 2)  # one key: every weight is 1, so each output is 0 or v / (1 - p)
    v = torch.full((4000, 1, 3), 2.0)
    y = F.scaled_dot_product_attention(q, q, v, dropout_p=0.25)
    vals = np.array(y.tolist())[:, 0, 0]
    assert set(np.round(vals, 5)) == {0.0, round(2.0 / 0.75, 5)}
    assert abs((vals == 0).mean() - 0.25) < 0.03
    assert F.scaled_dot_product_attention(q, q, v, dropout_p=1.0).abs().sum().item() == 0.0


def test_sdpa_errors():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6)
    cases = [
        (dict(attn_mask=torch.ones(3, 5, dtype=torch.bool), is_causal=True),
         "Explicit attn_mask should not be set when is_causal=True"),
        (dict(attn_mask=torch.ones(3, 5, dtype=torch.int64)),
         "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
         "attn_mask.dtype: long int and  query.dtype: float instead."),
        (dict(dropout_p=1.5), "dropout probability has to be between 0 and 1, but got 1.5"),
    ]
    for kw, message in cases:
        with pytest.raises(RuntimeError, match=message):
            F.scaled_dot_product_attention(q, k, v, **kw)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same "
                                           "dtype, but got query.dtype: float key.dtype: float "
                                           "and value.dtype: double instead."):
        F.scaled_dot_product_attention(q, k, v.double())
    with pytest.raises(RuntimeError, match="at least 2 dimensional"):
        F.scaled_dot_product_attention(q[0, 0], k[0], v[0])
    d = q.double()  # a float32 mask is accepted with any query dtype, as in PyTorch
    assert F.scaled_dot_product_attention(d, d, d, attn_mask=torch.zeros(3, 3)).dtype == \
        torch.float64
    with pytest.raises(RuntimeError, match="attn_mask.dtype: c10::Half and  query.dtype: double"):
        F.scaled_dot_product_attention(d, d, d, attn_mask=torch.zeros(3, 3).half())
    with pytest.raises(RuntimeError, match="Number of heads in key and value must divide"):
        F.scaled_dot_product_attention(torch.randn(1, 4, 3, 2), torch.randn(1, 3, 5, 2),
                                       torch.randn(1, 3, 5, 2), enable_gqa=True)


# -------------------------------------------------------------------- trace and script = eager

def pad_constant(x):
    return F.pad(x, (1, -1, 2, 0), value=0.5)


def pad_reflect(x):
    return F.pad(x, (2, 1, 1, 1), mode="reflect")


def pad_circular(x):
    return F.pad(x, (2, 1, 0, 3), mode="circular")


def up_bilinear(x):
    return F.interpolate(x, scale_factor=2, mode="bilinear")


def up_bicubic(x):
    return F.interpolate(x, size=(4, 9), mode="bicubic", align_corners=True)


def nearest(x):
    return F.interpolate(x, size=(7, 3))


def normalized(x):
    return F.normalize(x, dim=-1)


def cosine(x):
    return F.cosine_similarity(x, x.flip(-1), dim=-1)


def causal(x):
    return F.scaled_dot_product_attention(x, x * 0.5, x, is_causal=True)


def masked(x):
    mask = torch.ones(5, 5, dtype=torch.bool).triu()
    return F.scaled_dot_product_attention(x, x * 2, x, attn_mask=mask)


CAPTURED = [pad_constant, pad_reflect, pad_circular, up_bilinear, up_bicubic, nearest,
            normalized, cosine, causal, masked]


@pytest.mark.parametrize("fn", CAPTURED, ids=lambda f: f.__name__)
def test_trace_and_script_match_eager(fn):
    torch.manual_seed(3)
    x = torch.randn(2, 3, 5, 6)
    want = np.array(fn(x).tolist())
    traced = torch.jit.trace(fn, x)
    np.testing.assert_allclose(np.array(traced(x).tolist()), want, rtol=1e-5, atol=1e-6)
    other = torch.randn(2, 3, 5, 6)
    np.testing.assert_allclose(np.array(traced(other).tolist()), np.array(fn(other).tolist()),
                               rtol=1e-5, atol=1e-6)
    scripted = torch.jit.script(fn)
    np.testing.assert_allclose(np.array(scripted(x).tolist()), want, rtol=1e-5, atol=1e-6)


def test_traced_gradients_match_eager():
    torch.manual_seed(4)
    x = torch.randn(1, 2, 4, 5, requires_grad=True)

    def f(a):
        return (F.interpolate(F.pad(a, (1, 2, 2, 1), mode="reflect"), scale_factor=1.5,
                              mode="bilinear") ** 2).sum()
    f(x).backward()
    want = np.array(x.grad.tolist())
    x.grad = None
    torch.jit.trace(f, x)(x).backward()
    np.testing.assert_allclose(np.array(x.grad.tolist()), want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------- the layers built on these

def test_padding_upsampling_and_cosine_layers():
    nn = torch.nn
    reprs = [(nn.ZeroPad2d(2), "ZeroPad2d((2, 2, 2, 2))"),
             (nn.ConstantPad2d(1, 3.5), "ConstantPad2d(padding=(1, 1, 1, 1), value=3.5)"),
             (nn.ReflectionPad2d((1, 0, 2, 0)), "ReflectionPad2d((1, 0, 2, 0))"),
             (nn.ReplicationPad1d(3), "ReplicationPad1d((3, 3))"),
             (nn.CircularPad2d(1), "CircularPad2d((1, 1, 1, 1))"),
             (nn.ReflectionPad3d(1), "ReflectionPad3d((1, 1, 1, 1, 1, 1))"),
             (nn.Upsample(scale_factor=2), "Upsample(scale_factor=2.0, mode='nearest')"),
             (nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True),
              "Upsample(size=(3, 4), mode='bilinear')"),
             (nn.UpsamplingBilinear2d(size=3), "UpsamplingBilinear2d(size=3, mode='bilinear')"),
             (nn.CosineSimilarity(), "CosineSimilarity()")]
    for module, text in reprs:  # PyTorch 2.13's reprs
        assert repr(module) == text
    x = inp((1, 2, 4, 5))
    pairs = [(nn.ReflectionPad2d((1, 2, 0, 3)), F.pad(x, (1, 2, 0, 3), mode="reflect")),
             (nn.ReplicationPad2d(1), F.pad(x, (1, 1, 1, 1), mode="replicate")),
             (nn.CircularPad2d((2, 1, 0, 1)), F.pad(x, (2, 1, 0, 1), mode="circular")),
             (nn.ZeroPad2d((0, 1, 1, 0)), F.pad(x, (0, 1, 1, 0))),
             (nn.ConstantPad1d(1, -2.0), F.pad(x, (1, 1), value=-2.0)),
             (nn.Upsample(scale_factor=2, mode="bilinear"),
              F.interpolate(x, scale_factor=2, mode="bilinear")),
             (nn.UpsamplingBilinear2d(size=(3, 7)),
              F.interpolate(x, size=(3, 7), mode="bilinear", align_corners=True)),
             (nn.UpsamplingNearest2d(scale_factor=3), F.interpolate(x, scale_factor=3))]
    for module, want in pairs:
        assert module(x).tolist() == want.tolist(), repr(module)
    assert nn.CircularPad1d(2)(x[0]).tolist() == F.pad(x[0], (2, 2), mode="circular").tolist()
    y = inp((1, 2, 4, 5)).flip(-1)
    assert nn.CosineSimilarity(dim=-1)(x, y).tolist() == F.cosine_similarity(x, y, -1).tolist()


def test_trace_with_a_symbolic_batch_size():
    def f(x):
        y = F.interpolate(F.pad(x, (1, 2, 2, 1), mode="reflect"), scale_factor=2,
                          mode="bilinear")
        z = F.pad(y, (1, 0, 0, 1), mode="circular") * F.pad(y, (0, 1, 1, 0), value=0.5)
        return F.scaled_dot_product_attention(z, z, z, is_causal=True) + F.normalize(z, dim=1)
    traced = torch.jit.trace(f, torch.randn(2, 3, 4, 5), dynamic_dims={0: "B"})
    assert "B" in str(traced.graph)
    for batch in (1, 3):
        x = torch.randn(batch, 3, 4, 5)
        np.testing.assert_allclose(np.array(traced(x).tolist()), np.array(f(x).tolist()),
                                   rtol=1e-5, atol=1e-6)


def resample_and_pad(x):
    y = F.interpolate(F.pad(x, (1, 1, 2, 0), mode="reflect"), scale_factor=2, mode="bilinear")
    z = F.pad(F.interpolate(x, scale_factor=2), (0, 1, 1, 0), mode="circular")
    w = F.interpolate(F.pad(x, (2, 0, 0, 1), mode="replicate"), size=(3, 5), mode="bilinear",
                      align_corners=True)
    return y, z, w, F.interpolate(x, scale_factor=3, mode="nearest-exact")


def test_generic_script_graph_with_symbolic_spatial_sizes(tmp_path):
    """Before any call, script compiles with every size symbolic: pad's index vectors and
    interpolate's indices and weights are then computed by the graph when it runs."""
    scripted = torch.jit.script(resample_and_pad)
    text = str(scripted.graph)
    assert text.startswith("graph(%x: f32[s0, s1, s2, s3])")
    path = str(tmp_path / "resample.dgm")
    scripted.save(path)
    loaded = torch.load(path)
    for shape in [(1, 2, 3, 4), (2, 1, 5, 7)]:
        x = torch.randn(*shape)
        for got, want in zip(loaded(x), resample_and_pad(x)):
            assert got.shape == want.shape
            np.testing.assert_allclose(np.array(got.tolist()), np.array(want.tolist()),
                                       rtol=1e-5, atol=1e-6)


def test_symbolic_sizes_refused_where_no_size_expression_exists():
    def up(x):
        return F.interpolate(x, scale_factor=1.5, mode="bilinear")
    with pytest.raises(RuntimeError, match=r"output size floor\(H \* 1.5\) of a symbolic size"):
        torch.jit.trace(up, torch.randn(1, 1, 4, 4), dynamic_dims={2: "H"})

    def cubic(x):
        return F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(RuntimeError, match="mode='bicubic'\\) needs concrete spatial sizes"):
        torch.jit.trace(cubic, torch.randn(1, 1, 4, 4), dynamic_dims={2: "H"})


def attention_mix(q, k):
    a = F.scaled_dot_product_attention(q, k, k, is_causal=True)
    b = F.scaled_dot_product_attention(q, k, k, scale=0.3)
    return a + b + F.normalize(q, dim=-1) + F.cosine_similarity(q, q * 2, dim=-1).unsqueeze(-1)


def test_generic_script_graph_of_attention(tmp_path):
    scripted = torch.jit.script(attention_mix)
    assert str(scripted.graph).startswith("graph(%q: f32[s0, s1], %k: f32[s2, s1])")
    scripted.save(str(tmp_path / "attn.dgm"))
    loaded = torch.load(str(tmp_path / "attn.dgm"))
    for L, S, E in [(3, 5, 4), (4, 2, 6)]:
        q, k = torch.randn(L, E), torch.randn(S, E)
        np.testing.assert_allclose(np.array(loaded(q, k).tolist()),
                                   np.array(attention_mix(q, k).tolist()), rtol=1e-5, atol=1e-6)
