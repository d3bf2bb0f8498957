"""Convolution, pooling, normalization and embedding layers: values against NumPy loops and
PyTorch's documented formulas, float64 gradchecks, PyTorch 2.13 reprs, BatchNorm's running
statistics, and a small CNN traced with a dynamic batch."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as torch
from dualgraph.autograd.gradcheck import gradcheck
from dualgraph.nn import functional_layers as F
from dualgraph.nn.modules.conv import Conv1d, Conv2d
from dualgraph.nn.modules.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from dualgraph.nn.modules.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from dualgraph.nn.modules.sparse import Embedding

RNG = np.random.default_rng(7)


def t(a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def conv_loop(x, w, b=None, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=1):
    """Direct 2-D cross-correlation by loops over every output element."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for bi in range(n):
        for oc in range(o):
            g = oc // (o // groups)
            for i in range(oh):
                for j in range(ow):
                    r = xp[bi, g * cg:(g + 1) * cg, i * stride[0]:, j * stride[1]:]
                    patch = r[:, :dil[0] * (kh - 1) + 1:dil[0], :dil[1] * (kw - 1) + 1:dil[1]]
                    out[bi, oc, i, j] = (patch * w[oc]).sum() + (0 if b is None else b[oc])
    return out


# -------------------------------------------------------------------------------- convolution

@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"dilation": (2, 1)},
                                {"groups": 2, "padding": (0, 1)}])
def test_conv2d_matches_loops(kw):
    x, w, b = RNG.normal(size=(2, 4, 6, 5)), RNG.normal(size=(4, 4 // kw.get("groups", 1), 3, 2)), \
        RNG.normal(size=4)
    out = F.conv2d(t(x), t(w), t(b), **kw)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    ref = conv_loop(x, w, b, pair(kw.get("stride", 1)), pair(kw.get("padding", 0)),
                    pair(kw.get("dilation", 1)), kw.get("groups", 1))
    np.testing.assert_allclose(out.numpy(force=True), ref, rtol=1e-10, atol=1e-12)


def test_conv2d_unbatched_same_and_float32():
    x, w = RNG.normal(size=(3, 5, 5)), RNG.normal(size=(2, 3, 3, 3))
    out = F.conv2d(t(x).float(), t(w).float(), padding="same")
    assert tuple(out.shape) == (2, 5, 5) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), conv_loop(x[None], w, pad=(1, 1))[0], rtol=1e-4,
                               atol=1e-5)


def test_conv1d_matches_loops():
    x, w, b = RNG.normal(size=(2, 3, 7)), RNG.normal(size=(4, 3, 3)), RNG.normal(size=4)
    out = F.conv1d(t(x), t(w), t(b), stride=2, padding=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    ref = np.array([[[sum(xp[n, c, 2 * i + k] * w[o, c, k] for c in range(3) for k in range(3))
                      + b[o] for i in range(4)] for o in range(4)] for n in range(2)])
    np.testing.assert_allclose(out.numpy(force=True), ref, rtol=1e-10, atol=1e-12)


def test_conv_gradcheck_and_grad_fn():
    x, w, b = (t(RNG.normal(size=s), grad=True) for s in ((1, 2, 4, 4), (2, 1, 2, 2), (2,)))
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2),
                     (x, w, b))
    assert F.conv2d(x, w, groups=2).grad_fn.name() == "ConvolutionBackward0"
    x1, w1 = t(RNG.normal(size=(1, 2, 5)), grad=True), t(RNG.normal(size=(3, 2, 2)), grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, dilation=2), (x1, w1))


def test_conv2d_channel_mismatch_message():
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[6, 3, 5, 5\], "
                       r"expected input\[1, 4, 32, 32\] to have 3 channels, but got 4 channels "
                       "instead"):
        F.conv2d(torch.zeros(1, 4, 32, 32), torch.zeros(6, 3, 5, 5))


def test_conv_modules_init_and_shapes():
    torch.manual_seed(0)
    m = Conv2d(3, 6, 5)
    bound = 1 / np.sqrt(3 * 25)
    assert tuple(m.weight.shape) == (6, 3, 5, 5)
    assert np.abs(m.weight.numpy(force=True)).max() <= bound
    assert np.abs(m.bias.numpy(force=True)).max() <= bound
    assert tuple(m(torch.zeros(2, 3, 32, 32)).shape) == (2, 6, 28, 28)
    c1 = Conv1d(4, 8, 3, stride=2, padding=1, bias=False)
    assert tuple(c1(torch.zeros(2, 4, 9)).shape) == (2, 8, 5) and c1.bias is None
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]


# ------------------------------------------------------------------------------------ pooling

def test_max_pool2d_values_indices_and_grad():
    x = RNG.permutation(2 * 36).reshape(1, 2, 6, 6) / 10.0
    vals, idx = F.max_pool2d(t(x), 3, stride=2, padding=1, return_indices=True)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    for c in range(2):
        for i in range(3):
            for j in range(3):
                win = xp[0, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
                assert vals.numpy(force=True)[0, c, i, j] == win.max()
                r, q = np.unravel_index(np.argmax(win), (3, 3))
                assert idx.numpy()[0, c, i, j] == (2 * i + r - 1) * 6 + (2 * j + q - 1)
    xt = t(x, grad=True)
    assert gradcheck(lambda a: F.max_pool2d(a, 2, dilation=2, stride=1), (xt,))
    assert F.max_pool2d(xt, 2).grad_fn.name() == "MaxPool2DWithIndicesBackward0"


def test_avg_pool2d_matches_loops():
    x = RNG.normal(size=(2, 3, 5, 5))
    out = F.avg_pool2d(t(x), 3, stride=2, padding=1, count_include_pad=False).numpy(force=True)
    inc = F.avg_pool2d(t(x), 3, stride=2, padding=1).numpy(force=True)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ones = np.pad(np.ones((5, 5)), 1)
    for i in range(3):
        for j in range(3):
            win = xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].sum(axis=(2, 3))
            np.testing.assert_allclose(inc[:, :, i, j], win / 9)
            np.testing.assert_allclose(out[:, :, i, j],
                                       win / ones[2 * i:2 * i + 3, 2 * j:2 * j + 3].sum())
    assert gradcheck(lambda a: F.avg_pool2d(a, 2), (t(RNG.normal(size=(1, 1, 4, 4)), True),))


def test_adaptive_avg_pool2d_windows():
    x = RNG.normal(size=(1, 2, 5, 7))
    out = F.adaptive_avg_pool2d(t(x), (3, 2)).numpy(force=True)
    for i in range(3):
        for j in range(2):
            h0, h1 = (i * 5) // 3, -(-(i + 1) * 5 // 3)
            w0, w1 = (j * 7) // 2, -(-(j + 1) * 7 // 2)
            np.testing.assert_allclose(out[:, :, i, j], x[:, :, h0:h1, w0:w1].mean(axis=(2, 3)))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(t(x), 1).numpy(force=True),
                               x.mean(axis=(2, 3), keepdims=True))
    assert tuple(AdaptiveAvgPool2d((None, 3))(t(x)).shape) == (1, 2, 5, 3)


# ------------------------------------------------------------------------------ normalization

def test_layer_norm_formula_and_grad():
    x, w, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(1, 2), keepdims=True)
    ref = (x - mean) / np.sqrt(var + 1e-5) * w + b
    np.testing.assert_allclose(F.layer_norm(t(x), (3, 4), t(w), t(b)).numpy(), ref, rtol=1e-10)
    ln = LayerNorm(4)
    np.testing.assert_allclose(ln.weight.numpy(force=True), 1.0)
    assert gradcheck(lambda a, w: F.layer_norm(a, (4,), w), (t(x, True), t(w[0], True)))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[5\], expected input with "
                       r"shape \[\*, 5\], but got input of size\[2, 3, 4\]"):
        F.layer_norm(t(x), 5)


def test_group_norm_formula_and_grad():
    x, w, b = RNG.normal(size=(2, 4, 3)), RNG.normal(size=4), RNG.normal(size=4)
    g = x.reshape(2, 2, 6)
    norm = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5))
    ref = norm.reshape(2, 4, 3) * w[:, None] + b[:, None]
    np.testing.assert_allclose(GroupNorm(2, 4)(t(x)).numpy(force=True),
                               norm.reshape(2, 4, 3), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.group_norm(t(x), 2, t(w), t(b)).numpy(force=True), ref, rtol=1e-10)
    assert gradcheck(lambda a, w: F.group_norm(a, 2, w), (t(x, True), t(w, True)))


def test_batch_norm_running_stats_and_eval():
    torch.manual_seed(0)
    bn = BatchNorm2d(3, momentum=0.2)
    with torch.no_grad():
        bn.weight.copy_(t(np.array([1.0, 2.0, 0.5], dtype=np.float32)))
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = RNG.normal(loc=step, size=(4, 3, 2, 2)).astype(np.float32)
        out = bn(t(x)).numpy(force=True)
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        ref = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
        np.testing.assert_allclose(out, ref * np.array([1, 2, 0.5])[:, None, None], rtol=1e-4,
                                   atol=1e-5)
        rm = 0.8 * rm + 0.2 * mean
        rv = 0.8 * rv + 0.2 * x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 3
    bn.eval()
    x = RNG.normal(size=(2, 3, 2, 2)).astype(np.float32)
    ref = (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5)
    scale = np.array([1, 2, 0.5])[:, None, None]
    np.testing.assert_allclose(bn(t(x)).numpy(force=True), ref * scale, rtol=1e-4, atol=1e-5)


def test_batch_norm1d_cumulative_and_grad():
    bn = BatchNorm1d(2, momentum=None, affine=False)
    xs = [RNG.normal(size=(5, 2)) for _ in range(2)]
    for x in xs:
        bn(t(x).float())
    np.testing.assert_allclose(bn.running_mean.numpy(), (xs[0].mean(0) + xs[1].mean(0)) / 2,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        bn(torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        bn(torch.zeros(1, 2, 1, 1))
    x = t(RNG.normal(size=(4, 2, 3)), True)
    w, b = t(RNG.normal(size=2), True), t(RNG.normal(size=2), True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))


# ---------------------------------------------------------------------------------- embedding

def test_embedding_lookup_and_padding_grad():
    emb = Embedding(5, 3, padding_idx=1)
    np.testing.assert_array_equal(emb.weight.numpy(force=True)[1], 0.0)
    idx = torch.tensor([[0, 1, 4], [1, 4, 4]])
    out = emb(idx)
    np.testing.assert_array_equal(out.numpy(force=True), emb.weight.numpy(force=True)[idx.numpy()])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(force=True)[:, 0], [1, 0, 0, 0, 3])
    assert Embedding(5, 2, padding_idx=-1).padding_idx == 4


# ---------------------------------------------------------------------------------- reprs

REPRS = [
    (lambda: Conv2d(3, 6, 5), "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))"),
    (lambda: Conv2d(3, 6, (3, 2), stride=2, padding=1, dilation=2, groups=3, bias=False),
     "Conv2d(3, 6, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
     "groups=3, bias=False)"),
    (lambda: Conv2d(2, 4, 3, padding="same"),
     "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=same)"),
    (lambda: Conv1d(4, 8, 3, stride=2, padding=1),
     "Conv1d(4, 8, kernel_size=(3,), stride=(2,), padding=(1,))"),
    (lambda: MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
     "ceil_mode=False)"),
    (lambda: MaxPool2d(3, stride=2, padding=1, dilation=2, return_indices=True),
     "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=False)"),
    (lambda: AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: AdaptiveAvgPool2d((1, 1)), "AdaptiveAvgPool2d(output_size=(1, 1))"),
    (lambda: AdaptiveAvgPool2d((None, 7)), "AdaptiveAvgPool2d(output_size=(None, 7))"),
    (lambda: LayerNorm(4), "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"),
    (lambda: LayerNorm((3, 4), eps=1e-6, elementwise_affine=False),
     "LayerNorm((3, 4), eps=1e-06, elementwise_affine=False, bias=False)"),
    (lambda: BatchNorm1d(4), "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
     "track_running_stats=True)"),
    (lambda: BatchNorm2d(3, momentum=None, affine=False, track_running_stats=False),
     "BatchNorm2d(3, eps=1e-05, momentum=None, affine=False, bias=False, "
     "track_running_stats=False)"),
    (lambda: GroupNorm(2, 4), "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"),
    (lambda: Embedding(10, 3, padding_idx=0), "Embedding(10, 3, padding_idx=0)"),
    (lambda: Embedding(10, 3, max_norm=1.0), "Embedding(10, 3, max_norm=1.0)"),
]


@pytest.mark.parametrize("make,expected", REPRS)
def test_reprs_match_pytorch(make, expected):
    assert repr(make()) == expected


def test_batch_norm_state_dict_keys():
    assert list(BatchNorm2d(3).state_dict()) == ["weight", "bias", "running_mean",
                                                 "running_var", "num_batches_tracked"]


# ------------------------------------------------------------------------------ traced CNN

def test_small_cnn_traced_with_dynamic_batch():
    torch.manual_seed(1)
    model = torch.nn.Sequential(Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), MaxPool2d(2),
                                Conv2d(4, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(2 * 2 * 2, 3))
    traced = torch.jit.trace(model, torch.randn(2, 1, 8, 8), dynamic_dims={0: "B"})
    for batch in (1, 5):
        x = torch.randn(batch, 1, 8, 8)
        np.testing.assert_allclose(traced(x).numpy(force=True), model(x).numpy(force=True),
                                   rtol=1e-5, atol=1e-6)


def test_norms_and_pools_traced_with_dynamic_batch():
    bn = BatchNorm2d(4)
    bn(torch.randn(3, 4, 8, 8))  # move the running statistics off their initial values
    bn.eval()
    model = torch.nn.Sequential(Conv2d(1, 4, 3, padding=1), GroupNorm(2, 4), bn, AvgPool2d(2),
                                AdaptiveAvgPool2d(3), LayerNorm(3), torch.nn.Flatten(1))
    traced = torch.jit.trace(model, torch.randn(2, 1, 8, 8), dynamic_dims={0: "B"})
    emb = Embedding(5, 3, padding_idx=0)
    traced_emb = torch.jit.trace(emb, torch.tensor([[0, 1], [2, 3]]), dynamic_dims={0: "B"})
    for batch in (1, 4):
        x = torch.randn(batch, 1, 8, 8)
        np.testing.assert_allclose(traced(x).numpy(force=True), model(x).numpy(force=True),
                                   rtol=1e-5, atol=1e-6)
        idx = torch.randint(0, 5, (batch, 2))
        np.testing.assert_array_equal(traced_emb(idx).numpy(force=True),
                                      emb(idx).numpy(force=True))
