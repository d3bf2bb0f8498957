"""nn.ConvTranspose2d / F.conv_transpose2d and nn.Bilinear / F.bilinear: values against a NumPy
scatter loop and np.einsum, float64 gradchecks, PyTorch 2.13's default-init bounds, reprs and
error messages, `output_size`, and tracing with a dynamic batch."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as torch
from dualgraph.autograd.gradcheck import gradcheck
from dualgraph.nn import functional_layers as F
from dualgraph.nn.modules.bilinear import Bilinear
from dualgraph.nn.modules.conv import ConvTranspose2d

RNG = np.random.default_rng(11)


def t(a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def conv_transpose_loop(x, w, b=None, stride=(1, 1), pad=(0, 0), out_pad=(0, 0), dil=(1, 1),
                        groups=1):
    """Each input element scatters input * kernel onto the full output; then crop the padding
    (output_padding extends the bottom/right, reading zeros where nothing was scattered)."""
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    full_h = (h - 1) * stride[0] + dil[0] * (kh - 1) + 1
    full_w = (wd - 1) * stride[1] + dil[1] * (kw - 1) + 1
    oh = full_h - 2 * pad[0] + out_pad[0]
    ow = full_w - 2 * pad[1] + out_pad[1]
    full = np.zeros((n, og * groups, max(full_h, pad[0] + oh), max(full_w, pad[1] + ow)))
    for bi in range(n):
        for ci in range(cin):
            g = ci // cg
            for i in range(h):
                for j in range(wd):
                    for u in range(kh):
                        for v in range(kw):
                            r, c = i * stride[0] + u * dil[0], j * stride[1] + v * dil[1]
                            full[bi, g * og:(g + 1) * og, r, c] += x[bi, ci, i, j] * w[ci, :, u, v]
    out = full[:, :, pad[0]:pad[0] + oh, pad[1]:pad[1] + ow]
    return out if b is None else out + b.reshape(-1, 1, 1)


def as2(v):
    return v if isinstance(v, tuple) else (v, v)


# --------------------------------------------------------------------------- conv_transpose2d

CONFIGS = [
    ({}, (2, 3, 4, 5), (3, 2, 3, 3)),
    ({"stride": 2}, (1, 2, 3, 3), (2, 3, 3, 2)),
    ({"stride": 2, "padding": 1, "output_padding": 1}, (2, 2, 3, 4), (2, 2, 3, 3)),
    ({"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2)}, (1, 2, 3, 2), (2, 1, 2, 3)),
    ({"dilation": 2, "output_padding": 1}, (1, 2, 3, 3), (2, 2, 2, 2)),  # out_pad >= stride
    ({"dilation": (3, 1), "padding": (2, 0), "output_padding": (2, 0)}, (1, 1, 3, 3),
     (1, 2, 2, 2)),
    ({"groups": 2, "stride": 2, "padding": (0, 1)}, (2, 4, 3, 3), (4, 3, 2, 3)),
    ({"groups": 3, "dilation": (1, 2), "stride": (1, 2), "output_padding": (0, 1)},
     (1, 3, 2, 3), (3, 1, 3, 2)),
]


@pytest.mark.parametrize("kw,xs,ws", CONFIGS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_transpose2d_matches_scatter_loop(kw, xs, ws, with_bias):
    x, w = RNG.normal(size=xs), RNG.normal(size=ws)
    b = RNG.normal(size=ws[1] * kw.get("groups", 1)) if with_bias else None
    out = F.conv_transpose2d(t(x), t(w), None if b is None else t(b), **kw)
    ref = conv_transpose_loop(x, w, b, as2(kw.get("stride", 1)), as2(kw.get("padding", 0)),
                              as2(kw.get("output_padding", 0)), as2(kw.get("dilation", 1)),
                              kw.get("groups", 1))
    assert tuple(out.shape) == ref.shape
    np.testing.assert_allclose(out.numpy(force=True), ref, rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_unbatched_and_float32():
    x, w, b = RNG.normal(size=(2, 3, 3)), RNG.normal(size=(2, 3, 2, 2)), RNG.normal(size=3)
    out = F.conv_transpose2d(t(x).float(), t(w).float(), t(b).float(), stride=2)
    assert out.dtype == torch.float32 and tuple(out.shape) == (3, 6, 6)
    ref = conv_transpose_loop(x[None], w, b, (2, 2))[0]
    np.testing.assert_allclose(out.numpy(force=True), ref, rtol=1e-5, atol=1e-5)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv2d(y, w), x> == <y, conv_transpose2d(x, w)> for every y: the defining property."""
    w = RNG.normal(size=(4, 3, 3, 2))
    kw = {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 1}
    x = RNG.normal(size=(2, 4, 3, 4))
    tx = F.conv_transpose2d(t(x), t(w), output_padding=(1, 0), **kw)
    y = RNG.normal(size=tuple(tx.shape))
    cy = F.conv2d(t(y), t(w), **kw)
    np.testing.assert_allclose((cy.numpy(force=True) * x).sum(),
                               (y * tx.numpy(force=True)).sum(), rtol=1e-10)


def test_conv_transpose2d_gradcheck():
    x, w, b = (t(RNG.normal(size=s), grad=True) for s in ((1, 4, 3, 2), (4, 1, 2, 2), (2,)))
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=(1, 0),
                                                        output_padding=1, groups=2), (x, w, b))
    x2, w2 = t(RNG.normal(size=(1, 2, 2, 2)), grad=True), t(RNG.normal(size=(2, 2, 2, 2)),
                                                            grad=True)
    assert gradcheck(lambda x, w: F.conv_transpose2d(x, w, dilation=2, output_padding=1),
                     (x2, w2))


def test_conv_transpose2d_module_init_bounds_and_shapes():
    """PyTorch: kaiming_uniform_(a=sqrt(5)) on the (C_in, C_out/groups, kh, kw) weight, so both
    weight and bias lie in +-1/sqrt(C_out/groups * kh * kw)."""
    torch.manual_seed(0)
    m = ConvTranspose2d(16, 12, (3, 2), groups=2)
    assert tuple(m.weight.shape) == (16, 6, 3, 2) and tuple(m.bias.shape) == (12,)
    bound = 1 / np.sqrt(6 * 3 * 2)
    for p, n_min in ((m.weight, 0.9), (m.bias, 0.5)):
        v = p.numpy(force=True)
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() >= n_min * bound  # the whole range is used, not a narrower one
    big = ConvTranspose2d(64, 8, 3).weight.numpy(force=True)  # 4608 draws, uniform on +-b
    b = 1 / np.sqrt(8 * 9)
    assert np.abs(big).max() <= b and np.abs(big).max() > 0.99 * b
    assert abs(big.mean()) < 0.05 * b and abs(big.std() - b / np.sqrt(3)) < 0.05 * b
    assert ConvTranspose2d(2, 4, 3, bias=False).bias is None
    m2 = ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1)
    assert tuple(m2(torch.zeros(3, 2, 5, 5)).shape) == (3, 4, 10, 10)
    assert tuple(m2(torch.zeros(2, 5, 5)).shape) == (4, 10, 10)
    assert m2.transposed and m2.output_padding == (1, 1)


def test_conv_transpose2d_output_size():
    m = ConvTranspose2d(2, 3, 3, stride=2)
    x = torch.randn(1, 2, 5, 5)
    assert tuple(m(x).shape) == (1, 3, 11, 11)
    for size in ([12, 11], (1, 3, 12, 11), torch.Size([12, 11])):
        out = m(x, output_size=size)
        assert tuple(out.shape) == (1, 3, 12, 11)
        np.testing.assert_allclose(
            out.numpy(force=True),
            F.conv_transpose2d(x, m.weight, m.bias, 2, output_padding=(1, 0)).numpy(force=True))
    assert tuple(m(x[0], output_size=[3, 12, 12]).shape) == (3, 12, 12)
    m_op = ConvTranspose2d(2, 3, 3, stride=2, output_padding=1)
    assert tuple(m_op(x, output_size=[11, 11]).shape) == (1, 3, 11, 11)  # overrides it
    with pytest.raises(ValueError, match=r"^requested an output size of \[13, 13\], but valid "
                       r"sizes range from \[11, 11\] to \[12, 12\] \(for an input of "
                       r"torch.Size\(\[5, 5\]\)\)$"):
        m(x, output_size=[13, 13])
    with pytest.raises(ValueError, match=r"^ConvTranspose2D: for 4D input, output_size must have "
                       r"2 or 4 elements \(got 3\)$"):
        m(x, output_size=[1, 12, 12])
    with pytest.raises(ValueError, match=r"for 3D input, output_size must have 2 or 3 elements "
                       r"\(got 4\)"):
        m(x[0], output_size=[1, 3, 12, 12])


REPRS = [
    (lambda: ConvTranspose2d(3, 6, 5), "ConvTranspose2d(3, 6, kernel_size=(5, 5), stride=(1, 1))"),
    (lambda: ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2,
                             bias=False, dilation=2),
     "ConvTranspose2d(4, 6, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
     "output_padding=(1, 1), groups=2, bias=False)"),
    (lambda: ConvTranspose2d(4, 6, 3, output_padding=(0, 1), stride=(1, 2)),
     "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(1, 2), output_padding=(0, 1))"),
    (lambda: Bilinear(3, 4, 5), "Bilinear(in1_features=3, in2_features=4, out_features=5, "
                                "bias=True)"),
    (lambda: Bilinear(3, 4, 5, bias=False),
     "Bilinear(in1_features=3, in2_features=4, out_features=5, bias=False)"),
]


@pytest.mark.parametrize("make,text", REPRS)
def test_reprs_match_pytorch(make, text):
    assert repr(make()) == text


def test_conv_transpose2d_module_argument_errors():
    with pytest.raises(ValueError, match='^Only "zeros" padding mode is supported for '
                       'ConvTranspose2d$'):
        ConvTranspose2d(3, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="^in_channels must be divisible by groups$"):
        ConvTranspose2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="^out_channels must be divisible by groups$"):
        ConvTranspose2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="^groups must be a positive integer$"):
        ConvTranspose2d(4, 6, 3, groups=0)
    with pytest.raises(ValueError, match="padding='same' is not supported"):
        ConvTranspose2d(4, 6, 3, padding="same")


@pytest.mark.parametrize("call,msg", [
    (lambda x, w: F.conv_transpose2d(torch.randn(1, 3, 5, 5), w),
     r"Given transposed=1, weight of size \[4, 2, 3, 3\], expected input\[1, 3, 5, 5\] to have "
     r"4 channels, but got 3 channels instead"),
    (lambda x, w: F.conv_transpose2d(x, w, groups=3),
     r"Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of "
     r"size \[\[4, 2, 3, 3\]\] instead"),
    (lambda x, w: F.conv_transpose2d(x, w, bias=torch.randn(3)),
     r"Given transposed=1, weight of size \[4, 2, 3, 3\], expected bias to be 1-dimensional "
     r"with 2 elements, but got bias of size \[3\] instead"),
    (lambda x, w: F.conv_transpose2d(x, w, output_padding=(1, 0), stride=(1, 2)),
     "output padding must be smaller than either stride or dilation, but got "
     "output_padding_height: 1 output_padding_width: 0 stride_height: 1 stride_width: 2 "
     "dilation_height: 1 dilation_width: 1"),
    (lambda x, w: F.conv_transpose2d(torch.randn(4, 5, 5, 5, 5), w),
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv_transpose2d, but got input of "
     r"size: \[4, 5, 5, 5, 5\]"),
    (lambda x, w: F.conv_transpose2d(torch.randn(1, 4, 2, 2), w, padding=3),
     r"Given input size per channel: \(2 x 2\). Calculated output size per channel: \(-2 x -2\). "
     "Output size is too small"),
    (lambda x, w: F.conv_transpose2d(x, w, padding=-1), "negative padding is not supported"),
    (lambda x, w: F.conv_transpose2d(x, w, stride=0), "non-positive stride is not supported"),
    (lambda x, w: F.conv_transpose2d(x, w, output_padding=-1),
     "negative output_padding is not supported"),
    (lambda x, w: F.conv_transpose2d(x, w, dilation=0),
     "dilation should be greater than zero, but got dilation_height: 0, dilation_width: 0"),
    (lambda x, w: F.conv_transpose2d(x, w, groups=0), "non-positive groups is not supported"),
    (lambda x, w: F.conv_transpose2d(x, w, stride=(1, 2, 3)),
     r"expected stride to be a single integer value or a list of 2 values to match the "
     r"convolution dimensions, but got stride=\[1, 2, 3\]"),
])
def test_conv_transpose2d_error_messages(call, msg):
    x, w = torch.randn(1, 4, 5, 5), torch.randn(4, 2, 3, 3)
    with pytest.raises(RuntimeError, match=msg):
        call(x, w)


def test_conv_transpose2d_traces_with_dynamic_batch():
    torch.manual_seed(3)
    model = torch.nn.Sequential(ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1),
                                torch.nn.ReLU(),
                                ConvTranspose2d(4, 2, 2, dilation=2, output_padding=1, groups=2))
    traced = torch.jit.trace(model, torch.randn(2, 2, 3, 3), dynamic_dims={0: "B"})
    for batch in (1, 4):
        x = torch.randn(batch, 2, 3, 3)
        np.testing.assert_allclose(traced(x).numpy(force=True), model(x).numpy(force=True),
                                   rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------- bilinear

@pytest.mark.parametrize("batch", [(), (4,), (2, 3), (0,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_bilinear_matches_einsum(batch, with_bias):
    x1, x2 = RNG.normal(size=batch + (3,)), RNG.normal(size=batch + (4,))
    w, b = RNG.normal(size=(5, 3, 4)), RNG.normal(size=5)
    out = F.bilinear(t(x1), t(x2), t(w), t(b) if with_bias else None)
    ref = np.einsum("...i,oij,...j->...o", x1, w, x2) + (b if with_bias else 0)
    assert tuple(out.shape) == batch + (5,)
    np.testing.assert_allclose(out.numpy(force=True), ref, rtol=1e-10, atol=1e-12)


def test_bilinear_module_forward_float32():
    torch.manual_seed(0)
    m = Bilinear(3, 2, 4)
    x1, x2 = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    out = m(t(x1).float(), t(x2).float())
    assert out.dtype == torch.float32
    w, b = m.weight.numpy(force=True).astype(np.float64), m.bias.numpy(force=True)
    ref = np.array([[x1[n] @ w[o] @ x2[n] + b[o] for o in range(4)] for n in range(5)])
    np.testing.assert_allclose(out.numpy(force=True), ref, rtol=1e-5, atol=1e-6)


def test_bilinear_gradcheck():
    x1, x2 = t(RNG.normal(size=(2, 3)), grad=True), t(RNG.normal(size=(2, 2)), grad=True)
    w, b = t(RNG.normal(size=(2, 3, 2)), grad=True), t(RNG.normal(size=2), grad=True)
    assert gradcheck(F.bilinear, (x1, x2, w, b))
    assert gradcheck(lambda a, c, w: F.bilinear(a, c, w), (x1[0].detach().requires_grad_(),
                                                         x2[1].detach().requires_grad_(), w))


def test_bilinear_init_bounds():
    """PyTorch: weight and bias both U(-1/sqrt(in1), 1/sqrt(in1)) (in2 plays no part)."""
    torch.manual_seed(0)
    m = Bilinear(16, 50, 7)
    bound = 1 / np.sqrt(16)
    w, b = m.weight.numpy(force=True), m.bias.numpy(force=True)
    assert tuple(w.shape) == (7, 16, 50) and tuple(b.shape) == (7,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound  # 5600 draws
    assert abs(w.mean()) < 0.05 * bound and abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert np.abs(b).max() <= bound
    assert Bilinear(2, 3, 4, bias=False).bias is None


@pytest.mark.parametrize("a,c,w,bias,kind,msg", [
    ((2, 3), (3, 4), (5, 3, 4), None, RuntimeError,
     "input batch dimensions do not match at dim 0: got 2 and 3"),
    ((2, 3), (2, 5), (5, 3, 4), None, RuntimeError,
     "input2 size does not match weight size: got 5 but expected 4"),
    ((2, 4), (2, 4), (5, 3, 4), None, RuntimeError,
     "input1 size does not match weight size: got 4 but expected 3"),
    ((2, 1, 3), (2, 4), (5, 3, 4), None, RuntimeError,
     "input dimensions do not match: got 3 and 2"),
    ((2, 3), (2, 4), (5, 3, 4), (4,), RuntimeError,
     "bias size does not match weight size: got 4 but expected 5"),
])
def test_bilinear_error_messages(a, c, w, bias, kind, msg):
    with pytest.raises(kind, match=msg):
        F.bilinear(torch.randn(*a), torch.randn(*c), torch.randn(*w),
                   None if bias is None else torch.randn(*bias))


def test_bilinear_traces_with_dynamic_batch():
    torch.manual_seed(4)
    m = Bilinear(3, 4, 2)
    traced = torch.jit.trace(m, (torch.randn(5, 3), torch.randn(5, 4)),
                             dynamic_dims=[{0: "B"}, {0: "B"}])
    for batch in (1, 6):
        x1, x2 = torch.randn(batch, 3), torch.randn(batch, 4)
        np.testing.assert_allclose(traced(x1, x2).numpy(force=True),
                                   m(x1, x2).numpy(force=True), rtol=1e-5, atol=1e-6)
