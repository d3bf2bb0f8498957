"""Recurrent layers and attention: RNN/LSTM/GRU (+ cells) and MultiheadAttention /
TransformerEncoderLayer against NumPy implementations of PyTorch's documented equations, values
and reprs captured from PyTorch 2.13, gradcheck, tracing with a dynamic batch, a tiny training
loop."""

from __future__ import annotations

import numpy as np
import pytest

import dualgraph as torch
from dualgraph.autograd import gradcheck
from dualgraph.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

RNG = np.random.default_rng(0)


def _np(t):
    return t.detach().numpy()


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# ------------------------------------------------------------------ NumPy reference equations

def _ref_cell(mode, x, state, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's documented cell equations, gate by gate."""
    b_ih = 0.0 if b_ih is None else b_ih
    b_hh = 0.0 if b_hh is None else b_hh
    gi, gh = x @ w_ih.T + b_ih, None
    if mode == "LSTM":
        h, c = state
        gates = gi + h @ w_hh.T + b_hh
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        return _sig(o) * np.tanh(c), c
    if mode == "GRU":
        gh = state @ w_hh.T + b_hh
        (ir, iz, inn), (hr, hz, hn) = np.split(gi, 3, -1), np.split(gh, 3, -1)
        r, z = _sig(ir + hr), _sig(iz + hz)
        n = np.tanh(inn + r * hn)
        return (1 - z) * n + z * state
    pre = gi + state @ w_hh.T + b_hh
    return np.tanh(pre) if mode == "tanh" else np.maximum(pre, 0)


def _ref_seq(m, mode, x, hx):
    """Stacked, optionally bidirectional reference; x (L, N, H_in); hx tuple of (D*layers,N,H)."""
    dirs = 2 if m.bidirectional else 1
    finals = [[] for _ in hx]
    for layer in range(m.num_layers):
        outs = []
        for d, sfx in enumerate(["", "_reverse"][:dirs]):
            p = {k: (_np(getattr(m, f"{k}_l{layer}{sfx}")) if m.bias or k.startswith("w")
                     else None) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            w_hr = getattr(m, f"weight_hr_l{layer}{sfx}", None)
            state = tuple(s[layer * dirs + d] for s in hx)
            state = state if mode == "LSTM" else state[0]
            steps = range(x.shape[0])[::-1] if d else range(x.shape[0])
            out = [None] * x.shape[0]
            for t in steps:
                state = _ref_cell(mode, x[t], state, p["weight_ih"], p["weight_hh"],
                                  p["bias_ih"], p["bias_hh"])
                if w_hr is not None:  # LSTM with projections: h_t = W_hr (o * tanh(c_t))
                    state = (state[0] @ _np(w_hr).T, state[1])
                out[t] = state[0] if mode == "LSTM" else state
            outs.append(np.stack(out))
            for acc, s in zip(finals, state if mode == "LSTM" else (state,)):
                acc.append(s)
        x = np.concatenate(outs, -1)
    return x, tuple(np.stack(a) for a in finals)


CASES = [
    (RNN, "tanh", {}), (RNN, "relu", {"nonlinearity": "relu", "num_layers": 2}),
    (LSTM, "LSTM", {}), (LSTM, "LSTM", {"num_layers": 2, "bidirectional": True}),
    (LSTM, "LSTM", {"bias": False, "batch_first": True}),
    (GRU, "GRU", {}), (GRU, "GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    (RNN, "tanh", {"bidirectional": True}), (LSTM, "LSTM", {"proj_size": 2}),
    (LSTM, "LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True}),
]


@pytest.mark.parametrize("cls,mode,kw", CASES)
@pytest.mark.parametrize("with_hx", [False, True])
def test_sequence_layers_match_numpy(cls, mode, kw, with_hx):
    m = cls(3, 4, **kw).double()
    dirs, layers = (2 if m.bidirectional else 1), m.num_layers
    x = RNG.standard_normal((5, 2, 3))
    h_size = kw.get("proj_size") or 4
    hx = (RNG.standard_normal((dirs * layers, 2, h_size)),) + (
        (RNG.standard_normal((dirs * layers, 2, 4)),) if mode == "LSTM" else ())
    ref_hx = hx if with_hx else tuple(np.zeros_like(h) for h in hx)
    ref_out, ref_h = _ref_seq(m, mode, x, ref_hx)
    xin = np.swapaxes(x, 0, 1) if m.batch_first else x
    arg = None
    if with_hx:
        arg = tuple(torch.tensor(h) for h in hx) if mode == "LSTM" else torch.tensor(hx[0])
    out, h_n = m(torch.tensor(xin), arg)
    got = np.swapaxes(_np(out), 0, 1) if m.batch_first else _np(out)
    np.testing.assert_allclose(got, ref_out, rtol=1e-10, atol=1e-12)
    states = h_n if mode == "LSTM" else (h_n,)
    assert isinstance(h_n, tuple) == (mode == "LSTM")
    for g, r in zip(states, ref_h):
        np.testing.assert_allclose(_np(g), r, rtol=1e-10, atol=1e-12)
    assert tuple(out.shape) == (xin.shape[0], xin.shape[1], h_size * dirs)
    assert tuple(states[0].shape) == (dirs * layers, 2, h_size)


def test_unbatched_input_and_float32():
    m = GRU(3, 2, num_layers=2)
    x = RNG.standard_normal((6, 3)).astype(np.float32)
    out, h = m(torch.tensor(x))
    assert tuple(out.shape) == (6, 2) and tuple(h.shape) == (2, 2)
    assert out.dtype == torch.float32
    ref, _ = _ref_seq(m, "GRU", x[:, None].astype(np.float64), (np.zeros((2, 1, 2)),))
    np.testing.assert_allclose(_np(out), ref[:, 0], rtol=1e-5, atol=1e-6)


def _fill(m):
    """Deterministic weights, the same ones used to capture the values from PyTorch 2.13."""
    for i, (_, p) in enumerate(m.named_parameters()):
        vals = np.sin(np.arange(p.numel()) * 0.7 + i).reshape(tuple(p.shape)) * 0.5
        p.data = torch.tensor(vals)


@pytest.mark.parametrize("cls,expected", [
    (RNN, [[0.3365675503621428, -0.2941697131360065], [0.5837631527038184, -0.16459610536835173]]),
    (LSTM, [[-0.2730948802130057, 0.10398386888710381],
            [-0.3534190115849554, -0.05680412377360993]]),
    (GRU, [[-0.5448004039284223, 0.3675627025676028], [-0.54564299623259, -0.07504538711957348]]),
])
def test_values_captured_from_pytorch(cls, expected):
    m = cls(3, 2).double()
    _fill(m)
    x = torch.tensor(np.cos(np.arange(18) * 0.3).reshape(3, 2, 3))
    out, _ = m(x)
    np.testing.assert_allclose(_np(out[-1]), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,mode", [(RNNCell, "tanh"), (LSTMCell, "LSTM"), (GRUCell, "GRU")])
def test_cells_match_numpy(cls, mode):
    m = cls(3, 4).double()
    x = RNG.standard_normal((2, 3))
    h = RNG.standard_normal((2, 4))
    state = (h, h * 0.5) if mode == "LSTM" else h
    arg = (torch.tensor(h), torch.tensor(h * 0.5)) if mode == "LSTM" else torch.tensor(h)
    ref = _ref_cell(mode, x, state, *(_np(p) for p in m.parameters()))
    got = m(torch.tensor(x), arg)
    for g, r in zip(got if mode == "LSTM" else (got,), ref if mode == "LSTM" else (ref,)):
        np.testing.assert_allclose(_np(g), r, rtol=1e-10, atol=1e-12)
    unbatched = m(torch.tensor(x[0]))  # default zero state, 1-D input
    first = unbatched[0] if mode == "LSTM" else unbatched
    zero = (np.zeros(4), np.zeros(4)) if mode == "LSTM" else np.zeros(4)
    ref0 = _ref_cell(mode, x[0], zero, *(_np(p) for p in m.parameters()))
    np.testing.assert_allclose(_np(first), ref0[0] if mode == "LSTM" else ref0, rtol=1e-10)


def test_relu_cell_and_no_bias():
    m = RNNCell(3, 2, bias=False, nonlinearity="relu").double()
    assert m.bias_ih is None and len(list(m.parameters())) == 2
    x = RNG.standard_normal((4, 3))
    ref = np.maximum(x @ _np(m.weight_ih).T, 0)
    np.testing.assert_allclose(_np(m(torch.tensor(x))), ref, rtol=1e-12)


def test_parameter_names_shapes_and_init():
    m = LSTM(4, 3, 2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names == ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0',
                     'weight_ih_l0_reverse', 'weight_hh_l0_reverse', 'bias_ih_l0_reverse',
                     'bias_hh_l0_reverse', 'weight_ih_l1', 'weight_hh_l1', 'bias_ih_l1',
                     'bias_hh_l1', 'weight_ih_l1_reverse', 'weight_hh_l1_reverse',
                     'bias_ih_l1_reverse', 'bias_hh_l1_reverse']
    assert tuple(m.weight_ih_l0.shape) == (12, 4) and tuple(m.weight_ih_l1.shape) == (12, 6)
    assert tuple(m.weight_hh_l1_reverse.shape) == (12, 3)
    assert tuple(GRU(4, 3).bias_hh_l0.shape) == (9,)
    big = GRU(50, 100)
    vals = np.concatenate([_np(p).ravel() for p in big.parameters()])
    assert np.abs(vals).max() <= 0.1 and np.abs(vals).max() > 0.099
    assert abs(vals.mean()) < 0.005 and abs(vals.std() - 0.1 / np.sqrt(3)) < 0.002
    assert sorted(m.state_dict()) == sorted(names)


def test_reprs_match_pytorch():
    assert repr(RNN(10, 20)) == "RNN(10, 20)"
    assert repr(RNN(10, 20, 2, nonlinearity='relu', bias=False, batch_first=True, dropout=0.5,
                    bidirectional=True)) == ("RNN(10, 20, num_layers=2, bias=False, "
                                             "batch_first=True, dropout=0.5, bidirectional=True)")
    assert repr(LSTM(4, 3, num_layers=2)) == "LSTM(4, 3, num_layers=2)"
    assert repr(LSTM(4, 3, 2, proj_size=2, bidirectional=True)) == \
        "LSTM(4, 3, proj_size=2, num_layers=2, bidirectional=True)"
    assert repr(GRU(4, 3, bidirectional=True)) == "GRU(4, 3, bidirectional=True)"
    assert repr(RNNCell(4, 3)) == "RNNCell(4, 3)"
    assert repr(RNNCell(4, 3, bias=False, nonlinearity='relu')) == \
        "RNNCell(4, 3, bias=False, nonlinearity=relu)"
    assert repr(LSTMCell(4, 3)) == "LSTMCell(4, 3)"
    assert repr(GRUCell(4, 3, bias=False)) == "GRUCell(4, 3, bias=False)"


def test_errors():
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. "
                                           r"Expected 4, got 3"):
        LSTM(4, 3)(torch.zeros(5, 2, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 3\), got "
                                           r"\[1, 3, 3\]"):
        LSTM(4, 3)(torch.zeros(5, 2, 4), (torch.zeros(1, 3, 3), torch.zeros(1, 2, 3)))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        RNN(4, 3, nonlinearity="gelu")
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        LSTM(4, 3, proj_size=3)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 2, 2\)"):
        LSTM(4, 3, 2, proj_size=2)(torch.zeros(5, 2, 4), (torch.zeros(2, 2, 3),) * 2)
    with pytest.raises(ValueError, match="dropout should be a number"):
        GRU(4, 3, dropout=1.5)


def test_dropout_between_layers_train_only():
    torch.manual_seed(0)
    m = LSTM(3, 4, num_layers=2, dropout=0.5).double()
    x = torch.tensor(RNG.standard_normal((5, 2, 3)))
    m.eval()
    ref, _ = _ref_seq(m, "LSTM", _np(x), (np.zeros((2, 2, 4)),) * 2)
    np.testing.assert_allclose(_np(m(x)[0]), ref, rtol=1e-10)
    m.train()
    a, b = _np(m(x)[0]), _np(m(x)[0])
    assert not np.allclose(a, ref) and not np.allclose(a, b)
    one = LSTM(3, 4, num_layers=1, dropout=0.0).double()
    one.train()
    np.testing.assert_allclose(_np(one(x)[0]), _np(one(x)[0]))  # no dropout after last layer


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_gradcheck_float64(cls):
    m = cls(2, 2, bidirectional=True).double()
    x = torch.tensor(RNG.standard_normal((3, 2, 2)), requires_grad=True)
    w = m.weight_hh_l0_reverse

    def f(x, w):
        m.weight_hh_l0_reverse = w
        out, h = m(x)
        return out.sum() + (h[1] if cls is LSTM else h).square().sum()

    try:
        assert gradcheck(f, (x, w.detach().clone().requires_grad_(True)))
    finally:
        m.weight_hh_l0_reverse = w


def test_backward_reaches_every_parameter():
    m = GRU(3, 2, num_layers=2, bidirectional=True)
    out, h = m(torch.randn(4, 2, 3))
    (out.sum() + h.sum()).backward()
    assert all(p.grad is not None and np.abs(_np(p.grad)).sum() > 0 for p in m.parameters())


def test_traced_lstm_dynamic_batch_matches_eager():
    m = LSTM(4, 3, 2, batch_first=True)
    traced = torch.jit.trace(m, torch.randn(2, 5, 4), dynamic_dims={0: "B"})
    for batch in (2, 3, 7):
        x = torch.randn(batch, 5, 4)
        (out, (h, c)), (tout, (th, tc)) = m(x), traced(x)
        assert tuple(tout.shape) == (batch, 5, 3) and tuple(tc.shape) == (2, batch, 3)
        for a, b in ((out, tout), (h, th), (c, tc)):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)


def test_char_level_training_loss_decreases():
    from dualgraph.nn.modules.linear import Linear
    from dualgraph.optim import Adam
    import dualgraph.nn.functional as F

    torch.manual_seed(0)
    text = "hello world, hello rnn. "
    chars = sorted(set(text))
    idx = np.array([chars.index(c) for c in text])
    x = torch.tensor(np.eye(len(chars), dtype=np.float32)[idx[:-1]][:, None])  # (L, 1, V)
    y = torch.tensor(idx[1:])
    lstm, head = LSTM(len(chars), 16), Linear(16, len(chars))
    opt = Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.05)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        out, _ = lstm(x)
        loss = F.cross_entropy(head(out[:, 0]), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --------------------------------------------------------------- attention and encoder layer

from dualgraph.nn.modules.transformer import (MultiheadAttention,  # noqa: E402
                                              TransformerEncoderLayer)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _ref_mha(m, q, k, v, key_padding_mask=None, attn_mask=None):
    """Per batch element and head: softmax(q k^T / sqrt(d) + mask) v, then out_proj.
    q (L, N, E); returns (L, N, E) and weights (N, heads, L, S)."""
    b = _np(m.in_proj_bias)
    e, heads = m.embed_dim, m.num_heads
    d = e // heads
    if m.in_proj_weight is not None:
        w = _np(m.in_proj_weight)
        wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
    else:
        wq, wk, wv = (_np(t) for t in (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight))
    bq, bk, bv = b[:e], b[e:2 * e], b[2 * e:]
    L, N, _ = q.shape
    S = k.shape[0]
    out = np.zeros((L, N, e))
    weights = np.zeros((N, heads, L, S))
    for n in range(N):
        Q, K, V = q[:, n] @ wq.T + bq, k[:, n] @ wk.T + bk, v[:, n] @ wv.T + bv
        heads_out = []
        for h in range(heads):
            sl = slice(h * d, (h + 1) * d)
            scores = Q[:, sl] @ K[:, sl].T / np.sqrt(d)
            if attn_mask is not None:
                am = attn_mask if attn_mask.ndim == 2 else attn_mask[n * heads + h]
                scores = np.where(am, -np.inf, scores) if am.dtype == bool else scores + am
            if key_padding_mask is not None:
                kp = key_padding_mask[n]
                scores = np.where(kp[None], -np.inf, scores) if kp.dtype == bool else \
                    scores + kp[None]
            p = _softmax(scores)
            weights[n, h] = p
            heads_out.append(p @ V[:, sl])
        out[:, n] = np.concatenate(heads_out, -1) @ _np(m.out_proj.weight).T + \
            _np(m.out_proj.bias)
    return out, weights


def _tensor(a):
    return None if a is None else torch.tensor(a)


MASKS = {
    "none": (None, None),
    "pad_bool": (np.array([[False] * 4 + [True], [False] * 5, [True] + [False] * 4]), None),
    "attn_float": (None, RNG.standard_normal((4, 5))),
    "attn_bool_3d": (None, np.arange(6 * 4 * 5).reshape(6, 4, 5) % 4 == 1),
    "both_float": (RNG.standard_normal((3, 5)), RNG.standard_normal((4, 5))),
}


@pytest.mark.parametrize("mask", sorted(MASKS))
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_numpy(mask, average):
    m = MultiheadAttention(6, 2).double()
    with torch.no_grad():  # non-zero projections' biases, to test them too
        m.in_proj_bias.copy_(torch.tensor(RNG.standard_normal(18)))
    q, k, v = (RNG.standard_normal(s) for s in ((4, 3, 6), (5, 3, 6), (5, 3, 6)))
    kpm, am = MASKS[mask]
    ref_out, ref_w = _ref_mha(m, q, k, v, kpm, am)
    out, w = m(torch.tensor(q), torch.tensor(k), torch.tensor(v), key_padding_mask=_tensor(kpm),
               attn_mask=_tensor(am), average_attn_weights=average)
    np.testing.assert_allclose(_np(out), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(w), ref_w.mean(1) if average else ref_w, rtol=1e-10,
                               atol=1e-12)


def test_multihead_attention_batch_first_unbatched_and_no_weights():
    m = MultiheadAttention(4, 2, batch_first=True).double()
    x = RNG.standard_normal((2, 3, 4))  # (N, L, E)
    ref, ref_w = _ref_mha(m, x.swapaxes(0, 1), x.swapaxes(0, 1), x.swapaxes(0, 1))
    out, w = m(torch.tensor(x), torch.tensor(x), torch.tensor(x), need_weights=False)
    assert w is None
    np.testing.assert_allclose(_np(out), ref.swapaxes(0, 1), rtol=1e-10)
    out1, w1 = m(torch.tensor(x[0]), torch.tensor(x[0]), torch.tensor(x[0]))  # (L, E)
    np.testing.assert_allclose(_np(out1), ref[:, 0], rtol=1e-10)
    np.testing.assert_allclose(_np(w1), ref_w[0].mean(0), rtol=1e-10)


def test_multihead_attention_params_init_and_repr():
    m = MultiheadAttention(8, 2)
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias",
                                                    "out_proj.weight", "out_proj.bias"]
    assert tuple(m.in_proj_weight.shape) == (24, 8)
    assert np.all(_np(m.in_proj_bias) == 0) and np.all(_np(m.out_proj.bias) == 0)
    assert np.abs(_np(m.in_proj_weight)).max() <= np.sqrt(6 / 32)
    assert repr(m) == ("MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear("
                       "in_features=8, out_features=8, bias=True)\n)")
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        MultiheadAttention(6, 4)


def test_values_captured_from_pytorch_attention_and_encoder():
    x = torch.tensor(np.cos(np.arange(24) * 0.3).reshape(3, 2, 4))
    m = MultiheadAttention(4, 2).double().eval()
    _fill(m)
    out, w = m(x, x, x)
    np.testing.assert_allclose(_np(out[-1]), [
        [0.1490167136902506, -0.5722868912663397, 0.024961792983195397, -1.099198371820929],
        [0.15407447857134093, -0.5269923196473969, -0.06545108647866338, -0.9741148736135794]],
        rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(w[0, 0]), [0.20358125289211199, 0.4617360347208246,
                                              0.33468271238706354], rtol=1e-12)
    layer = TransformerEncoderLayer(4, 2, 6).double().eval()
    _fill(layer)
    np.testing.assert_allclose(_np(layer(x)[-1]), [
        [-0.8945177372279007, -0.23320128486293365, 0.5279917446288505, 0.21220599119305752],
        [-0.8975074456258677, -0.2920472291320055, 0.5380073212193706, 0.23743777952342723]],
        rtol=1e-12, atol=1e-14)


def _ref_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b


def _ref_encoder(layer, x, mask=None, pad=None, act=lambda a: np.maximum(a, 0)):
    def sa(y):
        return _ref_mha(layer.self_attn, y, y, y, pad, mask)[0]

    def ff(y):
        h = act(y @ _np(layer.linear1.weight).T + _np(layer.linear1.bias))
        return h @ _np(layer.linear2.weight).T + _np(layer.linear2.bias)

    n1 = lambda y: _ref_layer_norm(y, _np(layer.norm1.weight), _np(layer.norm1.bias))  # noqa
    n2 = lambda y: _ref_layer_norm(y, _np(layer.norm2.weight), _np(layer.norm2.bias))  # noqa
    if layer.norm_first:
        x = x + sa(n1(x))
        return x + ff(n2(x))
    x = n1(x + sa(x))
    return n2(x + ff(x))


def _gelu(a):
    from math import erf
    return a * 0.5 * (1 + np.vectorize(erf)(a / np.sqrt(2)))


@pytest.mark.parametrize("kw", [{}, {"activation": "gelu", "norm_first": True},
                                {"batch_first": True}])
def test_encoder_layer_matches_numpy(kw):
    layer = TransformerEncoderLayer(6, 3, 10, **kw).double().eval()
    with torch.no_grad():
        layer.norm1.weight.copy_(torch.tensor(RNG.uniform(0.5, 1.5, 6)))
        layer.norm2.bias.copy_(torch.tensor(RNG.standard_normal(6)))
    x = RNG.standard_normal((4, 2, 6))
    mask = RNG.standard_normal((4, 4))
    pad = np.array([[False, False, True, False], [False] * 4])
    act = _gelu if kw.get("activation") == "gelu" else (lambda a: np.maximum(a, 0))
    ref = _ref_encoder(layer, x, mask, pad, act)
    xin = x.swapaxes(0, 1) if kw.get("batch_first") else x
    out = layer(torch.tensor(xin), src_mask=torch.tensor(mask),
                src_key_padding_mask=torch.tensor(pad))
    got = _np(out).swapaxes(0, 1) if kw.get("batch_first") else _np(out)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-10)


def test_encoder_layer_repr_matches_pytorch():
    assert repr(TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True)) == (
        "TransformerEncoderLayer(\n"
        "  (self_attn): MultiheadAttention(\n"
        "    (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, "
        "bias=True)\n"
        "  )\n"
        "  (linear1): Linear(in_features=8, out_features=16, bias=True)\n"
        "  (dropout): Dropout(p=0.1, inplace=False)\n"
        "  (linear2): Linear(in_features=16, out_features=8, bias=True)\n"
        "  (norm1): LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)\n"
        "  (norm2): LayerNorm((8,), eps=1e-05, elementwise_affine=True, bias=True)\n"
        "  (dropout1): Dropout(p=0.1, inplace=False)\n"
        "  (dropout2): Dropout(p=0.1, inplace=False)\n"
        ")")


def test_attention_dropout_train_only():
    torch.manual_seed(0)
    m = MultiheadAttention(4, 2, dropout=0.5).double()
    x = torch.tensor(RNG.standard_normal((3, 2, 4)))
    m.eval()
    a, b = m(x, x, x)[1], m(x, x, x)[1]
    np.testing.assert_allclose(_np(a), _np(b))
    m.train()
    w = _np(m(x, x, x, average_attn_weights=False)[1])
    assert np.any(w == 0) and not np.allclose(w.sum(-1), 1)


def test_attention_and_encoder_gradcheck_float64():
    m = MultiheadAttention(4, 2).double()
    q = torch.tensor(RNG.standard_normal((2, 2, 4)), requires_grad=True)
    k = torch.tensor(RNG.standard_normal((3, 2, 4)), requires_grad=True)
    mask = torch.tensor(np.array([[False, False, True], [False, False, False]]))
    assert gradcheck(lambda q, k: m(q, k, k, key_padding_mask=mask)[0], (q, k))
    layer = TransformerEncoderLayer(4, 2, 6, dropout=0.0).double()
    assert gradcheck(lambda x: layer(x), (q,))
    layer(q).sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_traced_encoder_layer_dynamic_batch_matches_eager():
    layer = TransformerEncoderLayer(8, 2, 16, batch_first=True).eval()
    traced = torch.jit.trace(layer, torch.randn(2, 5, 8), dynamic_dims={0: "B"})
    for batch in (2, 3):
        x = torch.randn(batch, 5, 8)
        np.testing.assert_allclose(_np(traced(x)), _np(layer(x)), rtol=1e-5, atol=1e-6)


def test_multihead_attention_kdim_vdim():
    m = MultiheadAttention(4, 2, kdim=3, vdim=5).double()
    assert [n for n, _ in m.named_parameters()] == ["q_proj_weight", "k_proj_weight",
                                                    "v_proj_weight", "in_proj_bias",
                                                    "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_weight is None and tuple(m.k_proj_weight.shape) == (4, 3)
    q, k, v = (RNG.standard_normal(s) for s in ((3, 2, 4), (6, 2, 3), (6, 2, 5)))
    ref_out, ref_w = _ref_mha(m, q, k, v)
    out, w = m(torch.tensor(q), torch.tensor(k), torch.tensor(v))
    np.testing.assert_allclose(_np(out), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(w), ref_w.mean(1), rtol=1e-10, atol=1e-12)
